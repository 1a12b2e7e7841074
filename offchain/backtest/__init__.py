"""Backtester: a price path and synthetic order flow through the keeper's matching core
and strategy engines, without a chain (see docs/backtest.md).

    path = gbm_path(GbmConfig(seconds=3600, seed=1), tick=10_000)
    result = run_backtest(BacktestConfig(), path)
    result.quality(); result.maker_fills["pool"]; result.pnl("pool")
"""

from offchain.backtest.flow import Flow, FlowConfig, Kind, generate_flow
from offchain.backtest.paths import GbmConfig, PricePath, csv_path, gbm_path
from offchain.backtest.sim import (Backtest, BacktestConfig, BacktestResult, Fees, MarketSpec, PoolGrid,
                                   VaultQuotes, run_backtest)

__all__ = ["Backtest", "BacktestConfig", "BacktestResult", "Fees", "Flow", "FlowConfig", "GbmConfig", "Kind",
           "MarketSpec", "PoolGrid", "PricePath", "VaultQuotes", "csv_path", "gbm_path", "generate_flow",
           "run_backtest"]
