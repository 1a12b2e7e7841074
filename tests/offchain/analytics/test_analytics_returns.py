"""Return statistics against hand-computed values."""

import math

import pandas as pd

from offchain.analytics import NavPoint, analyze, return_stats
from offchain.analytics.metrics import bar_returns

H = 3_600_000


def _hourly(values):
    index = pd.date_range("2026-01-01", periods=len(values), freq="1h", tz="UTC")
    return pd.Series(values, index=index, dtype=float)


def test_analytics__returns__sharpe_sortino_drawdown_hand_computed():
    stats = return_stats(_hourly([100.0, 110.0, 99.0, 108.9]), min_periods=3)  # returns +10%, -10%, +10%
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
    stats = return_stats(_hourly([100.0, 101.0, 103.0]), min_periods=2)
    assert stats.sortino is None and stats.max_drawdown == 0.0 and stats.sharpe is not None


def test_analytics__returns__daily_bar_annualised_by_365():
    index = pd.date_range("2026-01-01", periods=4, freq="1D", tz="UTC")
    daily = return_stats(pd.Series([100.0, 110.0, 99.0, 108.9], index=index), bar="1D", min_periods=3)
    hourly = return_stats(_hourly([100.0, 110.0, 99.0, 108.9]), min_periods=3)
    assert math.isclose(daily.sharpe * math.sqrt(24), hourly.sharpe, rel_tol=1e-9)


def test_analytics__vault_nav__returns_ignore_deposits():
    # Assets double through a deposit while the share price is flat, then it gains 5%.
    nav = [NavPoint(0, 1_000, 1_000), NavPoint(H, 2_000, 2_000), NavPoint(2 * H, 2_100, 2_000)]
    r = analyze([], nav=nav, kind="vault")
    assert math.isclose(r.stats.total_return, 0.05, rel_tol=1e-12)
    assert r.stats.max_drawdown == 0.0


def test_analytics__returns__too_few_periods__ratios_na():
    stats = return_stats(_hourly([100.0, 110.0, 99.0, 108.9]))  # 3 returns < MIN_PERIODS
    assert stats.periods == 3 and not stats.enough
    assert stats.sharpe is None and stats.sortino is None and stats.apr is None and stats.sharpe_per_bar is None
    assert math.isclose(stats.total_return, 0.089, rel_tol=1e-9)  # still exact: not a ratio


def test_analytics__returns__one_second_grid__annualised_by_seconds_per_year():
    # 40 one-second bars alternating +2 bp / -1 bp: hand-computed mean and std.
    values = [1.0]
    for i in range(40):
        values.append(values[-1] * (1.0002 if i % 2 == 0 else 0.9999))
    index = pd.date_range("2026-01-01", periods=len(values), freq="1s", tz="UTC")
    stats = return_stats(pd.Series(values, index=index), bar="1s")
    r = [0.0002, -0.0001] * 20
    mean = sum(r) / 40
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / 39)
    downside = math.sqrt(20 * 0.0001 ** 2 / 40)
    per_year = 365 * 24 * 3600
    assert stats.periods == 40 and stats.enough
    assert math.isclose(stats.sharpe_per_bar, mean / std, rel_tol=1e-9)
    assert math.isclose(stats.sharpe, mean / std * math.sqrt(per_year), rel_tol=1e-9)
    assert math.isclose(stats.sortino, mean / downside * math.sqrt(per_year), rel_tol=1e-9)
    assert math.isclose(stats.annualisation, math.sqrt(per_year), rel_tol=1e-12)
    assert math.isclose(stats.apr, stats.total_return * per_year / 40, rel_tol=1e-9)


def test_analytics__returns__sampled_on_the_grid_not_per_event():
    # Many values inside one bar count once: the bar's last value (bars are closed on the
    # right: a value at exactly 1 s ends the first bar).
    index = pd.to_datetime([0, 300, 600, 1000, 1500, 2000], unit="ms", utc=True)
    returns = bar_returns(pd.Series([100.0, 150.0, 90.0, 101.0, 50.0, 102.01], index=index), "1s")
    assert [round(x, 12) for x in returns] == [0.01, 0.01]
