"""Return statistics against hand-computed values."""

import math

import pandas as pd

from offchain.analytics import NavPoint, analyze, return_stats

H = 3_600_000


def _hourly(values):
    index = pd.date_range("2026-01-01", periods=len(values), freq="1h", tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def test_analytics__returns__sharpe_sortino_drawdown_hand_computed():
    stats = return_stats(_hourly([100.0, 110.0, 99.0, 108.9]))  # returns +10%, -10%, +10%
    year = math.sqrt(365 * 24)
    mean = 0.1 / 3
    std = math.sqrt(((0.1 - mean) ** 2 * 2 + (-0.1 - mean) ** 2) / 2)  # ddof = 1
    downside = math.sqrt(0.01 / 3)  # only -10% counts, averaged over all 3
    assert stats.periods == 3
    assert math.isclose(stats.sharpe, mean / std * year, rel_tol=1e-9)
    assert math.isclose(stats.sortino, mean / downside * year, rel_tol=1e-9)
    assert math.isclose(stats.max_drawdown, 0.1, rel_tol=1e-9)
    assert math.isclose(stats.total_return, 0.089, rel_tol=1e-9)


def test_analytics__returns__no_losses__sortino_undefined():
    stats = return_stats(_hourly([100.0, 101.0, 103.0]))
    assert stats.sortino is None and stats.max_drawdown == 0.0 and stats.sharpe is not None


def test_analytics__returns__daily_bar_annualised_by_365():
    index = pd.date_range("2026-01-01", periods=4, freq="1D", tz="UTC")
    daily = return_stats(pd.Series([100.0, 110.0, 99.0, 108.9], index=index), bar="1D")
    hourly = return_stats(_hourly([100.0, 110.0, 99.0, 108.9]))
    assert math.isclose(daily.sharpe * math.sqrt(24), hourly.sharpe, rel_tol=1e-9)


def test_analytics__vault_nav__returns_ignore_deposits():
    # Assets double through a deposit while the share price is flat, then it gains 5%.
    nav = [NavPoint(0, 1_000, 1_000), NavPoint(H, 2_000, 2_000), NavPoint(2 * H, 2_100, 2_000)]
    r = analyze([], nav=nav, kind="vault")
    assert math.isclose(r.stats.total_return, 0.05, rel_tol=1e-12)
    assert r.stats.max_drawdown == 0.0
