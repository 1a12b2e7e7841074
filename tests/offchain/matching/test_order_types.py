"""One test per order type and time in force."""
from offchain.matching import (
    Accepted, Cancelled, Expired, Fill, OrderKind, Place, PostOnly, Reason, Rejected, SlippageRef,
    TimeInForce, Triggered,
)

from .helpers import M, buy, engine, kinds, market_buy, market_sell, only, sell


def test_place__gtc_no_cross__rests():
    e = engine()
    assert kinds(e.place(buy("b", 1000))) == [Accepted]
    assert e.best_bid(M) == 1000 and e.get_order("b").size == 100


def test_place__gtc_crossing__fills_at_maker_price_and_rests_remainder():
    e = engine()
    e.place(sell("s", 1000, 100))
    ev = e.place(buy("b", 1020, 300))
    (fill,) = only(ev, Fill)
    assert (fill.price, fill.size, fill.maker_id, fill.taker_id, fill.maker_is_buy) == (1000, 100, "s", "b", False)
    assert (fill.maker_account, fill.taker_account) == ("0xmaker", "0xtaker")
    assert e.depth(M, 5) == ([(1020, 200)], [])


def test_place__price_time_priority__earlier_order_fills_first():
    e = engine()
    e.place(sell("s1", 1000, 100, account="0xa"))
    e.place(sell("s2", 1000, 200, account="0xb"))
    e.place(sell("s0", 990, 100, account="0xc"))
    ev = e.place(buy("b", 1000, 300))
    assert [f.maker_id for f in only(ev, Fill)] == ["s0", "s1", "s2"]
    assert e.get_order("s2").size == 100


def test_place__ioc_partial__remainder_cancelled():
    e = engine()
    e.place(sell("s", 1000, 100))
    ev = e.place(buy("b", 1000, 300, tif=TimeInForce.IOC))
    assert kinds(ev) == [Accepted, Fill, Cancelled]
    assert ev[-1].reason == Reason.IOC_REMAINDER and ev[-1].size == 200
    assert e.get_order("b") is None


def test_place__fok_insufficient_liquidity__rejected():
    e = engine()
    e.place(sell("s", 1000, 100))
    ev = e.place(buy("b", 1000, 300, tif=TimeInForce.FOK))
    assert ev == [Rejected("b", M, Reason.FOK_UNFILLABLE, 1)]
    assert e.get_order("s").size == 100  # nothing happened


def test_place__fok_enough_liquidity__fills_completely():
    e = engine()
    e.place(sell("s1", 1000, 100))
    e.place(sell("s2", 1010, 200))
    ev = e.place(buy("b", 1010, 300, tif=TimeInForce.FOK))
    assert kinds(ev) == [Accepted, Fill, Fill]
    assert e.best_ask(M) is None


def test_place__gtd__expires_at_expiry():
    e = engine()
    e.place(buy("b", 1000, tif=TimeInForce.GTD, expiry=10))
    assert e.expire(9) == []
    assert e.expire(10) == [Expired("b", M, "0xtaker", 100, 10)]
    assert e.best_bid(M) is None


def test_place__gtd_maker_past_expiry__expired_before_matching():
    e = engine()
    e.place(sell("s", 1000, tif=TimeInForce.GTD, expiry=5))
    ev = e.place(buy("b", 1000, ts=5))
    assert kinds(ev) == [Expired, Accepted]
    assert e.best_bid(M) == 1000


def test_place__post_only_reject_crossing__rejected():
    e = engine()
    e.place(sell("s", 1000))
    ev = e.place(buy("b", 1000, post_only=PostOnly.REJECT))
    assert ev == [Rejected("b", M, Reason.POST_ONLY_WOULD_CROSS, 1)]


def test_place__post_only_slide_crossing__rests_one_tick_inside():
    e = engine()
    e.place(sell("s", 1000))
    ev = e.place(buy("b", 1050, post_only=PostOnly.SLIDE))
    assert ev == [Accepted("b", M, "0xtaker", True, 990, 100, 1)]
    assert e.best_bid(M) == 990


def test_place__post_only_not_crossing__rests_at_its_price():
    e = engine()
    e.place(sell("s", 1000))
    assert kinds(e.place(sell("s2", 1010, post_only=PostOnly.REJECT))) == [Accepted]


