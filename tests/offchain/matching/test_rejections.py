"""Every bad input is a Rejected event with its reason; nothing raises."""
import pytest

from offchain.matching import OrderKind, Place, PostOnly, Reason, Rejected, TimeInForce

from .helpers import M, buy, engine, market_buy


@pytest.mark.parametrize("cmd, reason", [
    (buy("x", 1000, market=99), Reason.UNKNOWN_MARKET),
    (buy("x", 1005), Reason.PRICE_OFF_TICK),
    (buy("x", 0), Reason.INVALID_PRICE),
    (buy("x", -10), Reason.INVALID_PRICE),
    (buy("x", 1000.0), Reason.INVALID_PRICE),
    (buy("x", 1000, 150), Reason.SIZE_OFF_LOT),
    (buy("x", 1000, 0), Reason.INVALID_SIZE),
    (buy("x", 1000, -100), Reason.INVALID_SIZE),
    (buy("x", 1000, 100.0), Reason.INVALID_SIZE),
    (buy("x", 1000, tif=TimeInForce.GTD, expiry=1, ts=1), Reason.EXPIRED),
    (buy("x", 1000, tif=TimeInForce.IOC, post_only=PostOnly.REJECT), Reason.INVALID_ORDER),
    (buy("x", 1000, tif=7), Reason.INVALID_ORDER),
    (buy("x", 1000, stp=9), Reason.INVALID_ORDER),
    (buy("x", 1000, post_only=5), Reason.INVALID_ORDER),
    (market_buy("x", 100, post_only=PostOnly.REJECT), Reason.INVALID_ORDER),
    (market_buy("x", 100, slippage_bps=-1), Reason.INVALID_ORDER),
    (Place("x", "a", M, True, 100, 0, 1, kind=99), Reason.INVALID_ORDER),
    (Place("x", "a", M, True, 100, 0, 1, OrderKind.STOP_MARKET), Reason.INVALID_PRICE),
    (Place("x", "a", M, True, 100, 0, 1, OrderKind.TRAILING_STOP), Reason.INVALID_ORDER),
    (Place("x", "a", M, True, 100, 0, 1, OrderKind.STOP_MARKET, trigger_price=5, stp=9),
     Reason.INVALID_ORDER),
    (Place("x", "a", M, True, 100, 1005, 1, OrderKind.STOP_LIMIT, trigger_price=1), Reason.PRICE_OFF_TICK),
])
def test_place__bad_input__rejected_with_reason(cmd, reason):
    assert engine().place(cmd) == [Rejected("x", cmd.market, reason, cmd.ts)]


def test_place__size_below_min__rejected():
    e = engine(min_size=300)
    assert e.place(buy("x", 1000, 200))[-1].reason == Reason.SIZE_BELOW_MIN


def test_place__duplicate_order_id__rejected():
    e = engine()
    e.place(buy("x", 1000))
    assert e.place(buy("x", 990)) == [Rejected("x", M, Reason.DUPLICATE_ORDER_ID, 1)]


def test_place__id_of_finished_order__accepted_again():
    e = engine()
    e.place(buy("x", 1000))
    e.cancel("x", 2)
    assert e.place(buy("x", 1000, ts=3))[0].order_id == "x"


def test_place__garbage_command__rejected_not_raised():
    e = engine()
    assert e.place(None)[0].reason == Reason.INVALID_ORDER
    assert e.place(buy(["unhashable"], 1000))[0].reason == Reason.INVALID_ORDER


def test_cancel__unknown_order__rejected():
    assert engine().cancel("nope", 3) == [Rejected("nope", -1, Reason.UNKNOWN_ORDER, 3)]


def test_cancel__unhashable_id__rejected():
    assert engine().cancel(["x"], 3)[0].reason == Reason.UNKNOWN_ORDER


def test_cancel__other_accounts_order__rejected():
    e = engine()
    e.place(buy("x", 1000, account="0xa"))
    assert e.cancel("x", 2, account="0xb") == [Rejected("x", M, Reason.NOT_OWNER, 2)]


def test_amend__unknown_order__rejected():
    assert engine().amend("nope", 3, size=100)[0].reason == Reason.UNKNOWN_ORDER


def test_amend__pending_stop__not_amendable():
    e = engine()
    e.place(Place("s", "a", M, True, 100, 0, 1, OrderKind.STOP_MARKET, trigger_price=5))
    assert e.amend("s", 2, size=200)[0].reason == Reason.NOT_AMENDABLE


def test_set_mark__bad_values__rejected():
    e = engine()
    assert e.set_mark(99, 1000, 1)[0].reason == Reason.UNKNOWN_MARKET
    assert e.set_mark(M, 0, 1)[0].reason == Reason.INVALID_PRICE


def test_amend__bad_values__rejected_and_order_kept():
    e = engine()
    e.place(buy("x", 1000))
    assert e.amend("x", 2, price=1000.0)[0].reason == Reason.INVALID_PRICE
    assert e.amend("x", 2, size=0)[0].reason == Reason.INVALID_SIZE
    assert e.amend("x", 2, size=150)[0].reason == Reason.SIZE_OFF_LOT
    assert e.get_order("x").size == 100


def test_cancel__garbage_account__rejected_not_raised():
    e = engine()
    e.place(buy("x", 1000))
    assert e.cancel("x", 2, account=object())[0].reason == Reason.NOT_OWNER
