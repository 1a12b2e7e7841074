"""The speed-motivated layout keeps the rules exact and the memory bounded: the per-size
limit cache (lot, min, max, max notional) and the lazily swept account index."""
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.matching import Accepted, Reason, Rejected
from offchain.matching.book import SIZE_LIMITS_CACHED
from offchain.matching.engine import ACCOUNTS_SWEEP_MIN
from offchain.matching.types import ONE

from .helpers import LOT, M, TICK, buy, engine, market_buy, sell

BIG_LOT = 10**14           # with prices up to 2,000 the notional reaches ~100 whole units
MAX_NOTIONAL = 30


def size_rules(size: int) -> Reason | None:
    if size <= 0:
        return Reason.INVALID_SIZE
    if size % BIG_LOT:
        return Reason.SIZE_OFF_LOT
    if size < 2 * BIG_LOT:
        return Reason.SIZE_BELOW_MIN
    if size > 50 * BIG_LOT:
        return Reason.SIZE_ABOVE_MAX
    return None


def limit_rules(price: int, size: int) -> Reason | None:
    """The static rules written out plainly (no cache), in the engine's order."""
    if price <= 0:
        return Reason.INVALID_PRICE
    if price % TICK:
        return Reason.PRICE_OFF_TICK
    return size_rules(size) or (
        Reason.NOTIONAL_ABOVE_MAX if price * size // ONE > MAX_NOTIONAL else None)


def market_rules(worst: int, size: int) -> Reason | None:
    """Size first; the worst price is optional (0), any positive integer, and bounds the
    notional."""
    if size_rules(size):
        return size_rules(size)
    if worst < 0:
        return Reason.INVALID_PRICE
    return Reason.NOTIONAL_ABOVE_MAX if worst * size // ONE > MAX_NOTIONAL else None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-2, 400).map(lambda t: t * TICK // 2),
                          st.integers(-3, 110).map(lambda n: n * BIG_LOT // 2)),
                min_size=1, max_size=40))
def test_place__any_price_and_size__same_verdict_as_the_plain_rules(orders):
    e = engine(lot=BIG_LOT, min_size=2 * BIG_LOT, max_size=50 * BIG_LOT,
               max_notional=MAX_NOTIONAL)
    for i, (price, size) in enumerate(orders):  # later items meet a warm size cache
        for cmd, want in ((buy(i, price, size), limit_rules(price, size)),
                          (market_buy(i, size, price=price), market_rules(price, size))):
            ev = e.place(cmd)
            if want is None:
                assert ev[0].__class__ is Accepted, (cmd, ev)
            else:
                assert ev == [Rejected(i, M, want, 1)], (cmd, ev)
            e.cancel(i, 1)


def test_place__more_distinct_sizes_than_cached__cache_bounded_and_verdicts_exact():
    e = engine(max_size=10 * SIZE_LIMITS_CACHED * LOT)
    n = 2 * SIZE_LIMITS_CACHED + 10
    for i in range(1, n + 1):
        ev = e.place(sell(i, 1000 + i * TICK, i * LOT))
        assert ev[0].__class__ is Accepted
        assert len(e._books[M].size_limits) <= SIZE_LIMITS_CACHED
    # a size first seen as invalid stays invalid after the cache was cleared and refilled
    assert e.place(buy("odd", 10, LOT + 1)) == [Rejected("odd", M, Reason.SIZE_OFF_LOT, 1)]
    assert e.place(buy("big", 10, 11 * SIZE_LIMITS_CACHED * LOT)) == [
        Rejected("big", M, Reason.SIZE_ABOVE_MAX, 1)]


def test_market_order__worst_price_over_notional__rejected_like_a_limit():
    e = engine(max_notional=1)
    e.place(sell("m", 1000, 100))
    cap_price = (2 * ONE - 1) // 100  # highest price with price * 100 // ONE <= 1
    assert e.place(market_buy("t", 100, price=cap_price + 1)) == [
        Rejected("t", M, Reason.NOTIONAL_ABOVE_MAX, 1)]
    assert e.place(market_buy("t", 100, price=cap_price))[0].__class__ is Accepted


def test_account_index__many_accounts_come_and_go__stays_bounded():
    e = engine()
    for i in range(20 * ACCOUNTS_SWEEP_MIN):
        e.place(buy(i, 1000, account=f"0x{i:x}"))
        e.cancel(i, 1)
        assert len(e._by_account) <= 2 * ACCOUNTS_SWEEP_MIN
    e.place(sell("keep", 2000, account="0xkeep"))
    assert [o.id for o in e.open_orders("0xkeep")] == ["keep"]
    assert e.open_orders("0x1") == [] and e.cancel_all("0x1") == []
    assert e.snapshot()["accounts"] == [["0xkeep", ["keep"]]]
