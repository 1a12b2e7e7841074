"""Same seed, same fills, same report figures; a different flow seed changes them."""

import dataclasses

from offchain.backtest import BacktestConfig, FlowConfig, GbmConfig, gbm_path, run_backtest
from offchain.backtest.report import figures

PATH = gbm_path(GbmConfig(seconds=300, seed=11), 10_000)


def _run(flow_seed: int = 2):
    return run_backtest(BacktestConfig(flow=FlowConfig(seed=flow_seed)), PATH)


def test_backtest__same_seed__same_fills_and_figures():
    a, b = _run(), _run()
    assert a.trades and a.trades == b.trades
    assert a.maker_fills == b.maker_fills
    assert figures(a) == figures(b)
    assert a.counters == b.counters


def test_backtest__other_flow_seed__other_fills():
    assert _run(2).trades != _run(3).trades


def test_backtest__accounting__cash_and_positions_add_up():
    # Every maker's equity is capital + cash from its fills + position at the last mark.
    r = _run()
    last = PATH.prices[-1]
    for name, fills in r.maker_fills.items():
        capital = {"pool": r.config.pool, "vault": r.config.vault}[name].capital
        position = sum(f.size if f.is_buy else -f.size for f in fills)
        cash = sum((-1 if f.is_buy else 1) * (f.price * f.size // 10**18) + f.rebate for f in fills)
        assert r.final_equity[name] == capital + cash + position * last // 10**18


def test_backtest__no_makers__takers_find_only_others():
    r = run_backtest(dataclasses.replace(BacktestConfig(), pool=None, vault=None), PATH)
    assert r.maker_fills == {}
    assert all(t.maker == "others" for t in r.trades)
