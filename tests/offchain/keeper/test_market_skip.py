"""A fill the chain skipped for a market-wide reason (inactive, halted, stale, delisted,
band) is nobody's fault: neither order is cancelled, both get the size back at their
priority, and the keeper treats the market as halted until the chain says otherwise, so
it does not match the pair again into the same skip.

Invariant: after such a skip every order's open + filled is what it was before the fill
(nothing lost), no order is cancelled, no new order matches in the market until the halt
clears, and a replay of the journal gives the same book, orders and halt state."""

from __future__ import annotations

import pytest

from offchain.keeper import blame as blame_mod
from offchain.keeper.blame import MARKET_WIDE, NOBODY
from offchain.keeper.core import Outbox
from offchain.keeper.journal import WriteSet
from tests.constants import TICK

from .helpers import ADDR, PRICE, OfflineKeeper, order, place_again, run, signed
from .test_skip_blame import FakeChain, FillStub, Side, _place, _queue, _reject, _replay, _view



def _state(core):
    return _view(core), dict(core.oracle.halted), dict(core.chain_halts)


@pytest.mark.parametrize("reason", sorted(MARKET_WIDE))
def test_market_skip__nobody_blamed__both_orders_back_market_halted(tmp_path, reason):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    r = _place(k, signed(0, order(0, True, size=3 * 10**17)), signed(2, order(2, True)),
               signed(1, order(1, False, size=2 * 10**17, price=PRICE - TICK)))  # GTC taker, used up
    maker = k.core.orders[bytes.fromhex(r[0]["hash"][2:])]
    taker = k.core.orders[bytes.fromhex(r[2]["hash"][2:])]
    (fill,) = k.core.fills.values()
    assert maker.open == 10**17 and taker.status == "filled"
    out = _reject(k, fill.id, reason, NOBODY)
    # the resting maker gets its size back in place (exact priority), nobody is cancelled
    assert (maker.open, maker.filled, maker.status) == (3 * 10**17, 0, "open")
    assert _queue(k.core) == [ADDR[0], ADDR[2]]
    # the used-up aggressor would cross the restored maker again: done, not cancelled
    assert (taker.open, taker.filled, taker.status) == (0, 0, "done")
    assert k.core.oracle.halted == {1: f"chain: {reason}"}
    assert out.halts == [(1, True, f"chain: {reason}")]
    # no new order matches there meanwhile: admission refuses the market
    refused = run(place_again(k, signed(1, order(1, False, nonce=9, price=PRICE - TICK))))
    assert refused[0] == {"status": "rejected", "reason": "halted"}
    assert _state(_replay(k)) == _state(k.core)


def test_market_skip__resting_taker_grows_in_place_used_up_maker_done(tmp_path):
    """A GTC taker with a resting remainder gets its size back there; the maker the fill used
    up would have to be placed again across that remainder, which a halted market cannot
    match: it is done (not cancelled). The book never crosses."""
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    r = _place(k, signed(0, order(0, True)), signed(1, order(1, False, size=3 * 10**17, price=PRICE)))
    maker = k.core.orders[bytes.fromhex(r[0]["hash"][2:])]
    taker = k.core.orders[bytes.fromhex(r[1]["hash"][2:])]
    (fill,) = k.core.fills.values()
    _reject(k, fill.id, "halted", NOBODY)
    assert (taker.open, taker.filled, taker.status) == (3 * 10**17, 0, "open")
    assert (maker.open, maker.filled, maker.status) == (0, 0, "done")
    assert k.core.engine.depth(1, 5) == ([], [(PRICE, 3 * 10**17)])
    assert _state(_replay(k)) == _state(k.core)


def _mark(k, price: int, updated_at: int):
    ws, out = WriteSet(), Outbox.new()
    k.core.set_mark(k.core.next_seq(), 10**12, 1, price, ws, out, updated_at)
    k.journal.write(ws)
    return out


@pytest.mark.parametrize("reason", ["stale", "band"])
def test_market_skip__stale_or_band__cleared_by_a_newer_mark(tmp_path, reason):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    _mark(k, PRICE, 100)
    _place(k, signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False), tif="IOC"))
    (fill,) = k.core.fills.values()
    _reject(k, fill.id, reason, NOBODY)
    assert k.core.chain_halts == {1: 100}
    assert _mark(k, PRICE, 100).halts == []  # the same report again: still halted
    assert k.core.oracle.halted == {1: f"chain: {reason}"}
    out = _mark(k, PRICE, 101)  # a fresh report: trades again
    assert out.halts == [(1, False, f"chain: {reason}")]
    assert k.core.oracle.halted == {} and k.core.chain_halts == {}
    assert _state(_replay(k)) == _state(k.core)


def test_market_skip__chain_halt__stays_until_resumed(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    _mark(k, PRICE, 100)
    _place(k, signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False), tif="IOC"))
    (fill,) = k.core.fills.values()
    _reject(k, fill.id, "halted", NOBODY)
    _mark(k, PRICE + TICK, 101)  # a halted oracle still takes prices: not a resume
    assert k.core.oracle.halted == {1: "chain: halted"}
    ws, out = WriteSet(), Outbox.new()
    k.core.market_halt(k.core.next_seq(), 10**12, 1, False, "guardian", ws, out)  # the chain's Resumed
    k.journal.write(ws)
    assert k.core.oracle.halted == {} and k.core.chain_halts == {}
    assert _state(_replay(k)) == _state(k.core)


def test_market_skip__already_halted__reason_kept(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    _place(k, signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False), tif="IOC"))
    (fill,) = k.core.fills.values()
    ws, out = WriteSet(), Outbox.new()
    k.core.market_halt(k.core.next_seq(), 10**12, 1, True, "guardian", ws, out)
    k.journal.write(ws)
    out = _reject(k, fill.id, "halted", NOBODY)
    assert k.core.oracle.halted == {1: "guardian"} and out.halts == [] and k.core.chain_halts == {}


@pytest.mark.anyio
@pytest.mark.parametrize("reason", sorted(MARKET_WIDE))
async def test_blame__market_wide_reason__nobody(reason):
    o = order(0, True)
    assert await blame_mod.blame(FakeChain(), reason, FillStub(), Side(o), Side(order(1, False)), 10, {}, 0) == ()
