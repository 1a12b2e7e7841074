"""The two builds of the matching core: which one is loaded, and that the other one passes
this same suite (run in a child process: one process imports one build)."""
import ctypes
import os
import re
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
    for name in _select.ACCELERATED:
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
        os.utime(tmp_path / f"{name}{suffix}", (2_000, 2_000))
    for name in _select.SOURCES:
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1_000, 1_000))
    assert _select.compiled_usable(tmp_path)
    for edited in ("triggers.py", "engine.pxd", "types.pxd"):  # edited after the build
        os.utime(tmp_path / edited, (3_000, 3_000))
        assert not _select.compiled_usable(tmp_path), edited
        os.utime(tmp_path / edited, (1_000, 1_000))
    (tmp_path / f"book{suffix}").unlink()  # a partial build
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
        values = ("id", "account", 100, 10**18, "cmd", None, {})  # level: a Level or None
        order = book.RestingOrder(*values)
        assert [getattr(order, f) for f in fields] == list(values)
        assert not hasattr(order, "__dict__")
    else:
        assert book.RestingOrder is book._StructRestingOrder


def _place_layout_pxd() -> tuple[list[str], list[str]]:
    """types.pxd's C struct for Place: its pointer fields in order, and the attributes the
    Cython class declares."""
    text = (_select.HERE / "types.pxd").read_text()
    struct = text[text.index("PyObject_HEAD") + len("PyObject_HEAD"):text.index("} mmx_place_layout")]
    c_fields = re.findall(r"\*(\w+)", struct)
    body = text[text.index("ctypedef class"):]
    declared = [n.strip() for line in re.findall(r"cdef object (.*)", body) for n in line.split(",")]
    return c_fields, declared


def test_place_layout__declared_for_cython__matches_a_real_place():
    """The compiled build reads a Place's fields as C struct members at the offsets that
    types.pxd declares: each declared field must sit exactly there in a real Place (CPython
    stores a class's slots in sorted name order after the object header; a new or renamed
    field must be declared there too)."""
    from offchain.matching import Place

    c_fields, declared = _place_layout_pxd()
    assert c_fields == declared == sorted(Place.__struct_fields__)
    assert Place.__basicsize__ == object.__basicsize__ + 8 * len(c_fields)
    values = [object() for _ in Place.__struct_fields__]
    cmd = Place(*values)
    by_name = dict(zip(Place.__struct_fields__, values))
    for i, name in enumerate(c_fields):
        at = ctypes.c_void_p.from_address(id(cmd) + object.__basicsize__ + 8 * i).value
        assert at == id(by_name[name]), name


def test_place__not_a_place__rejected_without_raising():
    """Only a Place reaches the code that reads it as a C struct; anything else (another
    msgspec struct, None, a look-alike with the same attributes) is rejected."""
    from offchain.matching import Accepted, Place, Reason, Rejected

    from .helpers import engine as new_engine

    class LookAlike:
        id, account, market, is_buy, size, price, ts = "x", "a", 1, True, 10**18, 100, 0

    e = new_engine()
    for cmd in (None, Accepted("x", 1, "a", True, 100, 10**18, 0), LookAlike(), ("x", 1)):
        out = e.place(cmd)
        assert [type(x) for x in out] == [Rejected] and out[0].reason == Reason.INVALID_ORDER
    assert e.get_order("x") is None
    assert isinstance(Place, type)


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
