"""GTD expiries of orders gone since (cancelled, filled) are compacted out of the book's
heap once they outnumber the live orders (Engine._push_expiry), so the heap and a snapshot
stay proportional to the live book; live orders still expire in (expiry, seq) order."""

from __future__ import annotations

from offchain.matching import Expired, TimeInForce

from .helpers import buy, engine, kinds


def test_expiry_heap__cancelled_gtd_orders__compacted_live_ones_still_expire():
    e = engine()
    for i in range(5_000):
        e.place(buy(("c", i), 1000 - (i % 50), tif=TimeInForce.GTD, expiry=10_000 + i))
        e.cancel(("c", i), ts=1)
    keep = [("k", i) for i in range(3)]
    for i, oid in enumerate(keep):
        e.place(buy(oid, 900, tif=TimeInForce.GTD, expiry=500 + i))
    (book,) = e._books.values()
    assert len(book.expiries) <= 2 * len(e._orders) + 1024 + 1  # not every order ever placed
    events = e.expire(10_000)
    assert kinds(events) == [Expired] * 3 and [ev.order_id for ev in events] == keep
    assert e.depth(1, 5) == ([], [])
