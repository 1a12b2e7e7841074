"""Which build of the matching core this process imports: compiled (mypyc) or interpreted.

Python's importer prefers an extension module (engine.cpython-311-*.so) to engine.py in
the same folder, so the compiled build needs nothing to be chosen. This module only has
to refuse it when it must not run: MMX_MATCHING=interpreted, a module missing, or a
source edited after the build (a stale build would silently run old code). Refusing
means a finder ahead of the default one that loads these modules from their .py files.
Kept free of the package's other modules: scripts/build_matching.py loads it by path.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path

ACCELERATED = ("book", "engine", "protection", "triggers")  # compiled together, one group
SHARED_LIB = "accel__mypyc"  # the group's runtime library, a module of this package
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
    """Every compiled module (and the group library) present and newer than its source."""
    lib = _built(SHARED_LIB, here)
    if lib is None:
        return False
    oldest = lib.stat().st_mtime
    for name in ACCELERATED:
        so = _built(name, here)
        if so is None:
            return False
        oldest = min(oldest, so.stat().st_mtime)
    return all((here / f"{name}.py").stat().st_mtime <= oldest for name in ACCELERATED)


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
