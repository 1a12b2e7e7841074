"""The optional compiled build of the matching core: Cython on the same Python source.

    python scripts/build_matching.py           build (when a source is newer than the build)
    python scripts/build_matching.py --clean   remove the compiled modules

Compiles offchain/matching/{book,engine,protection,triggers}.py with Cython's pure-Python
mode: the .py files are the source, the .pxd files beside them only add declarations
(native classes, typed attributes and locals, Place's layout), and the .py files run
unchanged when interpreted. The extension modules go beside the sources
(offchain/matching/*.so, gitignored), where Python's importer prefers them to the .py
files. Without them, or with MMX_MATCHING=interpreted in the environment, the package runs
the interpreted source (offchain/matching/__init__.py). types.py, events.py and
snapshot.py stay interpreted: the first two define msgspec structs and enums (the API's
values), the third is not on a hot path.

The C files and objects go to .build/cython/; each finished module is moved into place
with a rename, so a process that has the old module loaded keeps a valid mapping.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "offchain" / "matching"
BUILD = ROOT / ".build" / "cython"
# the package's own selector, loaded by path: importing the package would import the
# modules this script is about to replace
_spec = importlib.util.spec_from_file_location("_matching_select", PKG / "_select.py")
select = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(select)
MODULES = select.ACCELERATED
# Type annotations are for mypy and readers; the .pxd files alone give Cython its types
# (with annotation typing, `x: int` would make Cython reject a float argument with a
# TypeError where the engine answers with a Rejected event).
DIRECTIVES = {"language_level": 3, "annotation_typing": False}


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
    from Cython.Build import cythonize
    from setuptools import setup

    BUILD.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    ext = cythonize([f"offchain/matching/{m}.py" for m in MODULES], build_dir=str(BUILD / "c"),
                    compiler_directives=DIRECTIVES, quiet=True, force=True)
    out = BUILD / "lib"
    setup(name="mmx-matching-accel", ext_modules=ext, script_args=[
        "-q", "build_ext", "--build-lib", str(out), "--build-temp", str(BUILD / "tmp"),
        "--parallel", "2"])
    built = {so.name for so in (out / "offchain" / "matching").glob("*.so")}
    for so in (out / "offchain" / "matching").glob("*.so"):
        tmp = PKG / (so.name + ".tmp")
        shutil.copyfile(so, tmp)
        tmp.replace(PKG / so.name)  # atomic: never rewrite a mapped library in place
    for stale in compiled_files():  # e.g. an earlier build's runtime library
        if stale.name not in built:
            stale.unlink()


def main() -> None:
    if "--clean" in sys.argv:
        clean()
    elif not up_to_date():
        build()


if __name__ == "__main__":
    main()
