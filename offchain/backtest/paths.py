"""Price paths for a backtest: integer marks on a fixed time grid.

`gbm_path` draws geometric Brownian motion with Poisson jumps (Merton) from a seeded
numpy Generator, so the same seed gives the same path on every machine; `csv_path` reads
a recorded one. Prices are USDC units per whole base unit, rounded to the market's tick.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

USDC = 10**6
YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PricePath:
    """Marks of one market: ts in ms (increasing), prices in USDC units (on the tick)."""

    ts: tuple[int, ...]
    prices: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.ts) != len(self.prices) or not self.ts:
            raise ValueError("a path needs as many timestamps as prices, at least one")
        if any(b <= a for a, b in zip(self.ts, self.ts[1:])):
            raise ValueError("path timestamps must increase")
        if min(self.prices) <= 0:
            raise ValueError("path prices must be positive")

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, slots=True)
class GbmConfig:
    """Annualised volatility and drift in bps (8_000 = 80% a year); jumps arrive as a
    Poisson process (`jumps_per_day`) with normal log-sizes of std `jump_bps`."""

    seconds: int = 3_600
    step_ms: int = 1_000
    start_price: int = 2_000 * USDC
    vol_bps: int = 8_000
    drift_bps: int = 0
    jumps_per_day: float = 4.0
    jump_bps: int = 100
    seed: int = 1
    start_ts: int = 1_767_225_600_000  # 2026-01-01 UTC: charts read as dates, not 1970

    def __post_init__(self) -> None:
        if self.seconds <= 0 or self.step_ms <= 0 or self.start_price <= 0 or self.vol_bps < 0:
            raise ValueError("need seconds, step_ms and start_price > 0 and vol_bps >= 0")


def gbm_path(cfg: GbmConfig, tick: int) -> PricePath:
    n = cfg.seconds * 1000 // cfg.step_ms + 1
    rng = np.random.Generator(np.random.PCG64(cfg.seed))
    dt = cfg.step_ms / 1000 / YEAR_S
    sigma, mu = cfg.vol_bps / 10_000, cfg.drift_bps / 10_000
    steps = (mu - sigma * sigma / 2) * dt + sigma * math.sqrt(dt) * rng.standard_normal(n - 1)
    lam = cfg.jumps_per_day * cfg.step_ms / 1000 / 86_400
    jumps = rng.poisson(lam, n - 1) * rng.standard_normal(n - 1) * (cfg.jump_bps / 10_000)
    log_path = np.concatenate([[0.0], np.cumsum(steps + jumps)])
    raw = cfg.start_price * np.exp(log_path)
    prices = np.maximum(np.rint(raw / tick).astype(np.int64), 1) * tick
    ts = cfg.start_ts + np.arange(n, dtype=np.int64) * cfg.step_ms
    return PricePath(tuple(int(t) for t in ts), tuple(int(p) for p in prices))


def csv_path(path: str | Path, tick: int) -> PricePath:
    """A CSV with a header `ts,price`: ts in ms (or seconds, if every ts < 1e11), price as
    a decimal USDC amount ("2000.15") or integer units with `price_units` as the header."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no rows")
    ts = [int(Decimal(r["ts"])) for r in rows]
    if max(ts) < 10**11:
        ts = [t * 1000 for t in ts]
    if "price_units" in rows[0]:
        units = [int(r["price_units"]) for r in rows]
    else:
        units = [int(Decimal(r["price"]) * USDC) for r in rows]
    return PricePath(tuple(ts), tuple(max(1, (p + tick // 2) // tick) * tick for p in units))


__all__ = ["GbmConfig", "PricePath", "csv_path", "gbm_path"]
