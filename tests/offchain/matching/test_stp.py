"""Self-trade prevention: one test per mode, the taker's mode wins, the default."""
from offchain.matching import Accepted, Cancelled, Fill, Reason, STPMode

from .helpers import M, buy, engine, kinds, only, sell


def _book_with_own_ask_first():
    e = engine()
    e.place(sell("own", 1000, 200, account="0xa"))
    e.place(sell("other", 1000, 200, account="0xb"))
    return e


def test_stp__expire_taker__taker_remainder_cancelled_maker_stays():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 300, account="0xa", stp=STPMode.EXPIRE_TAKER))
    assert kinds(ev) == [Accepted, Cancelled]
    assert ev[1] == Cancelled("t", M, "0xa", 300, 0, Reason.SELF_TRADE, 1)
    assert e.get_order("own").size == 200


def test_stp__expire_maker__maker_cancelled_taker_continues():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 300, account="0xa", stp=STPMode.EXPIRE_MAKER))
    assert kinds(ev) == [Accepted, Cancelled, Fill]
    assert ev[1].order_id == "own" and ev[1].reason == Reason.SELF_TRADE
    assert ev[2].maker_id == "other" and ev[2].size == 200
    assert e.get_order("t").size == 100  # remainder rests


def test_stp__expire_both__both_cancelled():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 300, account="0xa", stp=STPMode.EXPIRE_BOTH))
    assert [(c.order_id, c.size) for c in only(ev, Cancelled)] == [("own", 200), ("t", 300)]
    assert e.get_order("t") is None and e.get_order("own") is None
    assert e.get_order("other").size == 200


def test_stp__decrement__both_reduced_by_overlap():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 300, account="0xa", stp=STPMode.DECREMENT))
    cancels = only(ev, Cancelled)
    assert [(c.order_id, c.size, c.remaining) for c in cancels] == [("own", 200, 0), ("t", 200, 100)]
    (fill,) = only(ev, Fill)
    assert (fill.maker_id, fill.size) == ("other", 100)


def test_stp__decrement_smaller_taker__maker_keeps_the_rest():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 100, account="0xa", stp=STPMode.DECREMENT))
    assert [(c.order_id, c.remaining) for c in only(ev, Cancelled)] == [("own", 100), ("t", 0)]
    assert e.get_order("own").size == 100 and not only(ev, Fill)


def test_stp__taker_mode_wins_over_maker_mode():
    e = engine()
    e.place(sell("own", 1000, 100, account="0xa", stp=STPMode.EXPIRE_TAKER))
    ev = e.place(buy("t", 1000, 100, account="0xa", stp=STPMode.EXPIRE_MAKER))
    assert only(ev, Cancelled)[0].order_id == "own"


def test_stp__default_is_expire_maker():
    e = _book_with_own_ask_first()
    ev = e.place(buy("t", 1000, 100, account="0xa"))
    assert only(ev, Cancelled)[0].order_id == "own" and only(ev, Fill)[0].maker_id == "other"


def test_stp__market_default_from_config():
    e = engine(default_stp=STPMode.EXPIRE_TAKER)
    e.place(sell("own", 1000, 100, account="0xa"))
    ev = e.place(buy("t", 1000, 100, account="0xa"))
    assert only(ev, Cancelled)[0].order_id == "t"
