"""Depth, best prices, order look-ups, snapshot / restore, determinism."""
import msgspec

from offchain.matching import BreakerConfig, Engine, MarketConfig, OrderKind, Place, TimeInForce

from .helpers import M, buy, sell


def _busy_engine() -> Engine:
    e = Engine([MarketConfig(M, 10, 100, band_bps=1000, breaker=BreakerConfig(500, 10, 5))])
    e.set_mark(M, 1000, 1)
    e.set_position("0xa", M, 300)
    for i in range(5):
        e.place(buy(f"b{i}", 990 - 10 * (i % 3), 100 * (i + 1), account=f"0x{i % 2}", ts=2))
        e.place(sell(f"s{i}", 1010 + 10 * (i % 3), 100 * (i + 1), account=f"0x{i % 2}", ts=2))
    e.place(sell("gtd", 1050, 100, account="0xa", tif=TimeInForce.GTD, expiry=50, ts=2))
    e.place(Place("stop", "0xa", M, False, 100, 0, 3, OrderKind.TRAILING_STOP, trail_bps=300,
                  reduce_only=True))
    e.place(buy("taker", 1010, 200, account="0xz", ts=4))
    return e


def test_depth__top_n_levels_best_first():
    e = _busy_engine()
    bids, asks = e.depth(M, 2)
    assert bids == [(990, 100 + 400), (980, 200 + 500)]
    assert asks == [(1010, 100 + 400 - 200), (1020, 200 + 500)]  # the taker took 200
    assert e.best_bid(M) == 990 and e.best_ask(M) == 1010


def test_open_orders__resting_and_pending_in_placement_order():
    e = _busy_engine()
    assert [o.id for o in e.open_orders("0xa")] == ["gtd", "stop"]
    assert e.get_order("stop").triggered is False
    assert e.get_order("nope") is None


def test_snapshot__restore__same_state_and_same_future_events():
    e = _busy_engine()
    snap = e.snapshot()
    r = Engine.restore(snap)
    assert r.snapshot() == snap
    later = [buy("x", 1030, 700, ts=5), sell("y", 970, 900, ts=6)]
    assert [r.place(c) for c in later] == [e.place(c) for c in later]
    assert r.set_mark(M, 1100, 7) == e.set_mark(M, 1100, 7)
    assert r.set_mark(M, 1060, 8) == e.set_mark(M, 1060, 8)
    assert r.expire(60) == e.expire(60)
    assert r.snapshot() == e.snapshot()


def test_snapshot__survives_msgpack_encoding():
    e = _busy_engine()
    snap = msgspec.msgpack.decode(msgspec.msgpack.encode(e.snapshot()))
    r = Engine.restore(snap)
    assert r.depth(M, 10) == e.depth(M, 10)
    assert r.place(buy("x", 1030, 700, ts=5)) == e.place(buy("x", 1030, 700, ts=5))


def test_engine__same_input__same_events():
    def run():
        return [_busy_engine().place(buy("x", 1020, 900, ts=9))]
    assert run() == run()