def test_place__market_with_worst_price__stops_there_and_cancels_remainder():
    e = engine()
    e.place(sell("s1", 1000, 100))
    e.place(sell("s2", 1100, 100))
    ev = e.place(market_buy("m", 300, price=1050))
    assert [f.price for f in only(ev, Fill)] == [1000]
    assert ev[-1] == Cancelled("m", M, "0xtaker", 200, 0, Reason.IOC_REMAINDER, 1)
    assert e.best_ask(M) == 1100


def test_place__market_with_bps_from_best__limited():
    e = engine()
    e.place(sell("s1", 1000, 100))
    e.place(sell("s2", 1010, 100))   # +1%
    e.place(sell("s3", 1030, 100))   # +3%
    ev = e.place(market_buy("m", 300, slippage_bps=200))  # worst 1020
    assert ev[0].price == 1020
    assert [f.price for f in only(ev, Fill)] == [1000, 1010]


def test_place__market_sell_with_bps_from_mark__limited():
    e = engine()
    e.set_mark(M, 1000, 1)
    e.place(buy("b1", 990, 100, account="0xm"))
    e.place(buy("b2", 900, 100, account="0xm"))
    ev = e.place(market_sell("m", 200, slippage_bps=500, slippage_ref=SlippageRef.MARK))
    assert ev[0].price == 950
    assert [f.price for f in only(ev, Fill)] == [990]


def test_place__market_bps_from_mark_without_mark__rejected():
    e = engine()
    ev = e.place(market_buy("m", 100, slippage_bps=100, slippage_ref=SlippageRef.MARK))
    assert ev == [Rejected("m", M, Reason.NO_REFERENCE_PRICE, 1)]


def test_place__market_empty_book__accepted_then_cancelled():
    e = engine()
    assert kinds(e.place(market_buy("m", 100))) == [Accepted, Cancelled]


def test_place__reduce_only_without_position__rejected():
    e = engine()
    e.set_position("0xtaker", M, 0)
    assert e.place(buy("b", 1000, reduce_only=True))[-1].reason == Reason.REDUCE_ONLY


def test_place__reduce_only_same_direction__rejected():
    e = engine()
    e.set_position("0xtaker", M, 500)
    assert e.place(buy("b", 1000, reduce_only=True))[-1].reason == Reason.REDUCE_ONLY


def test_place__reduce_only_larger_than_position__clipped():
    e = engine()
    e.set_position("0xtaker", M, -200)
    ev = e.place(buy("b", 1000, 500, reduce_only=True))
    assert ev == [Accepted("b", M, "0xtaker", True, 1000, 200, 1)]


def test_place__reduce_only_maker_after_position_closed__cancelled_when_reached():
    e = engine()
    e.set_position("0xlong", M, 100)
    e.place(sell("ro", 1000, 100, account="0xlong", reduce_only=True))
    e.place(sell("plain", 1000, 100, account="0xlong"))
    e.set_position("0xlong", M, 0)  # closed elsewhere
    ev = e.place(buy("b", 1000, 100))
    assert only(ev, Cancelled)[0].order_id == "ro" and only(ev, Cancelled)[0].reason == Reason.REDUCE_ONLY
    assert only(ev, Fill)[0].maker_id == "plain"


def test_place__fills_update_tracked_positions():
    e = engine()
    e.set_position("0xa", M, 0)
    e.place(sell("s", 1000, 300, account="0xa"))
    e.place(buy("b", 1000, 100, account="0xb"))
    assert e.position("0xa", M) == -300 + 200 and e.position("0xb", M) == 100


def test_place__stop_market__fires_when_mark_reaches_trigger():
    e = engine()
    e.place(sell("s", 1100, 100))
    e.set_mark(M, 1000, 1)
    ev = e.place(Place("stop", "0xt", M, True, 100, 0, 2, OrderKind.STOP_MARKET, trigger_price=1050))
    assert kinds(ev) == [Accepted] and e.best_bid(M) is None
    assert e.set_mark(M, 1040, 3) == []
    ev = e.set_mark(M, 1050, 4)
    assert kinds(ev) == [Triggered, Fill]
    assert ev[0] == Triggered("stop", M, "0xt", 1050, 4)


