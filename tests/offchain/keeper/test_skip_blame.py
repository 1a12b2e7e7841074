"""A fill the chain skipped for a reason that belongs to one side removes only that side's
order; the innocent order gets the size back (in place, or first in its level).

Invariant: after `fill_rejected`, the innocent order's open + filled equals what it was
before the skipped fill was matched (nothing of it is lost), the blamed order is off the
book, and a replay of the journal gives the same book and orders."""

import json

from offchain.keeper import blame as blame_mod
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import WriteSet
from offchain.matching import Engine
from offchain.order import ONE_FILL

from .helpers import ADDR, MARKET, PRICE, OfflineKeeper, order, run, signed


def _place(k, *items):
    return run(_go(k, items))


async def _go(k, items):
    k.start()
    out = await k.gateway.place_batch(list(items))
    await k.committer.stop()
    return out


def _reject(k, fill_id, reason, blamed):
    core = k.core
    ws, out = WriteSet(), Outbox.new()
    core.fill_rejected(core.next_seq(), 10**12, fill_id, reason, ws, out, blamed)
    k.journal.write(ws)
    return out


def _replay(k):
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    for row in k.journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), Outbox.new())
    return core


def _view(core):
    return core.engine.depth(1, 10), {h: (s.status, s.open, s.filled) for h, s in core.orders.items()}


def _queue(core):
    """The bid level's order of accounts (time priority)."""
    bids, _ = core.engine.book_orders(1)
    return [o.account for o in bids]


def test_skip__taker_blamed__resting_maker_gets_size_back_in_place(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    r = _place(k, signed(0, order(0, True, size=3 * 10**17)), signed(2, order(2, True)),
               signed(1, order(1, False)))
    maker = k.core.orders[bytes.fromhex(r[0]["hash"][2:])]
    taker = k.core.orders[bytes.fromhex(r[2]["hash"][2:])]
    assert maker.open == 2 * 10**17 and _queue(k.core) == [ADDR[0], ADDR[2]]
    (fill,) = k.core.fills.values()
    _reject(k, fill.id, "margin", ("taker",))
    assert maker.open == 3 * 10**17 and maker.filled == 0 and maker.status == "open"
    assert _queue(k.core) == [ADDR[0], ADDR[2]]  # exact priority kept
    assert taker.open == 0 and taker.status == "cancelled"
    # the blamed taker is finished and its fill final: out of the live state, its status journaled
    assert taker.hash not in k.core.orders and k.core.fills == {}
    assert k.journal.order(taker.hex)[1].status == "cancelled"
    assert k.core.accounts[ADDR[0]].open_buy[1] == 3 * 10**17
    assert _view(_replay(k)) == _view(k.core)


def test_skip__taker_blamed__used_up_maker_rests_again_first_in_level(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    r = _place(k, signed(0, order(0, True)), signed(2, order(2, True)), signed(1, order(1, False), tif="IOC"))
    maker = k.core.orders[bytes.fromhex(r[0]["hash"][2:])]
    assert maker.status == "filled" and _queue(k.core) == [ADDR[2]]
    (fill,) = k.core.fills.values()
    out = _reject(k, fill.id, "nonce", ("taker",))
    assert maker.status == "open" and maker.open == 10**17 and maker.filled == 0
    assert _queue(k.core) == [ADDR[0], ADDR[2]]  # re-offered first
    assert 1 in out.markets
    assert _view(_replay(k)) == _view(k.core)


def test_skip__maker_blamed__maker_off_book_ioc_taker_not_restored(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    r = _place(k, signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False), tif="IOC"))
    (fill,) = k.core.fills.values()
    maker = k.core.orders[bytes.fromhex(r[0]["hash"][2:])]
    taker = k.core.orders[bytes.fromhex(r[1]["hash"][2:])]
    _reject(k, fill.id, "cancelled", ("maker",))
    assert maker.open == 0 and maker.status == "cancelled"
    assert taker.open == 0 and taker.filled == 0 and taker.status == "done"  # IOC: its time is over
    assert k.core.engine.depth(1, 5) == ([], [])
    assert _view(_replay(k)) == _view(k.core)


def test_skip__market_reason__both_sides_off_book(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    _place(k, signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False, price=PRICE - 10_000 * 5,
                                                                                   size=3 * 10**17)))
    (fill,) = k.core.fills.values()
    _reject(k, fill.id, "halted", ("maker", "taker"))
    assert k.core.engine.depth(1, 5) == ([], [])
    body = json.loads(list(k.journal.commands())[-1].body)
    assert "blame" not in body  # the old command shape: old journals replay the same way


class FakeChain:
    """Exchange views at a block, as blame() reads them."""

    class rpc:
        @staticmethod
        async def call(method, params):
            return {"timestamp": hex(1_000)}

    exchange = object()
    oracle = object()

    def __init__(self, **views):
        self.views = views

    async def call(self, _contract, fn, *args, block=None):
        value = self.views[fn]
        return value(*args) if callable(value) else value


class Side:
    def __init__(self, o, signer=None, h=b"\x01" * 32):
        self.order, self.signer, self.hash = o, signer or o.account, h


class FillStub:
    id, size, price, market = 1, 10**17, PRICE, 1


def _blame(chain, reason, maker, taker, earlier=None):
    return run(blame_mod.blame(chain, reason, FillStub, maker, taker, 100, earlier or {}, 1000))


def test_blame__nonce__the_side_below_its_floor():
    m, t = Side(order(0, True, nonce=5)), Side(order(1, False, nonce=9))
    chain = FakeChain(min_nonce=lambda a: 7)
    assert _blame(chain, "nonce", m, t) == ("maker",)


