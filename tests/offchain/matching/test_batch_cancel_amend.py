"""Batch place and cancel, cancel-all, amend."""
from offchain.matching import (
    Accepted, Amended, Cancelled, Engine, Expired, Fill, MarketConfig, OrderKind, Place, PostOnly, Reason, Rejected,
)

from .helpers import LOT, M, TICK, buy, engine, kinds, only, sell


def test_place_batch__each_item_answered_on_its_own():
    e = engine()
    out = e.place_batch([buy("a", 1000), buy("b", 1005), buy("c", 990)])
    assert [kinds(x) for x in out] == [[Accepted], [Rejected], [Accepted]]
    assert out[1][0].reason == Reason.PRICE_OFF_TICK


def test_cancel_batch__each_item_answered_on_its_own():
    e = engine()
    e.place(buy("a", 1000))
    out = e.cancel_batch(["a", "zzz", "a"], ts=2)
    assert [type(x[0]) for x in out] == [Cancelled, Rejected, Rejected]


def test_cancel_all__one_market__only_that_market():
    e = Engine([MarketConfig(1, TICK, LOT), MarketConfig(2, TICK, LOT)])
    e.place(buy("a1", 1000, account="0xa", market=1))
    e.place(buy("a2", 1000, account="0xa", market=2))
    e.place(buy("b1", 1000, account="0xb", market=1))
    ev = e.cancel_all("0xa", market=1, ts=3)
    assert [c.order_id for c in ev] == ["a1"]
    assert [o.id for o in e.open_orders("0xa")] == ["a2"]


def test_cancel_all__everywhere__all_resting_and_pending():
    e = Engine([MarketConfig(1, TICK, LOT), MarketConfig(2, TICK, LOT)])
    e.place(buy("a1", 1000, account="0xa", market=1))
    e.place(buy("a2", 1000, account="0xa", market=2))
    e.place(Place("stop", "0xa", 2, True, 100, 0, 2, OrderKind.STOP_MARKET, trigger_price=5000))
    ev = e.cancel_all("0xa", ts=3)
    assert [c.order_id for c in ev] == ["a1", "a2", "stop"]
    assert all(c.reason == Reason.USER for c in ev)
    assert e.open_orders("0xa") == [] and e.cancel_all("0xa") == []


def test_amend__size_down__keeps_priority():
    e = engine()
    e.place(sell("first", 1000, 300, account="0xa"))
    e.place(sell("second", 1000, 300, account="0xb"))
    assert e.amend("first", 2, size=100) == [
        Amended("first", M, "0xa", 1000, 300, 100, True, 2)]
    ev = e.place(buy("t", 1000, 100, ts=3))
    assert only(ev, Fill)[0].maker_id == "first"
    assert e.depth(M, 1) == ([], [(1000, 300)])


def test_amend__price_change__loses_priority():
    e = engine()
    e.place(sell("first", 1010, 100, account="0xa"))
    e.place(sell("second", 1000, 100, account="0xb"))
    ev = e.amend("first", 2, price=1000)
    assert ev[0].kept_priority is False
    assert only(e.place(buy("t", 1000, 100, ts=3)), Fill)[0].maker_id == "second"


def test_amend__size_up__loses_priority():
    e = engine()
    e.place(sell("first", 1000, 100, account="0xa"))
    e.place(sell("second", 1000, 100, account="0xb"))
    assert e.amend("first", 2, size=200)[0].kept_priority is False
    assert only(e.place(buy("t", 1000, 100, ts=3)), Fill)[0].maker_id == "second"


def test_amend__to_crossing_price__matches_as_taker():
    e = engine()
    e.place(sell("s", 1000, 100, account="0xa"))
    e.place(buy("b", 990, 100, account="0xb"))
    ev = e.amend("b", 2, price=1000)
    assert kinds(ev) == [Amended, Fill] and e.best_ask(M) is None


def test_amend__rejected__order_unchanged():
    e = engine()
    e.place(sell("s", 1000, 100, account="0xa"))
    e.place(buy("b", 990, 100, account="0xb", post_only=PostOnly.REJECT))
    assert e.amend("b", 2, price=1000)[0].reason == Reason.POST_ONLY_WOULD_CROSS
    assert e.amend("b", 2, price=995)[0].reason == Reason.PRICE_OFF_TICK
    assert e.get_order("b").price == 990 and e.get_order("b").size == 100


def test_amend__gtd_order_past_expiry__expired_not_amended():
    from offchain.matching import TimeInForce
    e = engine()
    e.place(buy("g", 1000, tif=TimeInForce.GTD, expiry=5))
    ev = e.amend("g", 5, size=200)
    assert kinds(ev) == [Expired, Rejected] and ev[1].reason == Reason.EXPIRED


def _busy_engine(seed: int) -> tuple[Engine, list]:
    """A book with resting orders on both sides, a pending stop, and a few fills done."""
    import random
    rng = random.Random(seed)
    e = engine()
    ids = []
    for i in range(200):
        is_buy = rng.random() < 0.5
        price = (1000 - rng.randint(0, 20) * TICK) if is_buy else (1010 + rng.randint(0, 20) * TICK)
        if rng.random() < 0.1:  # some crossing flow, so fills happen and some ids are gone
            price = 1100 if is_buy else 900
        e.place(Place(i, f"0x{rng.randint(0, 5)}", M, is_buy, rng.randint(1, 5) * LOT, price, i))
        ids.append(i)
    e.place(Place("stop", "0x1", M, True, LOT, 0, 300, OrderKind.STOP_MARKET, trigger_price=5000))
    return e, ids + ["stop", "missing", ["unhashable"]]


def test_cancel_many__same_events_and_book_as_one_cancel_per_id():
    import random
    for seed in range(5):
        a, ids = _busy_engine(seed)
        b, _ = _busy_engine(seed)
        random.Random(seed).shuffle(ids)
        ids = ids + ids[:30]  # cancelling again: unknown order
        flat = a.cancel_many(ids, ts=500)
        one_by_one = [ev for i in ids for ev in b.cancel(i, ts=500)]
        assert flat == one_by_one
        assert a.snapshot() == b.snapshot()
        assert a.book_orders(M) == b.book_orders(M) == ([], [])


def test_cancel_many__account_or_bad_ts__checked_like_cancel():
    for kw in ({"ts": 5, "account": "0x1"}, {"ts": 1.5}):
        a, ids = _busy_engine(1)
        b, _ = _busy_engine(1)
        assert a.cancel_many(ids, **kw) == [ev for i in ids for ev in b.cancel(i, **kw)]
        assert a.snapshot() == b.snapshot()


def test_place_many__flat_list_same_as_place_one_by_one():
    import random
    rng = random.Random(3)
    cmds = [Place(i, f"0x{rng.randint(0, 3)}", M, rng.random() < 0.5, rng.randint(1, 4) * LOT,
                  rng.choice([990, 1000, 1005, 1010, 1020]), i) for i in range(300)]
    cmds.append(Place(1, "0x1", M, True, LOT, 1000, 400))  # possibly a duplicate id
    a, b = engine(), engine()
    assert a.place_many(cmds) == [ev for c in cmds for ev in b.place(c)]
    assert a.snapshot() == b.snapshot()
