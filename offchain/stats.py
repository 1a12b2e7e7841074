"""Nearest-rank percentiles for the figures the benches, the main job and the keeper's
print (latencies, gas, blocks): the value at index int(q * n) of the sorted values, so a
p99 is always a value that was measured, never an interpolation between two."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T", int, float)


def percentile(values: Iterable[T], q: float, empty: T = 0) -> T:
    """sorted(values)[min(n - 1, int(q * n))]; `empty` when there are none."""
    ordered = sorted(values)
    if not ordered:
        return empty
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
