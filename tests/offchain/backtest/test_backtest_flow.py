"""Flow options: a stale book read (book_lag_marks) lets noise makers rest inside the
pool's grid, the pattern seen in the devnet's BTC-PERP under load (docs/backtest.md)."""

import numpy as np

from offchain.backtest import (BacktestConfig, FlowConfig, GbmConfig, Kind, MarketSpec, PoolGrid, gbm_path,
                               generate_flow, run_backtest)
from offchain.backtest.report import figures

BTC = MarketSpec(2, 100_000, 10**14, 10**14, 500)
PATH = gbm_path(GbmConfig(seconds=600, seed=1, start_price=60_000 * 10**6, vol_bps=50_000, jumps_per_day=0), BTC.tick)


def _figures(lag: int):
    cfg = BacktestConfig(market=BTC, pool=PoolGrid(10, 10, 5 * 10**15), vault=None,
                         flow=FlowConfig(book_lag_marks=lag, passive_ttl_s=600))
    return figures(run_backtest(cfg, PATH))


def test_flow__stale_book__noise_makers_take_the_top_from_the_grid():
    live, stale = _figures(0), _figures(3)
    assert live.pool_top_share > 0.6 and live.pool_uptime == 1.0
    assert stale.pool_top_share < 0.2 and stale.spread_bps < live.spread_bps
    assert _figures(3) == stale  # still deterministic


def test_flow__shares_and_sizes_as_configured():
    cfg = FlowConfig(events_per_s=50, informed_bps=1_000, taker_bps=4_000, max_lots=5, seed=9)
    flow = generate_flow(cfg, 0, 200_000)
    assert len(flow) == 10_000 and np.all(np.diff(flow.ts) >= 0)
    informed = np.mean(flow.kind == Kind.INFORMED)
    takers = np.sum(flow.kind == Kind.NOISE_TAKER) / np.sum(flow.kind != Kind.INFORMED)
    assert abs(informed - 0.10) < 0.015 and abs(takers - 0.40) < 0.02
    assert flow.lots.min() == 1 and flow.lots.max() == 5
