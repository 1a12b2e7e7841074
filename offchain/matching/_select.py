"""Which build of the matching core this process imports: compiled (Cython) or interpreted.

Python's importer prefers an extension module (engine.cpython-311-*.so) to engine.py in
the same folder, so the compiled build needs nothing to be chosen. This module only has
to refuse it when it must not run: MMX_MATCHING=interpreted, a module missing, or a
source or declaration (.py, .pxd) edited after the build (a stale build would silently
run old code). Refusing
means a finder ahead of the default one that loads these modules from their .py files.
Kept free of the package's other modules: scripts/build_matching.py loads it by path.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path

ACCELERATED = ("book", "engine", "protection", "triggers")  # compiled modules
# every file the build reads: the sources and the .pxd declarations (types.pxd: Place's
# layout, which engine.pxd cimports; types.py itself stays interpreted)
SOURCES = tuple(f"{name}.py" for name in ACCELERATED) + tuple(
    f"{name}.pxd" for name in ("book", "engine", "protection", "types"))
PACKAGE = "offchain.matching"
HERE = Path(__file__).resolve().parent
ENV = "MMX_MATCHING"  # "interpreted" forces the sources


def _built(name: str, here: Path = HERE) -> Path | None:
    for suffix in EXTENSION_SUFFIXES:
        p = here / f"{name}{suffix}"
        if p.exists():
            return p
    return None


def compiled_usable(here: Path = HERE) -> bool:
    """Every compiled module present and newer than every source file it was built from."""
    built = [_built(name, here) for name in ACCELERATED]
    if any(so is None for so in built):
        return False
    oldest = min(so.stat().st_mtime for so in built if so is not None)
    return all((here / name).stat().st_mtime <= oldest for name in SOURCES)


class _SourcesOnly:
    """Meta-path finder: this package's accelerated modules from their .py files."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != PACKAGE or name not in ACCELERATED:
            return None
        return importlib.util.spec_from_file_location(fullname, HERE / f"{name}.py")


def choose() -> str:
    """Decide before the first import of an accelerated module; returns the build used."""
    if os.environ.get(ENV) != "interpreted" and compiled_usable():
        return "compiled"
    if not any(f is _SourcesOnly for f in sys.meta_path):
        sys.meta_path.insert(0, _SourcesOnly)
    return "interpreted"
