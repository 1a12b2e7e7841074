"""The sequencer keeps only its live state (docs/keeper.md "Live state"): orders on the book,
waiting, or needed by a fill not yet final; fills not yet final. A finished order leaves
once its last fill is settled or rejected (its final status is journaled in order_states
and the API serves it from there); duplicates are still refused (`seen`). The restart path
(`Keeper.replay`: snapshot + tail + the fills table) gives the same live state as the
running keeper and as a full replay."""

from __future__ import annotations

import types

import pytest
from fastapi.testclient import TestClient

from offchain.keeper.api import create_app
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import SETTLED, WriteSet
from offchain.keeper.service import Keeper, RecoveryReport
from offchain.keeper.settlement import Settlement
from offchain.matching import Engine

from .helpers import ADDR, MARKET, PRICE, OfflineKeeper, order, place_again, run, signed
from .test_snapshot import _snapshot, _view


def traffic(k, offset: int) -> list[dict]:
    async def go():
        k.committer = k.gateway.committer = type(k.committer)(k.journal)
        k.start()
        acks = await k.gateway.place_batch([signed(i % 3, order(i % 3, True, nonce=offset + i,
                                                                price=PRICE - (i % 4) * 10_000, size=10**17))
                                            for i in range(8)])
        k.sent = [signed(3, order(3, False, nonce=offset + 100 + i, price=PRICE - 20_000, size=10**17), tif="IOC")
                  for i in range(5)]
        acks += await k.gateway.place_batch(k.sent)
        await k.committer.stop()
        return acks
    return run(go())


def settle(k, ids) -> None:
    """What Settlement does when a batch's receipt says settled."""
    settlement = Settlement(k.core, None, k.committer, lambda out: None, None)
    ws = WriteSet()
    for i in ids:
        settlement._settled(k.core.fills[i], ws, Outbox.new(), 0.0)
    k.journal.write(ws)


def restart(journal, use_snapshot: bool = True) -> Core:
    """The keeper's restart path (service.Keeper.replay) on a fresh core."""
    keeper = Keeper.__new__(Keeper)
    keeper.journal = journal
    keeper.core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    keeper.engine = keeper.core.engine
    keeper.recovery = RecoveryReport()
    keeper.settlement = types.SimpleNamespace(batch_seq=0)
    if not use_snapshot:
        keeper.journal = types.SimpleNamespace(**{n: getattr(journal, n) for n in (
            "commands", "order_hashes", "one_fill_nonces", "fills_after", "fill_counts", "max_ids")}, snapshot=lambda: None)
    keeper.replay()
    return keeper.core


def test_live_state__settled_fills_and_finished_orders__leave_memory_status_journaled(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    acks = traffic(k, 0)
    fills = sorted(k.core.fills)
    assert len(fills) == 5
    takers = [bytes.fromhex(a["hash"][2:]) for a in acks[8:]]
    before = {h: k.core.orders[h].to_json() for h in takers}
    settle(k, fills)
    assert k.core.fills == {}
    assert not set(takers) & set(k.core.orders)  # finished IOC takers, every fill final
    makers = {bytes.fromhex(a["hash"][2:]) for a in acks[:8]}
    assert set(k.core.orders) < makers  # the makers filled in full left too
    assert all(s.open for s in k.core.orders.values())  # what is left rests
    assert k.core.final_counts == {SETTLED: 5}
    assert set(takers) <= k.core.seen
    # the API serves a finished order from the journal, as it showed it live
    client = TestClient(create_app(k))
    for h in takers:
        got = client.get(f"/orders/0x{h.hex()}").json()
        assert got == {**before[h], "status": "filled"}
    fills_json = client.get(f"/accounts/{ADDR[3]}/fills").json()["fills"]
    assert [f["id"] for f in fills_json] == fills and {f["state"] for f in fills_json} == {"settled"}
    assert client.get(f"/fills/{fills[0]}").json()["state"] == "settled"
    # a finished order sent again is still a duplicate
    dup = run(place_again(k, k.sent[0]))
    assert dup[0]["reason"] == "duplicate order"


@pytest.mark.parametrize("snapshot_when", ["before_settling", "after_settling"])
def test_live_state__restart_from_snapshot__equals_running_keeper_and_full_replay(tmp_path, snapshot_when):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    traffic(k, 0)
    first = sorted(k.core.fills)
    if snapshot_when == "before_settling":
        _snapshot(k)  # holds fills that are settled afterwards: the table says so at restart
    settle(k, first[:3])
    if snapshot_when == "after_settling":
        _snapshot(k)
    ws, out = WriteSet(), Outbox.new()  # a skip in the tail
    k.core.fill_rejected(k.core.next_seq(), 10**12, first[3], "margin", ws, out, ("taker",))
    ws.fill_updates.append({"id": first[3], "state": "rejected", "reason": "margin"})  # as Settlement does
    k.journal.write(ws)
    traffic(k, 1000)
    settle(k, [i for i in sorted(k.core.fills) if i > first[-1]][:2])
    assert k.journal.snapshot()[0] < k.core.seq
    fast, full = restart(k.journal), restart(k.journal, use_snapshot=False)
    for a, b, c in zip(_view(fast)[:-1], _view(full)[:-1], _view(k.core)[:-1]):  # marks: set without a command here
        assert a == b, (a, b)
        assert b == c, (b, c)
    assert fast.seen == full.seen == k.core.seen
    assert fast.final_counts == k.core.final_counts
