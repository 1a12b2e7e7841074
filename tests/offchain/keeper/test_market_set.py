"""MarketSet at run time: the keeper follows the Exchange registry's changes (new market,
band, tick / lot, active) from the point in the sequence where it saw them.

Invariant kept: after a `market_set` command, admission and the engine apply the new rules
(what the chain's settle would accept), live orders the chain would now skip are off the
book, and the journal replays the change at the same point (same book and statuses)."""

import dataclasses
import time

import pytest

from offchain.keeper.admission import MarketInfo

from .helpers import MARKET, PRICE, OfflineKeeper, order, order_of, signed
from .replay import replay
from .test_order_kinds import TICK, mark, snapshot

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)


async def market_set(k: OfflineKeeper, info: MarketInfo) -> None:
    seq = k.core.next_seq()
    await k.gateway.run_command(lambda ws, out: k.core.market_set(seq, int(time.time() * 1000), info, ws, out))


async def place(k, i, o):
    (r,) = await k.gateway.place_batch([signed(i, o)])
    return r


async def test_market_set__band_narrowed__out_of_band_taker_refused_band(offline_keeper):
    k = offline_keeper()
    await mark(k, PRICE)
    ask = PRICE + 1000 * TICK  # 0.5 % above the mark: inside the 5 % band
    await place(k, 1, order(1, False, price=ask, nonce=1))
    await market_set(k, dataclasses.replace(MARKET, band_bps=20))  # 0.2 %
    r = await place(k, 0, order(0, True, price=ask, nonce=1))
    assert r == {"status": "rejected", "reason": "band", "hash": r["hash"]}
    assert k.core.markets[1].band_bps == 20 and k.gateway.ctx.markets[1].band_bps == 20
    await k.stop()


async def test_market_set__new_market__orders_accepted_there(offline_keeper):
    k = offline_keeper()
    assert (await place(k, 0, order(0, True, market=2, nonce=1)))["reason"] == "unknown market"
    await market_set(k, dataclasses.replace(MARKET, market=2))
    r = await place(k, 0, order(0, True, market=2, nonce=2))
    assert r["status"] == "accepted" and k.core.engine.depth(2, 1)[0] == [(PRICE, 10**17)]
    await k.stop()


async def test_market_set__tick_lot_change_and_deactivation__void_orders_leave(tmp_path, offline_keeper):
    k = offline_keeper()
    on_tick = await place(k, 0, order(0, True, price=PRICE - 10 * TICK, nonce=1))
    off_tick = await place(k, 0, order(0, True, price=PRICE - 3 * TICK, nonce=2))
    off_lot = await place(k, 1, order(1, False, price=PRICE + 10 * TICK, size=10**17 + 10**15, nonce=1))
    await market_set(k, dataclasses.replace(MARKET, tick=10 * TICK, lot=10**16))
    status = {r["hash"]: order_of(k, bytes.fromhex(r["hash"][2:])).status for r in (on_tick, off_tick, off_lot)}
    assert list(status.values()) == ["open", "cancelled", "cancelled"]
    assert (await place(k, 0, order(0, True, price=PRICE - 5 * TICK, nonce=3)))["reason"] == "price off tick"
    await market_set(k, dataclasses.replace(MARKET, tick=10 * TICK, lot=10**16, active=False))
    assert order_of(k, bytes.fromhex(on_tick["hash"][2:])).status == "cancelled"
    assert (await place(k, 0, order(0, True, price=PRICE - 10 * TICK, nonce=4)))["reason"] == "unknown market"
    state = snapshot(k.core)
    await k.stop()
    core = replay(f"sqlite:///{tmp_path}/j.db")
    assert snapshot(core) == state and core.markets[1].active is False and core.markets[1].tick == 10 * TICK
