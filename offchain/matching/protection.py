"""Circuit breaker: rolling min/max of traded prices over a time window.

Monotonic deques give the window min and max in amortised O(1) per recorded trade.
A trip is decided before trading at a new price, so no fill ever exceeds the move.
"""
from __future__ import annotations

from collections import deque

from .types import BPS, BreakerConfig


class Breaker:
    __slots__ = ("move_bps", "window", "cooldown", "mins", "maxs")

    def __init__(self, config: BreakerConfig) -> None:
        self.move_bps = config.move_bps
        self.window = config.window
        self.cooldown = config.cooldown
        self.mins: deque[tuple[int, int]] = deque()  # (ts, price), prices increasing
        self.maxs: deque[tuple[int, int]] = deque()  # (ts, price), prices decreasing

    def range(self, ts: int) -> tuple[int, int] | None:
        """(min, max) of prices traded in (ts - window, ts], or None."""
        cutoff = ts - self.window
        mins, maxs = self.mins, self.maxs
        while mins and mins[0][0] <= cutoff:
            mins.popleft()
        while maxs and maxs[0][0] <= cutoff:
            maxs.popleft()
        if not mins:
            return None
        return mins[0][1], maxs[0][1]

    def exceeds(self, lo: int, hi: int, price: int) -> bool:
        """Would trading at `price` make the window's move larger than allowed?"""
        if price < lo:
            lo = price
        elif price > hi:
            hi = price
        return (hi - lo) * BPS > self.move_bps * lo

    def would_trip(self, price: int, ts: int) -> bool:
        r = self.range(ts)
        return r is not None and self.exceeds(r[0], r[1], price)

    def record(self, price: int, ts: int) -> None:
        mins, maxs = self.mins, self.maxs
        while mins and mins[-1][1] >= price:
            mins.pop()
        mins.append((ts, price))
        while maxs and maxs[-1][1] <= price:
            maxs.pop()
        maxs.append((ts, price))

    def reset(self) -> None:
        self.mins.clear()
        self.maxs.clear()
