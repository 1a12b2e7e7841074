"""The backtester gives the fills the engines give when driven directly.

A scripted path and scripted takers; the direct driver below is the runner loop written
out by hand with the keeper's own pieces (matching Engine, pool_grid_config /
vault_quote_config, strategies.decide): set mark, step, play the takers, step after a fill.
"""

import dataclasses

import numpy as np
import pytest

from offchain.backtest import BacktestConfig, Flow, Kind, PoolGrid, PricePath, VaultQuotes, run_backtest
from offchain.keeper.runners.configs import (KeeperTuning, PoolGridParams, StrategyKind, VaultStrategy,
                                             pool_grid_config, vault_quote_config)
from offchain.matching import Accepted, Cancelled, Engine, Fill, MarketConfig, Place, PostOnly, TimeInForce
from offchain.strategies import (AccountState, Fill as EngineFill, GridEngine, LiveOrder, MarketState, QuoteEngine,
                                 RiskGate, RiskLimits, book_top_excluding, decide)
from tests.constants import USDC

TICK, LOT = 10_000, 10**15
PRICES = (2_000 * USDC, 2_001 * USDC, 1_998 * USDC, 1_998 * USDC, 2_003 * USDC)
PATH = PricePath(tuple(i * 1_000 for i in range(len(PRICES))), PRICES)
# (ts, is_buy, lots): noise takers crossing at the touch
TAKERS = [(100, True, 50), (250, False, 120), (1_300, True, 300), (2_200, False, 80), (2_600, False, 400),
          (3_100, True, 30), (4_500, True, 700)]


def _flow() -> Flow:
    n = len(TAKERS)
    return Flow(np.array([t for t, _, _ in TAKERS], dtype=np.int64), np.full(n, Kind.NOISE_TAKER, dtype=np.int8),
                np.array([b for _, b, _ in TAKERS]), np.array([lots for _, _, lots in TAKERS], dtype=np.int64),
                np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64))


def _direct(make_engine, name: str):
    """The runner loop by hand: returns the maker's fills as (ts, is_buy, price, size)."""
    book = Engine([MarketConfig(1, TICK, LOT, LOT, band_bps=500)])
    gate = RiskGate(RiskLimits(max_mark_age_ms=120_000))
    strategy = make_engine(PRICES[0])
    live: dict[int, LiveOrder] = {}
    position = 0
    fills = []
    ids = iter(range(1, 10**9))
    mark = [PRICES[0], 0]

    def step(ts):
        bids, asks = book.depth(1, 64)
        bb, ba = book_top_excluding(bids, asks, live.values())
        state = MarketState(1, bb, ba, mark[0], mark[1], False, TICK, LOT, LOT)
        s = decide(strategy, gate, state, AccountState(position, 0, tuple(live.values())), ts)
        for ev in book.cancel_many(s.plan.cancels, ts):
            if isinstance(ev, Cancelled):
                live.pop(ev.order_id, None)
        for d in s.plan.places:
            for ev in book.place(Place(next(ids), name, 1, d.is_buy, d.size, d.price, ts, post_only=PostOnly.REJECT)):
                if isinstance(ev, Accepted):
                    live[ev.order_id] = LiveOrder(ev.order_id, 1, ev.is_buy, ev.price, ev.size)

    j = 0
    for i, (ts, price) in enumerate(zip(PATH.ts, PATH.prices)):
        mark[:] = [price, ts]
        book.set_mark(1, price, ts)
        step(ts)
        end = PATH.ts[i + 1] if i + 1 < len(PATH) else ts + 1_000
        while j < len(TAKERS) and TAKERS[j][0] < end:
            t, is_buy, lots = TAKERS[j]
            best = book.best_ask(1) if is_buy else book.best_bid(1)
            j += 1
            if best is None:
                continue
            hit = False
            for ev in book.place(Place(next(ids), "noise0", 1, is_buy, lots * LOT, best, t, tif=TimeInForce.IOC)):
                if isinstance(ev, Fill) and ev.maker_account == name:
                    hit = True
                    position += ev.size if ev.maker_is_buy else -ev.size
                    fills.append((ev.ts, ev.maker_is_buy, ev.price, ev.size))
                    if ev.maker_remaining:
                        o = live[ev.maker_id]
                        live[ev.maker_id] = LiveOrder(o.order_id, 1, o.is_buy, o.price, ev.maker_remaining)
                    else:
                        live.pop(ev.maker_id)
                    ours = EngineFill(1, ev.maker_is_buy, ev.price, ev.size, ev.ts)
                    strategy.on_fill(ours, ev.ts)
            if hit:
                step(t)
    return fills


def _grid(anchor):
    return GridEngine(pool_grid_config(PoolGridParams(1, 3, 10, 10**17, True), anchor, KeeperTuning()))


def _quotes(anchor):
    return QuoteEngine(vault_quote_config(VaultStrategy(StrategyKind.QUOTE, 1, 2, 0, 0, 10, 2 * 10**17, 20),
                                          KeeperTuning()))


@pytest.mark.parametrize("name", ["pool", "vault"])
def test_backtest__scripted_path__same_fills_as_the_engines_driven_directly(name):
    base = BacktestConfig(pool=PoolGrid(3, 10, 10**17), vault=VaultQuotes(2, 20, 2 * 10**17, 10))
    cfg = dataclasses.replace(base, vault=None) if name == "pool" else dataclasses.replace(base, pool=None)
    result = run_backtest(cfg, PATH, _flow())
    got = [(f.ts, f.is_buy, f.price, f.size) for f in result.maker_fills[name]]
    want = _direct(_grid if name == "pool" else _quotes, name)
    assert len(want) >= 4  # the script trades both sides of the maker
    assert {b for _, b, _, _ in want} == {True, False}
    assert got == want
