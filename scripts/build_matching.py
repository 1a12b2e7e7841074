"""The optional compiled build of the matching core: mypyc on the same Python source.

    python scripts/build_matching.py           build (when the sources are newer)
    python scripts/build_matching.py --clean   remove the compiled modules

Compiles offchain/matching/{book,engine,protection,triggers}.py into extension modules
placed beside the sources (offchain/matching/*.so, gitignored), where Python's importer
prefers them to the .py files. Without them, or with MMX_MATCHING=interpreted in the
environment, the package runs the interpreted source (offchain/matching/__init__.py).
types.py, events.py and snapshot.py stay interpreted: the first two define msgspec structs
and enums (the API's values), the third is not on a hot path.

The build runs in .build/mypyc/ and moves each finished module into place with a rename,
so a process that has the old module loaded keeps a valid mapping.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "offchain" / "matching"
BUILD = ROOT / ".build" / "mypyc"
# the package's own selector, loaded by path: importing the package would import the
# modules this script is about to replace
_spec = importlib.util.spec_from_file_location("_matching_select", PKG / "_select.py")
select = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(select)
MODULES = select.ACCELERATED
GROUP = f"{select.PACKAGE}.{select.SHARED_LIB.removesuffix('__mypyc')}"  # mypyc adds the suffix


def compiled_files() -> list[Path]:
    return sorted(PKG.glob("*.so"))


def up_to_date() -> bool:
    built = compiled_files()
    return select.compiled_usable() and all(
        p.stat().st_mtime >= Path(__file__).stat().st_mtime for p in built)


def clean() -> None:
    for p in compiled_files():
        p.unlink()


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    BUILD.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    ext = mypycify([f"offchain/matching/{m}.py" for m in MODULES], opt_level="3",
                   group_name=GROUP, target_dir=str(BUILD / "c"))
    out = BUILD / "lib"
    setup(name="mmx-matching-accel", ext_modules=ext, script_args=[
        "-q", "build_ext", "--build-lib", str(out), "--build-temp", str(BUILD / "tmp")])
    for so in (out / "offchain" / "matching").glob("*.so"):
        tmp = PKG / (so.name + ".tmp")
        shutil.copyfile(so, tmp)
        tmp.replace(PKG / so.name)  # atomic: never rewrite a mapped library in place


def main() -> None:
    if "--clean" in sys.argv:
        clean()
    elif not up_to_date():
        build()


if __name__ == "__main__":
    main()
