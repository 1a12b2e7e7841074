"""Engine.check_limit: the refusal a limit order would get now, without changing state (the
keeper's amend asks before it takes the old order off the book)."""
import pytest

from offchain.matching import PostOnly, Reason, TimeInForce

from .helpers import buy, engine, sell


def state(e):
    return e.depth(1, 10), e.best_bid(1), e.best_ask(1)


@pytest.mark.parametrize("cmd, reason", [
    (buy("x", 1005), Reason.PRICE_OFF_TICK),
    (buy("x", 1000, 150), Reason.SIZE_OFF_LOT),
    (buy("x", 1010, post_only=PostOnly.REJECT), Reason.POST_ONLY_WOULD_CROSS),
    (buy("x", 1010, 500, tif=TimeInForce.FOK), Reason.FOK_UNFILLABLE),
])
def test_check_limit__refused__reason_and_nothing_changes(cmd, reason):
    e = engine()
    e.place(sell("ask", 1010, 100))
    before = state(e)
    refused = e.check_limit(cmd)
    assert (refused.order_id, refused.reason) == ("x", reason)
    assert state(e) == before


def test_check_limit__acceptable__none_and_nothing_changes():
    e = engine()
    e.place(sell("ask", 1010, 100))
    before = state(e)
    assert e.check_limit(buy("x", 1010, 100)) is None  # it would trade: still nothing happens
    assert state(e) == before
