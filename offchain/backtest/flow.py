"""Synthetic order flow: noise traders (passive and crossing) and informed traders.

Drawn up front from a seeded numpy Generator as columns (one row per event), so a day of
a million events costs a few numpy calls, and the same seed gives the same flow. What an
event does depends on the book when it arrives (the simulator decides the price):
- NOISE_MAKER: a post-only limit `offset` ticks behind the touch on its side, good for
  `passive_ttl_s` (the `make run` traders rest 1-30 ticks behind the touch);
- NOISE_TAKER: an IOC order at the opposite touch (plus `taker_slippage_ticks`);
- INFORMED: sees the mark `horizon_s` ahead and buys (sells) with an IOC limit of that
  future price less (plus) `edge_bps` when the touch is cheaper (dearer) than that;
  otherwise it does nothing. Edge 0 with a long horizon is the most toxic flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    NOISE_MAKER = 0
    NOISE_TAKER = 1
    INFORMED = 2


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Rates are per second of the path; shares are bps of all events."""

    events_per_s: float = 10.0
    informed_bps: int = 500  # 5% of events are informed
    taker_bps: int = 3_000  # of the noise events, 30% cross the spread (as `make run`'s traders)
    horizon_s: int = 10
    edge_bps: int = 2
    max_lots: int = 20  # sizes: 1..max_lots lots (times the market's min size in lots)
    max_offset_ticks: int = 30
    passive_ttl_s: int = 120
    taker_slippage_ticks: int = 0
    traders: int = 8  # accounts the events are spread over (self-trade prevention applies per account)
    book_lag_marks: int = 0  # noise makers price off the touch as it was this many marks ago (0 = live)
    seed: int = 2

    def __post_init__(self) -> None:
        if self.events_per_s < 0 or not 0 <= self.informed_bps <= 10_000 or not 0 <= self.taker_bps <= 10_000:
            raise ValueError("events_per_s >= 0 and shares within 0..10_000 bps")
        if self.max_lots < 1 or self.max_offset_ticks < 1 or self.traders < 1 or self.horizon_s < 0:
            raise ValueError("max_lots, max_offset_ticks and traders must be >= 1, horizon_s >= 0")


@dataclass(frozen=True, slots=True)
class Flow:
    """Columns of equal length, sorted by ts (ms)."""

    ts: np.ndarray  # int64
    kind: np.ndarray  # int8 (Kind)
    is_buy: np.ndarray  # bool (ignored for INFORMED: the future price decides)
    lots: np.ndarray  # int64, >= 1
    offset: np.ndarray  # int64 ticks, >= 1
    trader: np.ndarray  # int64 account index

    def __len__(self) -> int:
        return len(self.ts)


def generate_flow(cfg: FlowConfig, start_ts: int, end_ts: int) -> Flow:
    """`round(events_per_s x span)` events at uniform times in [start_ts, end_ts)."""
    span_ms = max(0, end_ts - start_ts)
    n = int(round(cfg.events_per_s * span_ms / 1000))
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    ts = np.sort(rng.integers(start_ts, max(start_ts + 1, end_ts), n, dtype=np.int64))
    u = rng.integers(0, 10_000, n)
    v = rng.integers(0, 10_000, n)
    kind = np.where(u < cfg.informed_bps, Kind.INFORMED,
                    np.where(v < cfg.taker_bps, Kind.NOISE_TAKER, Kind.NOISE_MAKER)).astype(np.int8)
    return Flow(ts, kind, rng.integers(0, 2, n).astype(bool), rng.integers(1, cfg.max_lots + 1, n),
                rng.integers(1, cfg.max_offset_ticks + 1, n), rng.integers(0, cfg.traders, n))


__all__ = ["Flow", "FlowConfig", "Kind", "generate_flow"]
