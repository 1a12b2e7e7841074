"""The two builds of the matching core: which one is loaded, and that the other one passes
this same suite (run in a child process: one process imports one build)."""
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import offchain.matching as matching
from offchain.matching import _select, engine

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


def _forced_interpreted() -> bool:
    return os.environ.get(_select.ENV) == "interpreted"


def test_implementation__loaded_build__is_the_usable_one():
    want = "compiled" if _select.compiled_usable() and not _forced_interpreted() else "interpreted"
    assert matching.IMPLEMENTATION == want
    for name in _select.ACCELERATED:
        module = sys.modules[f"offchain.matching.{name}"]
        assert module.__file__.endswith(".py") == (want == "interpreted"), module.__file__


def test_implementation__make_ran_with_a_compiler__compiled_build_usable():
    """`make` (test, run, bench) builds the compiled modules when a C compiler exists."""
    if not (ROOT / ".build" / ".matching-accel").exists():
        pytest.skip("make has not built this tree")
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: make leaves the interpreted build")
    assert _select.compiled_usable()


def test_implementation__env_interpreted__sources_loaded():
    out = subprocess.run(
        [sys.executable, "-c", "import offchain.matching as m, offchain.matching.engine as e;"
                               "print(m.IMPLEMENTATION, e.__file__)"],
        env={**os.environ, _select.ENV: "interpreted"}, capture_output=True, text=True, check=True)
    implementation, path = out.stdout.split()
    assert implementation == "interpreted" and path == str(_select.HERE / "engine.py")


def test_implementation__source_newer_than_build__sources_loaded(tmp_path):
    """A source edited after the build is never shadowed by the stale compiled module; a
    missing module also means the sources (checked on a copy of the package's files)."""
    suffix = EXTENSION_SUFFIXES[0]
    for name in (*_select.ACCELERATED, _select.SHARED_LIB):
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
        os.utime(tmp_path / f"{name}{suffix}", (2_000, 2_000))
    for name in _select.ACCELERATED:
        (tmp_path / f"{name}.py").write_text("")
        os.utime(tmp_path / f"{name}.py", (1_000, 1_000))
    assert _select.compiled_usable(tmp_path)
    os.utime(tmp_path / "triggers.py", (3_000, 3_000))   # edited after the build
    assert not _select.compiled_usable(tmp_path)
    os.utime(tmp_path / "triggers.py", (1_000, 1_000))
    (tmp_path / f"{_select.SHARED_LIB}{suffix}").unlink()  # a partial build
    assert not _select.compiled_usable(tmp_path)


def test_matching_suite__other_build__passes():
    """This directory's tests, run again against the interpreted build, when this process
    runs the compiled one (with no compiled build there is only one build to test)."""
    if matching.IMPLEMENTATION != "compiled":
        pytest.skip("this process runs the interpreted build; there is no other here")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         str(HERE), "--deselect", f"{HERE / 'test_build.py'}::test_matching_suite__other_build__passes"],
        env={**os.environ, _select.ENV: "interpreted"}, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and engine.__file__.endswith(".so")


def test_resting_order__both_builds__same_fields():
    """The interpreted build's resting order (a msgspec struct) and the compiled build's
    (a native class) carry the same fields in the same order (snapshot.py builds either
    positionally)."""
    from offchain.matching import book

    fields = ("id", "account", "price", "size", "cmd", "level", "owner")
    assert book._StructRestingOrder.__struct_fields__ == fields
    if matching.IMPLEMENTATION == "compiled":
        assert book.RestingOrder.__mypyc_attrs__ == fields
    else:
        assert book.RestingOrder is book._StructRestingOrder


def test_place_fields__unpacked_by_position__match_the_place_struct():
    """place() and _place_market unpack msgspec.structs.astuple(cmd) by position; the names
    they use are Place's fields in declaration order."""
    from offchain.matching import Place

    assert engine.PLACE_FIELDS == Place.__struct_fields__


def test_level_queue__keeper_reinstates_at_front__deque_operations_work():
    """The keeper puts a reinstated order back at the front of its level
    (offchain/keeper/core.py: `level.orders.remove(o); level.orders.appendleft(o)`): the
    queue must stay a deque in both builds, and the matcher must take that order first."""
    from offchain.matching import Fill

    from .helpers import buy, engine as new_engine, sell

    e = new_engine()
    e.place(sell("a", 1000))
    e.place(sell("b", 1000))
    b = e._orders["b"]
    b.level.orders.remove(b)
    b.level.orders.appendleft(b)
    fills = [x for x in e.place(buy("t", 1000)) if type(x) is Fill]
    assert [f.maker_id for f in fills] == ["b"]
