"""Price band, market-order cap, circuit breaker, max size and notional."""
from offchain.matching import Accepted, Amended, Fill, Halted, Reason, Rejected, TimeInForce

from .helpers import M, breaker, buy, engine, kinds, market_buy, market_sell, only, sell


def test_band__aggressive_buy_above_band__rejected():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    assert e.place(buy("b", 1060))[-1].reason == Reason.PRICE_OUTSIDE_BAND


def test_band__aggressive_sell_below_band__rejected():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    assert e.place(sell("s", 940))[-1].reason == Reason.PRICE_OUTSIDE_BAND


def test_band__passive_orders_beyond_band__allowed():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    assert kinds(e.place(buy("b", 500))) == [Accepted]
    assert kinds(e.place(sell("s", 2000))) == [Accepted]


def test_band__at_the_edge__allowed():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    assert kinds(e.place(buy("b", 1050))) == [Accepted]


def test_band__no_mark_yet__no_band():
    e = engine(band_bps=500)
    assert kinds(e.place(buy("b", 5000))) == [Accepted]


def test_band__market_order__capped_at_band():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    e.place(sell("s1", 1040, 100))
    e.place(sell("s2", 1060, 100))
    ev = e.place(market_buy("m", 200))
    assert ev[0].price == 1050
    assert [f.price for f in only(ev, Fill)] == [1040] and ev[-1].reason == Reason.IOC_REMAINDER


def test_band__maker_left_outside_band_by_mark_move__not_traded():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    e.place(buy("b", 990, 100, account="0xm"))
    e.set_mark(M, 900, 2)  # band 855..945: the resting bid is now above the band
    ev = e.place(market_sell("m", 100, ts=3))
    assert not only(ev, Fill) and ev[-1].reason == Reason.PRICE_OUTSIDE_BAND


def test_breaker__move_beyond_limit__halts_before_the_trade():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    ev = e.place(buy("b", 1100, 200, ts=2))
    assert [f.price for f in only(ev, Fill)] == [1000]
    assert only(ev, Halted) == [Halted(M, 1060, 2, 7)]
    assert ev[-1].reason == Reason.HALTED and e.is_halted(M, 3)


def test_breaker__halted__crossing_orders_rejected_passive_allowed():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    e.place(buy("b", 1100, 200, ts=2))
    assert e.place(buy("x", 1060, ts=3)) == [Rejected("x", M, Reason.HALTED, 3)]
    assert e.place(market_buy("y", 100, ts=3))[-1].reason == Reason.HALTED
    assert kinds(e.place(buy("p", 1000, ts=3))) == [Accepted]


def test_breaker__after_cooldown__resumes():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    e.place(buy("b", 1100, 200, ts=2))
    ev = e.place(buy("x", 1060, ts=7))
    assert only(ev, Fill)[0].price == 1060 and not e.is_halted(M, 7)


def test_breaker__move_spread_over_longer_than_window__no_halt():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    e.place(buy("b1", 1000, 100, ts=2))
    ev = e.place(buy("b2", 1060, 100, ts=12))  # the 1000 trade left the window
    assert only(ev, Fill)[0].price == 1060 and not only(ev, Halted)


def test_breaker__fok_that_would_trip__rejected_without_halting():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    e.place(buy("b1", 1000, 100, ts=2))
    ev = e.place(buy("f", 1060, 100, ts=3, tif=TimeInForce.FOK))
    assert ev == [Rejected("f", M, Reason.FOK_UNFILLABLE, 3)] and not e.is_halted(M, 3)


def test_limits__size_above_max__rejected():
    e = engine(max_size=1_000)
    assert e.place(buy("b", 1000, 1_100))[-1].reason == Reason.SIZE_ABOVE_MAX
    assert kinds(e.place(buy("c", 1000, 1_000))) == [Accepted]


def test_limits__notional_above_max__rejected():
    one = 10**18
    e = engine(lot=10**16, min_size=10**16, max_notional=1_000 * 10**6)  # 1000 USDC
    ok = e.place(buy("ok", 2_000 * 10**6, one // 2))          # 2000 USDC * 0.5 = 1000 USDC
    assert kinds(ok) == [Accepted]
    ev = e.place(buy("big", 2_000 * 10**6, one // 2 + 10**16))
    assert ev[-1].reason == Reason.NOTIONAL_ABOVE_MAX


def test_band__market_sell__capped_at_lower_band():
    e = engine(band_bps=500)
    e.set_mark(M, 1000, 1)
    e.place(buy("b1", 960, 100, account="0xm"))
    e.place(buy("b2", 940, 100, account="0xm"))
    ev = e.place(market_sell("m", 200))
    assert ev[0].price == 950 and [f.price for f in only(ev, Fill)] == [960]


def test_breaker__amend_after_cooldown__not_halted():
    e = engine(breaker=breaker(move_bps=500, window=10, cooldown=5))
    e.place(sell("s1", 1000, 100, ts=1))
    e.place(sell("s2", 1060, 100, ts=1))
    e.place(buy("b", 1100, 200, ts=2))          # halts until 7
    e.place(buy("p", 1000, 100, ts=3))          # passive while halted
    assert e.amend("p", 4, price=1060)[0].reason == Reason.HALTED
    ev = e.amend("p", 7, price=1060)
    assert kinds(ev) == [Amended, Fill]
