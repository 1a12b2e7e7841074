"""Performance of an account, vault or pool from its settled fills and chain state.

Money is integer USDC units up to the report; floats appear only in ratios (returns,
Sharpe, Sortino, drawdown, win rate) and are computed with pandas/numpy.

Conventions (what a reader of the numbers needs to know):
- gross PnL = realised + unrealised (at the last mark); net PnL = gross - fees + rebates.
- equity = initial_equity + net PnL over time (an account's own view); a vault or pool
  with NAV points uses the share price instead, which deposits/withdrawals do not move.
- returns: the value series is sampled at the end of each `bar` (pandas offset, default
  1h, forward-filled), simple returns per bar. Sharpe = mean / std (ddof=1), Sortino =
  mean / downside deviation (root mean square of the negative returns, target 0), both
  annualised by sqrt(bars per 365 days), risk-free rate 0. None when undefined.
- max drawdown: largest fall from a running peak of the full-resolution value series.
- win rate: share of round trips (closing fills, see ledger.py) with a gross PnL > 0.
- pool against holding: the pool's value (initial value x share-price growth) against
  keeping the initial value with `hold_base_bps` of it in the hold market's base at the
  first mark (0 = holding USDC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from offchain.analytics.ledger import Ledger
from offchain.analytics.records import MarkPoint, NavPoint, SettledFill

_YEAR = pd.Timedelta(days=365)


MIN_PERIODS = 30  # fewer bar returns than this: Sharpe, Sortino and APR are "n/a"


@dataclass(frozen=True, slots=True)
class ReturnStats:
    total_return: float  # a fraction over the whole span: 0.0001 = 1 bp
    sharpe: float | None  # annualised; None when undefined or fewer than min_periods returns
    sortino: float | None
    max_drawdown: float  # a fraction: 0.1 = 10% below the peak
    periods: int  # number of bar returns
    bar: str = "1h"  # the sampling grid the returns are taken on
    min_periods: int = MIN_PERIODS
    sharpe_per_bar: float | None = None  # not annualised (mean / std of one bar's return)
    apr: float | None = None  # simple annualised return: total_return x (year / span)
    span_s: float = 0.0  # seconds from the first to the last value

    @property
    def annualisation(self) -> float:
        """The factor Sharpe and Sortino are multiplied by: sqrt(bars per 365 days)."""
        return math.sqrt(periods_per_year(self.bar))

    @property
    def enough(self) -> bool:
        return self.periods >= self.min_periods


def periods_per_year(bar: str) -> float:
    """Bars in 365 days for a pandas offset ("1s", "1min", "1h", "1D")."""
    return _YEAR / pd.Timedelta(bar)


def bar_returns(values: pd.Series, bar: str) -> pd.Series:
    """Simple returns of `values` sampled at the end of each `bar` (forward-filled)."""
    values = values.astype(float).dropna()
    if values.empty:
        return pd.Series(dtype=float)
    sampled = values.resample(bar, label="right", closed="right").last().ffill()
    returns = sampled.pct_change().dropna()
    return returns[np.isfinite(returns)]


def sharpe_ratio(returns: np.ndarray | pd.Series, periods: float = 1.0) -> float | None:
    """empyrical.sharpe_ratio with risk-free 0: mean / std (ddof=1) x sqrt(periods)."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return None
    std = float(np.std(r, ddof=1))
    if not std > 0:
        return None
    return float(np.mean(r)) / std * math.sqrt(periods)


def sortino_ratio(returns: np.ndarray | pd.Series, periods: float = 1.0) -> float | None:
    """empyrical.sortino_ratio with target 0: mean / sqrt(mean(min(r, 0)^2)) x sqrt(periods)."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    if not downside > 0:
        return None
    return float(np.mean(r)) / downside * math.sqrt(periods)


def max_drawdown(values: pd.Series | np.ndarray) -> float:
    """Largest fall from a running peak, as a positive fraction (0 when never below a peak)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 0.0
    peak = np.maximum.accumulate(v)
    if not (peak > 0).all():
        return 0.0
    return float(np.max(1.0 - v / peak))


def return_stats(values: pd.Series, bar: str = "1h", min_periods: int = MIN_PERIODS) -> ReturnStats:
    """Stats of a value series (equity or share price) indexed by timestamps.

    Ratios need at least `min_periods` bar returns: from fewer, an annualised figure says
    more about the annualisation factor than about the strategy, so it is None ("n/a")."""
    values = values.astype(float).dropna()
    if values.empty:
        return ReturnStats(0.0, None, None, 0.0, 0, bar, min_periods)
    total = float(values.iloc[-1] / values.iloc[0] - 1.0) if values.iloc[0] else 0.0
    returns = bar_returns(values, bar)
    per_year = periods_per_year(bar)
    span = (values.index[-1] - values.index[0]).total_seconds() if len(values) > 1 else 0.0
    enough = len(returns) >= max(min_periods, 2)
    sharpe = sharpe_ratio(returns, per_year) if enough else None
    sortino = sortino_ratio(returns, per_year) if enough else None
    per_bar = sharpe_ratio(returns) if enough else None
    apr = total * (_YEAR.total_seconds() / span) if enough and span > 0 else None
    return ReturnStats(total, sharpe, sortino, max_drawdown(values), len(returns), bar, min_periods, per_bar, apr,
                       span)


