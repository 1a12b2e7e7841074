"""Engine -> RiskGate -> reconcile, the way a keeper runner chains them."""

from offchain.strategies import (AccountState, GridConfig, GridEngine, LiveOrder, QuoteConfig, QuoteEngine, Reason,
                                 RiskGate, RiskLimits, Spacing, reconcile)
from tests.constants import USDC

ETH = 10**18


def test_pipeline__grid_under_position_cap__only_allowed_buys_placed(at):
    grid = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 11, ETH, Spacing.ARITHMETIC))
    gate = RiskGate(RiskLimits(max_position=2 * ETH))
    market = at(150 * USDC)
    allowed, decision = gate.filter(grid.desired(market), AccountState(0, 10**12), market, 0)
    plan = reconcile((), allowed, min_size=market.min_size)
    buys = [o for o in plan.places if o.is_buy]
    assert sorted(o.price for o in buys) == [130 * USDC, 140 * USDC]  # the two nearest fit the cap
    assert decision.reasons == (Reason.POSITION_LIMIT,)


def test_pipeline__requote_within_tolerance__plan_is_empty(at):
    quotes = QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, tolerance_bps=5))
    gate = RiskGate(RiskLimits())
    market = at(3000 * USDC)
    first = quotes.update(market, AccountState(0, 10**12), 0)
    allowed, _ = gate.filter(first, AccountState(0, 10**12), market, 0)
    live = tuple(LiveOrder(i, o.market, o.is_buy, o.price, o.size) for i, o in enumerate(allowed))
    account = AccountState(0, 10**12, live)
    assert quotes.update(at(3001 * USDC), account, 1_000) is None  # keep: nothing to send
    moved = quotes.update(at(3010 * USDC), account, 2_000)
    allowed, _ = gate.filter(moved, account, at(3010 * USDC), 2_000)
    plan = reconcile(account.open_orders, allowed)
    assert len(plan.cancels) == 2 and len(plan.places) == 2