def test_blame__overfill__counts_earlier_fills_of_the_batch():
    m, t = Side(order(0, True, size=3 * 10**17), h=b"m" * 32), Side(order(1, False), h=b"t" * 32)
    chain = FakeChain(filled=lambda h: 10**17 if h == b"m" * 32 else 0)
    assert _blame(chain, "overfill", m, t) == ("maker", "taker")  # 1e17 + 1e17 <= 3e17: neither found, both
    assert _blame(chain, "overfill", m, t, {b"m" * 32: 2 * 10**17}) == ("maker",)
    chain_t = FakeChain(filled=lambda h: 10**17 if h == b"t" * 32 else 0)
    assert _blame(chain_t, "overfill", m, t) == ("taker",)


def test_blame__one_fill__the_single_fill_side_not_filled_whole():
    m = Side(order(0, True, size=2 * 10**17, flags=ONE_FILL))
    t = Side(order(1, False, flags=ONE_FILL))  # 1e17: the fill's size
    assert _blame(FakeChain(), "one fill", m, t) == ("maker",)


def test_blame__nonce_used__the_side_whose_bit_is_set_or_used_in_the_batch():
    m, t = Side(order(0, True, nonce=3, flags=ONE_FILL), h=b"m" * 32), Side(order(1, False, nonce=4, flags=ONE_FILL), h=b"t" * 32)
    chain = FakeChain(nonce_used=lambda a, n: a == ADDR[1] and n == 4)
    assert _blame(chain, "nonce used", m, t) == ("taker",)
    nobody_set = FakeChain(nonce_used=lambda a, n: False)
    assert _blame(nobody_set, "nonce used", m, t, {b"m" * 32: 10**17}) == ("maker",)  # its earlier fill
    # an order without the flag has no nonce bit: never blamed for it
    plain = Side(order(0, True, nonce=3), h=b"p" * 32)
    assert _blame(FakeChain(nonce_used=lambda a, n: True), "nonce used", plain, t) == ("taker",)


def test_blame__bad_signature__revoked_agent_side():
    m, t = Side(order(0, True)), Side(order(1, False), signer=ADDR[5])
    chain = FakeChain(is_agent=lambda account, agent: False)
    assert _blame(chain, "bad signature", m, t) == ("taker",)


def test_blame__margin__growing_side_short_of_margin_maker_first():
    m, t = Side(order(0, True)), Side(order(1, False))
    equity = {ADDR[0]: 10**12, ADDR[1]: 0}
    chain = FakeChain(position=lambda a, market: (0, 0), equity=lambda a: equity[a],
                      margin_requirement=lambda a, initial: 0)
    assert _blame(chain, "margin", m, t) == ("taker",)
    equity[ADDR[0]] = 0
    assert _blame(chain, "margin", m, t) == ("maker",)


def test_blame__margin__reducing_side_never_blamed():
    m, t = Side(order(0, True)), Side(order(1, False))
    positions = {ADDR[0]: -10**17, ADDR[1]: 0}  # the maker's buy closes its short
    chain = FakeChain(position=lambda a, market: (positions[a], 0), equity=lambda a: 0,
                      margin_requirement=lambda a, initial: 0)
    assert _blame(chain, "margin", m, t) == ("taker",)


def test_blame__pair_reason_or_failed_read__both():
    m, t = Side(order(0, True)), Side(order(1, False))
    assert _blame(FakeChain(), "self trade", m, t) == ("maker", "taker")
    halted = FakeChain(price_info=lambda market: (PRICE, 0, True))
    assert _blame(halted, "halted", m, t) == ()  # market-wide: nobody (test_market_skip.py)

    def broken(*_):
        raise RuntimeError("rpc down")
    assert _blame(FakeChain(min_nonce=broken), "nonce", m, t) == ("maker", "taker")


def _elsewhere_chain(positions, unusable):
    """Market 1 (the fill's) usable; `positions[(account, market)]`; `unusable`: markets
    halted and not fresh."""
    return FakeChain(market_count=3,
                     position=lambda a, market: (positions.get((a, market), 0), 0),
                     price_info=lambda market: (PRICE, 0, market in unusable),
                     is_fresh=lambda market: market not in unusable)


def test_blame__halted_elsewhere__the_growing_side_holding_the_halted_market():
    m, t = Side(order(0, True)), Side(order(1, False))
    chain = _elsewhere_chain({(ADDR[1], 2): 10**17, (ADDR[0], 3): 10**17}, unusable={2})
    assert _blame(chain, "halted", m, t) == ("taker",)   # the maker's market 3 is fine
    assert _blame(chain, "stale", m, t) == ("taker",)


def test_blame__halted_elsewhere__a_reducing_side_is_not_blamed_maker_first():
    m, t = Side(order(0, True)), Side(order(1, False))
    positions = {(ADDR[0], 2): 10**17, (ADDR[1], 2): -10**17}
    chain = _elsewhere_chain(positions, unusable={2})
    assert _blame(chain, "halted", m, t) == ("maker",)  # both hold market 2: the maker first
    positions[(ADDR[0], 1)] = -10**17                     # the maker's buy now closes its short
    assert _blame(chain, "halted", m, t) == ("taker",)


def test_blame__halted_own_market_or_unreadable__nobody():
    m, t = Side(order(0, True)), Side(order(1, False))
    chain = _elsewhere_chain({(ADDR[1], 2): 10**17}, unusable={1, 2})
    assert _blame(chain, "halted", m, t) == ()  # the fill's own market: market-wide

    def broken(*_):
        raise RuntimeError("rpc down")
    assert _blame(FakeChain(price_info=broken), "halted", m, t) == ()
