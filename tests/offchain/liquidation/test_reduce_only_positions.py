"""Reduce-only orders against the chain's positions (offline: a real Engine, Core, journal
and Gateway, no chain).

Invariant: the engine's position of an account in a market is the last journaled `position`
command (the chain's, read with no fill of it in flight) plus every fill the keeper matched
since, minus the fills the chain skipped; a reduce-only order is accepted only for what
reduces that position (clipped, never flipping it) and refused with "reduce only"
otherwise; replaying the journal gives the same positions and the same decisions."""

from __future__ import annotations

import pytest

from offchain.keeper.core import Outbox
from offchain.keeper.journal import WriteSet
from offchain.order import REDUCE_ONLY
from tests.constants import ONE

from ..keeper.helpers import ADDR, PRICE, OfflineKeeper, order, signed
from ..keeper.replay import replay

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)



async def _place(k: OfflineKeeper, *items) -> list[dict]:
    return await k.gateway.place_batch(list(items))


def _chain_position(k: OfflineKeeper, i: int, size: int) -> None:
    """The account's chain snapshot says `size`; journal the engine's correction as
    Keeper.sync_positions does (after a read at the latest block)."""
    core = k.core
    core.account(ADDR[i]).positions[1] = [size, size * PRICE // ONE]
    ws, out = WriteSet(), Outbox.new()
    for market, chain_size in core.position_drift(ADDR[i], core.unsettled_markets(ADDR[i])):
        core.set_position(core.next_seq(), 1, ADDR[i], market, chain_size, ws, out)
    k.journal.write(ws)


async def test_reduce_only__chain_long__sell_accepted_clipped_buy_refused(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    k.start()
    _chain_position(k, 0, ONE)  # account 0 is long 1 on chain (e.g. opened before this journal)
    assert k.core.engine.position(ADDR[0], 1) == ONE
    (bid,) = await _place(k, signed(1, order(1, True, size=3 * ONE)))
    (sell,) = await _place(k, signed(0, order(0, False, size=4 * 10**17, flags=REDUCE_ONLY), tif="IOC"))
    (buy,) = await _place(k, signed(0, order(0, True, PRICE - 100_000, size=10**17, nonce=2,
                                             flags=REDUCE_ONLY)))
    # more than the rest of the long: clipped to 0.6, the position never flips
    (big,) = await _place(k, signed(0, order(0, False, size=2 * ONE, nonce=3, flags=REDUCE_ONLY), tif="IOC"))
    (after,) = await _place(k, signed(0, order(0, False, size=10**17, nonce=4, flags=REDUCE_ONLY)))
    await k.committer.stop()
    assert bid["status"] == "accepted"
    assert sell["status"] == "accepted" and sell["fills"] == 1
    assert buy == {"status": "rejected", "reason": "reduce only", "hash": buy["hash"]}
    assert big["status"] == "accepted" and big["fills"] == 1
    fills = list(k.core.fills.values())
    assert [f.size for f in fills] == [4 * 10**17, 6 * 10**17]
    assert k.core.engine.position(ADDR[0], 1) == 0
    assert k.core.engine.position(ADDR[1], 1) == ONE
    assert after["status"] == "rejected" and after["reason"] == "reduce only"  # flat now
    replayed = replay(k.journal.url)
    assert replayed.engine.position(ADDR[0], 1) == 0 and replayed.engine.position(ADDR[1], 1) == ONE
    assert {h: s.status for h, s in replayed.orders.items()} == {h: s.status for h, s in k.core.orders.items()}
    k.journal.close()


async def test_reduce_only__fill_skipped_by_chain__engine_position_restored(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    k.start()
    _chain_position(k, 0, -ONE)  # short 1 on chain
    await _place(k, signed(1, order(1, False, size=ONE)))
    (cover,) = await _place(k, signed(0, order(0, True, size=ONE, flags=REDUCE_ONLY), tif="IOC"))
    assert cover["fills"] == 1 and k.core.engine.position(ADDR[0], 1) == 0
    (fill,) = k.core.fills.values()
    ws, out = WriteSet(), Outbox.new()
    k.core.fill_rejected(k.core.next_seq(), 10**12, fill.id, "margin", ws, out, ("taker",))
    k.journal.write(ws)
    # the chain did not take it: the short is open again and can be reduced again
    (again,) = await _place(k, signed(0, order(0, True, size=ONE, nonce=2, flags=REDUCE_ONLY), tif="IOC"))
    await k.committer.stop()
    assert k.core.engine.position(ADDR[0], 1) == 0 and k.core.engine.position(ADDR[1], 1) == -ONE
    assert again["status"] == "accepted" and again["fills"] == 1  # the maker got its size back
    replayed = replay(k.journal.url)
    assert replayed.engine.position(ADDR[0], 1) == 0
    assert [f.state for f in replayed.fills.values()] == ["matched"]  # the rejected one left the live state
    k.journal.close()


async def test_position_drift__market_with_unsettled_fill__not_corrected(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    k.start()
    await _place(k, signed(1, order(1, False, size=ONE)))
    await _place(k, signed(0, order(0, True, size=ONE), tif="IOC"))
    await k.committer.stop()
    core = k.core
    assert core.engine.position(ADDR[0], 1) == ONE and core.unsettled_markets(ADDR[0]) == {1}
    core.account(ADDR[0]).positions[1] = [0, 0]  # a snapshot that does not have the fill yet
    assert core.position_drift(ADDR[0], core.unsettled_markets(ADDR[0])) == []
    (fill,) = core.fills.values()
    core.mark_fill(fill.id, "settled")
    core.account(ADDR[0]).positions[1] = [3 * ONE, 0]  # settled, and then the chain moved it (e.g. ADL)
    assert core.position_drift(ADDR[0], core.unsettled_markets(ADDR[0])) == [(1, 3 * ONE)]
    k.journal.close()
