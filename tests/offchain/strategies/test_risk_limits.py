from offchain.strategies import AccountState, DesiredOrder, LiveOrder, Reason, RiskGate, RiskLimits
from tests.constants import USDC

ETH = 10**18


def _book():
    """Two bids and two asks of 1 ETH around 3000."""
    return [DesiredOrder(1, True, 2999 * USDC, ETH), DesiredOrder(1, True, 2998 * USDC, ETH),
            DesiredOrder(1, False, 3001 * USDC, ETH), DesiredOrder(1, False, 3002 * USDC, ETH)]


def _filter(at, limits, position=0, equity=10**12, now=0, live=(), **market):
    gate = RiskGate(limits)
    return gate.filter(_book(), AccountState(position, equity, tuple(live)), at(3000 * USDC, **market), now)


def test_risk__no_limits__everything_allowed(at):
    allowed, decision = _filter(at, RiskLimits())
    assert allowed == _book() and decision.ok


def test_risk__max_position__caps_the_growing_side(at):
    allowed, decision = _filter(at, RiskLimits(max_position=2 * ETH), position=3 * ETH // 2)
    bids = [o for o in allowed if o.is_buy]
    asks = [o for o in allowed if not o.is_buy]
    assert [(b.price, b.size) for b in bids] == [(2999 * USDC, ETH // 2)]  # best bid trimmed, next dropped
    assert len(asks) == 2
    assert decision.reasons == (Reason.POSITION_LIMIT,)


def test_risk__max_notional__caps_at_mark(at):
    # 6000 USDC at a 3000 mark = 2 ETH: flat, so two bids fit, a third would not
    allowed, decision = _filter(at, RiskLimits(max_notional=6000 * USDC), position=ETH)
    assert sum(o.size for o in allowed if o.is_buy) == ETH
    assert decision.reasons == (Reason.NOTIONAL_LIMIT,)


def test_risk__max_open_orders__nearest_kept(at):
    allowed, decision = _filter(at, RiskLimits(max_open_orders=2))
    assert [o.price for o in allowed] == [2999 * USDC, 3001 * USDC]
    assert decision.reasons == (Reason.OPEN_ORDERS,)


def test_risk__close_only__only_reducing_orders_up_to_position(at):
    allowed, decision = _filter(at, RiskLimits(close_only=True), position=3 * ETH // 2)
    assert [(o.is_buy, o.price, o.size, o.reduce_only) for o in allowed] == [
        (False, 3001 * USDC, ETH, True), (False, 3002 * USDC, ETH // 2, True)]
    assert Reason.CLOSE_ONLY in decision.reasons and decision.close_only
    flat, _ = _filter(at, RiskLimits(close_only=True), position=0)
    assert flat == []


def test_risk__close_only_toggled_at_runtime(at):
    gate = RiskGate(RiskLimits())
    gate.set_close_only(True)
    allowed, _ = gate.filter(_book(), AccountState(-ETH, 10**12), at(3000 * USDC), 0)
    assert all(o.is_buy and o.reduce_only for o in allowed)


def test_risk__halted__nothing_rests(at):
    allowed, decision = _filter(at, RiskLimits(), halted=True)
    assert allowed == [] and decision.reasons == (Reason.HALTED,)


def test_risk__stale_mark__nothing_rests(at):
    allowed, decision = _filter(at, RiskLimits(max_mark_age_ms=5_000), now=5_001, mark_ts=0)
    assert allowed == [] and decision.reasons == (Reason.STALE,)
    fresh, _ = _filter(at, RiskLimits(max_mark_age_ms=5_000), now=5_000, mark_ts=0)
    assert len(fresh) == 4


def test_risk__order_rate__new_places_limited_per_window(at):
    gate = RiskGate(RiskLimits(max_orders_per_window=3, rate_window_ms=1_000))
    account = AccountState(0, 10**12)
    allowed, decision = gate.filter(_book(), account, at(3000 * USDC), 0)
    assert len(allowed) == 3 and decision.reasons == (Reason.ORDER_RATE,)
    # orders already resting do not count; the budget is spent until the window rolls
    live = tuple(LiveOrder(i, o.market, o.is_buy, o.price, o.size) for i, o in enumerate(allowed))
    again, decision = gate.filter(_book(), AccountState(0, 10**12, live), at(3000 * USDC), 500)
    assert again == [o for o in _book() if o in allowed] and decision.reasons == (Reason.ORDER_RATE,)
    later, decision = gate.filter(_book(), AccountState(0, 10**12, live), at(3000 * USDC), 1_000)
    assert later == _book() and decision.ok


def test_risk__max_mark_distance__farther_orders_dropped(at):
    # 3000 mark; the book's outer levels are 2 USDC (6.7 bps) away, the inner ones 1 (3.3 bps)
    allowed, decision = _filter(at, RiskLimits(max_mark_distance_bps=5))
    assert sorted(o.price for o in allowed) == [2999 * USDC, 3001 * USDC]
    assert decision.reasons == (Reason.MARK_DISTANCE,)
    allowed, decision = _filter(at, RiskLimits(max_mark_distance_bps=7))
    assert allowed == _book() and decision.ok