def test_place__stop_limit__rests_as_limit_after_trigger():
    e = engine()
    e.set_mark(M, 1000, 1)
    e.place(Place("sl", "0xt", M, False, 100, 940, 2, OrderKind.STOP_LIMIT, trigger_price=950))
    ev = e.set_mark(M, 950, 3)
    assert kinds(ev) == [Triggered]
    assert e.best_ask(M) == 940 and e.get_order("sl").triggered


def test_place__take_profit__fires_on_favourable_move():
    e = engine()
    e.place(buy("b", 1150, 100, account="0xm"))
    e.set_mark(M, 1000, 1)
    e.place(Place("tp", "0xt", M, False, 100, 0, 2, OrderKind.TAKE_PROFIT, trigger_price=1100))
    assert e.set_mark(M, 1090, 3) == []
    assert kinds(e.set_mark(M, 1100, 4)) == [Triggered, Fill]


def test_place__take_profit_limit__rests_after_trigger():
    e = engine()
    e.set_mark(M, 1000, 1)
    e.place(Place("tpl", "0xt", M, True, 100, 890, 2, OrderKind.TAKE_PROFIT_LIMIT, trigger_price=900))
    assert kinds(e.set_mark(M, 900, 3)) == [Triggered]
    assert e.best_bid(M) == 890


def test_place__trailing_stop_bps__follows_peak_and_fires_on_drop():
    e = engine()
    e.place(buy("b", 900, 100, account="0xm"))
    e.set_mark(M, 1000, 1)
    e.place(Place("ts", "0xt", M, False, 100, 0, 2, OrderKind.TRAILING_STOP, trail_bps=500))
    assert e.set_mark(M, 1200, 3) == []     # peak 1200, trigger 1140
    assert e.set_mark(M, 1150, 4) == []
    assert kinds(e.set_mark(M, 1140, 5)) == [Triggered, Fill]


def test_place__trailing_stop_amount_buy__follows_trough_and_fires_on_rebound():
    e = engine()
    e.place(sell("s", 1000, 100))
    e.set_mark(M, 900, 1)
    e.place(Place("ts", "0xt", M, True, 100, 0, 2, OrderKind.TRAILING_STOP, trail_amount=30))
    assert e.set_mark(M, 850, 3) == []      # trough 850, trigger 880
    assert kinds(e.set_mark(M, 880, 4)) == [Triggered, Fill]


def test_place__stop_already_triggered__rejected():
    e = engine()
    e.set_mark(M, 1000, 1)
    ev = e.place(Place("stop", "0xt", M, True, 100, 0, 2, OrderKind.STOP_MARKET, trigger_price=990))
    assert ev == [Rejected("stop", M, Reason.WOULD_TRIGGER_IMMEDIATELY, 2)]


def test_place__stop_reduce_only_with_no_position_at_trigger__cancelled():
    e = engine()
    e.set_position("0xt", M, 0)
    e.set_mark(M, 1000, 1)
    e.place(Place("stop", "0xt", M, False, 100, 0, 2, OrderKind.STOP_MARKET, trigger_price=950,
                  reduce_only=True))
    ev = e.set_mark(M, 940, 3)
    assert kinds(ev) == [Triggered, Cancelled] and ev[1].reason == Reason.REDUCE_ONLY


def test_cancel__pending_stop__cancelled_and_never_fires():
    e = engine()
    e.place(Place("stop", "0xt", M, True, 100, 0, 1, OrderKind.STOP_MARKET, trigger_price=1050))
    assert kinds(e.cancel("stop", 2)) == [Cancelled]
    assert e.set_mark(M, 2000, 3) == []


def test_place__market_reduce_only__clipped_to_position():
    e = engine()
    e.set_position("0xtaker", M, 200)
    e.place(buy("b", 1000, 500, account="0xm"))
    ev = e.place(market_sell("m", 500, reduce_only=True))
    assert ev[0].size == 200 and only(ev, Fill)[0].size == 200
    assert e.position("0xtaker", M) == 0


def test_place__gtd_stop__expires_unfired():
    e = engine()
    e.place(Place("stop", "0xt", M, True, 100, 0, 1, OrderKind.STOP_MARKET, trigger_price=1050,
                  tif=TimeInForce.GTD, expiry=5))
    assert kinds(e.expire(5)) == [Expired] and e.get_order("stop") is None
