"""offchain.intent.check_intent: which combinations exist, one stable reason per refusal."""

import pytest

from offchain.intent import Intent, IntentError, check_intent, engine_fields
from offchain.matching.types import OrderKind, PostOnly, SlippageRef, STPMode, TimeInForce
from offchain.order import POST_ONLY, Order

ACCOUNT = "0x" + "11" * 20
ORDER = Order(ACCOUNT, 1, True, 2_000_000_000, 10**18, 1, 2**40)
POST = Order(ACCOUNT, 1, True, 2_000_000_000, 10**18, 1, 2**40, POST_ONLY)

VALID = [
    (ORDER, Intent()),
    (ORDER, Intent(kind="limit", tif="IOC", stp="decrement", client_id="my-order-1")),
    (ORDER, Intent(kind="market", tif="IOC", slippage_bps=50)),
    (ORDER, Intent(kind="market", tif="FOK", slippage_bps=50, slippage_ref="mark")),
    (ORDER, Intent(kind="stop_market", trigger_price=2_100_000_000, slippage_bps=100)),
    (ORDER, Intent(kind="stop_limit", trigger_price=2_100_000_000)),
    (ORDER, Intent(kind="take_profit", trigger_price=1_900_000_000)),
    (POST, Intent(kind="take_profit_limit", trigger_price=1_900_000_000, post_only="slide")),
    (ORDER, Intent(kind="trailing_stop", trail_bps=200)),
    (ORDER, Intent(kind="trailing_stop", trail_amount=5_000_000, tif="GTD")),
    (POST, Intent(post_only="reject")),
    (POST, Intent(post_only="slide", stp="expire_both")),
]


@pytest.mark.parametrize("order,intent", VALID)
def test_check_intent__valid_combination__accepted(order, intent):
    check_intent(order, intent)


INVALID = [
    (ORDER, Intent(kind="stop"), "intent.kind: must be one of"),
    (ORDER, Intent(tif="DAY"), "intent.tif: must be one of"),
    (ORDER, Intent(stp="allow"), "intent.stp: must be one of"),
    (ORDER, Intent(post_only="yes"), "intent.post_only: must be one of"),
    (ORDER, Intent(slippage_ref="last"), "intent.slippage_ref: must be one of"),
    (ORDER, Intent(client_id="has space"), "intent.client_id:"),
    (ORDER, Intent(client_id="x" * 65), "intent.client_id:"),
    (ORDER, Intent(trigger_price=-1), "intent.trigger_price: must be a uint256"),
    (ORDER, Intent(trigger_price=True), "intent.trigger_price: must be a uint256"),
    (ORDER, Intent(kind="stop_market"), "intent.trigger_price: required for stop_market"),
    (ORDER, Intent(kind="take_profit_limit"), "intent.trigger_price: required for take_profit_limit"),
    (ORDER, Intent(trigger_price=5), "intent.trigger_price: only for"),
    (ORDER, Intent(kind="trailing_stop"), "intent.trail_bps: exactly one"),
    (ORDER, Intent(kind="trailing_stop", trail_bps=1, trail_amount=1), "intent.trail_bps: exactly one"),
    (ORDER, Intent(kind="trailing_stop", trail_bps=10_000), "intent.trail_bps: must be below 10000"),
    (ORDER, Intent(trail_amount=3), "intent.trail_bps: only for trailing_stop"),
    (ORDER, Intent(slippage_bps=10), "intent.slippage_bps: only for"),
    (ORDER, Intent(kind="market", tif="IOC", slippage_bps=10_000), "intent.slippage_bps: must be below"),
    (ORDER, Intent(kind="market", tif="IOC", slippage_ref="mark"), "intent.slippage_ref: needs slippage_bps"),
    (ORDER, Intent(kind="market"), "intent.tif: a market order is IOC or FOK"),
    (POST, Intent(kind="market", tif="IOC", post_only="reject"), "intent.post_only: only for"),
    (POST, Intent(post_only="reject", tif="IOC"), "intent.post_only: not with IOC or FOK"),
    (ORDER, Intent(post_only="slide"), "intent.post_only: the order's POST_ONLY flag is not set"),
    (POST, Intent(), "intent.post_only: the order's POST_ONLY flag needs reject or slide"),
]


@pytest.mark.parametrize("order,intent,reason", INVALID)
def test_check_intent__invalid_field__refused_with_reason(order, intent, reason):
    with pytest.raises(IntentError) as info:
        check_intent(order, intent)
    assert str(info.value).startswith(reason)


def test_engine_fields__stop_with_slippage__maps_to_place_fields():
    fields = engine_fields(Intent(kind="stop_market", tif="IOC", trigger_price=7, slippage_bps=30,
                                  slippage_ref="mark", stp="decrement"))
    assert fields == {
        "kind": OrderKind.STOP_MARKET, "tif": TimeInForce.IOC, "post_only": PostOnly.NONE,
        "stp": STPMode.DECREMENT, "slippage_bps": 30, "slippage_ref": SlippageRef.MARK,
        "trigger_price": 7, "trail_bps": 0, "trail_amount": 0,
    }


def test_engine_fields__plain_gtc__rests_until_signed_expiry():
    fields = engine_fields(Intent())
    assert fields["tif"] == TimeInForce.GTD and fields["stp"] is None and fields["kind"] == OrderKind.LIMIT
