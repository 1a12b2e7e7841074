"""One strategy step (strategies.decide): engine -> RiskGate -> reconcile, as both the
keeper's runners and the bot run it (through keeper.runners.MarketMaker)."""

from offchain.keeper.runners.configs import PoolGridParams, pool_grid_config
from offchain.strategies import (AccountState, GridEngine, LiveOrder, MarketState, QuoteConfig, QuoteEngine, RiskGate,
                                 RiskLimits, decide)
from tests.constants import LOT, TICK

ETH = 10**18
MARK = 2_000 * 10**6
SIZE = 5 * 10**16


def market(mark=MARK, halted=False):
    return MarketState(1, None, None, mark, 0, halted, TICK, LOT, LOT)


def test_quote_step__grid__gate_then_reconcile_keeps_resting_orders():
    engine = GridEngine(pool_grid_config(PoolGridParams(1, 3, 30, ETH // 10, True), MARK))
    gate = RiskGate(RiskLimits())
    first = decide(engine, gate, market(), AccountState(0, 10**12), 0)
    assert len(first.plan.places) == 6 and not first.plan.cancels
    live = tuple(LiveOrder(i, o.market, o.is_buy, o.price, o.size) for i, o in enumerate(first.plan.places))
    again = decide(engine, gate, market(), AccountState(0, 10**12, live), 1)
    assert again.plan.empty


def test_quote_step__halted__cancels_everything():
    engine = GridEngine(pool_grid_config(PoolGridParams(1, 3, 30, ETH // 10, True), MARK))
    gate = RiskGate(RiskLimits())
    places = decide(engine, gate, market(), AccountState(0, 10**12), 0).plan.places
    live = tuple(LiveOrder(i, o.market, o.is_buy, o.price, o.size) for i, o in enumerate(places))
    step = decide(engine, gate, market(halted=True), AccountState(0, 10**12, live), 1)
    assert sorted(step.plan.cancels) == list(range(6)) and not step.plan.places


def quote_state(own=()):
    """The quoted market with an empty book (so our own orders never move its top)."""
    return market()


def test_decide__first_quote__two_sides_on_tick_bid_below_ask():
    engine = QuoteEngine(QuoteConfig(1, 20, SIZE, levels=2, level_spacing_bps=10))
    d = decide(engine, RiskGate(RiskLimits()), quote_state(), AccountState(0, 10**12), 0)
    assert d.requoted and not d.plan.cancels and len(d.plan.places) == 4
    bids = [p for p in d.plan.places if p.is_buy]
    asks = [p for p in d.plan.places if not p.is_buy]
    assert max(b.price for b in bids) < min(a.price for a in asks)
    assert all(p.price % TICK == 0 and p.size == SIZE and p.post_only for p in d.plan.places)


def test_decide__resting_quotes_unchanged__empty_plan():
    engine = QuoteEngine(QuoteConfig(1, 20, SIZE))
    first = decide(engine, RiskGate(RiskLimits()), quote_state(), AccountState(0, 10**12), 0)
    live = tuple(LiveOrder(f"h{i}", 1, p.is_buy, p.price, p.size) for i, p in enumerate(first.plan.places))
    again = decide(engine, RiskGate(RiskLimits()), quote_state(live), AccountState(0, 10**12, live), 10)
    assert again.plan.empty


def test_decide__risk_gate_caps_position_side():
    engine = QuoteEngine(QuoteConfig(1, 20, SIZE))
    d = decide(engine, RiskGate(RiskLimits(max_position=SIZE)), quote_state(), AccountState(SIZE, 10**12), 0)
    assert [p.is_buy for p in d.plan.places] == [False]  # long at the cap: only the ask
    assert d.risk.reasons


def test_decide__kill_switch_while_engine_keeps_quotes__pulls_everything():
    engine = QuoteEngine(QuoteConfig(1, 20, SIZE, refresh_ms=60_000))
    gate = RiskGate(RiskLimits(max_drawdown_bps=1_000))
    first = decide(engine, gate, quote_state(), AccountState(0, 1_000_000), 0)
    live = tuple(LiveOrder(f"h{i}", 1, p.is_buy, p.price, p.size) for i, p in enumerate(first.plan.places))
    kept = decide(engine, gate, quote_state(live), AccountState(0, 1_000_000, live), 1_000)
    assert kept.plan.empty and not kept.requoted
    crash = decide(engine, gate, quote_state(live), AccountState(0, 800_000, live), 2_000)
    assert crash.risk.killed and sorted(crash.plan.cancels) == ["h0", "h1"] and not crash.plan.places