@dataclass(frozen=True, slots=True, eq=False)
class PerformanceReport:
    entity: str
    kind: str  # "account" | "vault" | "pool"
    start_ts: int | None
    end_ts: int | None
    maker_volume: int
    taker_volume: int
    fees_paid: int
    rebates_earned: int
    realised_pnl: int
    unrealised_pnl: int
    gross_pnl: int
    net_pnl: int
    positions: dict[int, int]
    round_trips: int
    win_rate: float | None
    stats: ReturnStats
    hold_return: float | None
    excess_return_vs_hold: float | None
    # index: UTC timestamps; columns: equity, value (what returns are taken of),
    # drawdown, inventory_<market>... and hold (pools)
    series: pd.DataFrame


def analyze(
    fills: Iterable[SettledFill],
    marks: Iterable[MarkPoint] = (),
    *,
    entity: str = "",
    kind: str = "account",
    initial_equity: int = 0,
    nav: Sequence[NavPoint] = (),
    bar: str = "1h",
    hold_market: int | None = None,
    hold_base_bps: int = 0,
    min_periods: int = MIN_PERIODS,
) -> PerformanceReport:
    fills = sorted(fills, key=lambda f: f.ts)
    marks = sorted(marks, key=lambda m: m.ts)
    ledger = Ledger()
    last_mark: dict[int, int] = {}
    rows: list[dict[str, int]] = []
    markets = sorted({f.market for f in fills})

    # Walk fills and marks in time order; one row per timestamp with something new.
    events = [(f.ts, 1, f) for f in fills] + [(m.ts, 0, m) for m in marks]
    events.sort(key=lambda e: (e[0], e[1]))  # at one ts, marks before fills
    for i, (ts, _, event) in enumerate(events):
        if isinstance(event, SettledFill):
            ledger.apply(event)
            last_mark.setdefault(event.market, event.price)  # no mark yet: value at the fill
        else:
            last_mark[event.market] = event.price
        if i + 1 < len(events) and events[i + 1][0] == ts:
            continue
        net = ledger.realised + ledger.unrealised(last_mark) - ledger.fees + ledger.rebates
        row = {"ts": ts, "equity": initial_equity + net}
        for m in markets:
            book = ledger.books.get(m)
            row[f"inventory_{m}"] = book.position if book else 0
        rows.append(row)

    series = pd.DataFrame(rows)
    if not series.empty:
        series.index = pd.to_datetime(series.pop("ts"), unit="ms", utc=True)
    if nav:
        share = pd.Series({pd.Timestamp(p.ts, unit="ms", tz="UTC"): p.total_assets / p.total_supply
                           for p in nav if p.total_supply > 0}, dtype=float).sort_index()
        series = series.join(share.rename("value"), how="outer")
        series["value"] = series["value"].ffill()
        series = series.ffill()
        value = series["value"].dropna()
    else:
        series["value"] = series["equity"] if not series.empty else pd.Series(dtype=float)
        value = series["value"] if not series.empty else pd.Series(dtype=float)
    if not series.empty:
        peak = series["value"].cummax()
        series["drawdown"] = (1.0 - series["value"] / peak).where(peak > 0, 0.0)

    stats = return_stats(value, bar, min_periods)
    hold_return = excess = None
    if hold_market is not None or kind == "pool":
        hold_return = _hold_return(series, marks, hold_market, hold_base_bps)
        if hold_return is not None:
            excess = stats.total_return - hold_return

    unrealised = ledger.unrealised(last_mark)
    gross = ledger.realised + unrealised
    trips = ledger.round_trips
    return PerformanceReport(
        entity=entity, kind=kind,
        start_ts=events[0][0] if events else None, end_ts=events[-1][0] if events else None,
        maker_volume=ledger.maker_volume, taker_volume=ledger.taker_volume,
        fees_paid=ledger.fees, rebates_earned=ledger.rebates,
        realised_pnl=ledger.realised, unrealised_pnl=unrealised, gross_pnl=gross,
        net_pnl=gross - ledger.fees + ledger.rebates,
        positions={m: b.position for m, b in sorted(ledger.books.items())},
        round_trips=len(trips), win_rate=(sum(p > 0 for p in trips) / len(trips)) if trips else None,
        stats=stats, hold_return=hold_return, excess_return_vs_hold=excess, series=series,
    )


def _hold_return(series: pd.DataFrame, marks: list[MarkPoint], market: int | None, base_bps: int) -> float | None:
    """Return of holding the starting value (base_bps of it in `market` at the first mark)
    over the same span; adds a `hold` column (same scale as `value`) to the series."""
    if series.empty or "value" not in series or series["value"].dropna().empty:
        return None
    start_value = float(series["value"].dropna().iloc[0])
    if not base_bps or market is None:
        series["hold"] = start_value
        return 0.0
    prices = pd.Series({pd.Timestamp(m.ts, unit="ms", tz="UTC"): m.price for m in marks if m.market == market},
                       dtype=float)
    if prices.empty:
        return None
    prices = prices[~prices.index.duplicated(keep="last")].sort_index()
    aligned = prices.reindex(series.index.union(prices.index)).ffill().reindex(series.index).bfill()
    first = float(prices.iloc[0])
    base_share = base_bps / 10_000
    series["hold"] = start_value * ((1 - base_share) + base_share * aligned / first)
    end_price = float(aligned.iloc[-1])
    return base_share * (end_price / first - 1.0)


__all__ = ["MIN_PERIODS", "PerformanceReport", "ReturnStats", "analyze", "bar_returns", "max_drawdown",
           "periods_per_year", "return_stats", "sharpe_ratio", "sortino_ratio"]
