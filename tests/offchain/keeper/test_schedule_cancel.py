"""Schedule-cancel (dead-man's switch): at the signed deadline every order of the account is
cancelled unless a later message moved or cleared it; journaled, so replay does the same."""

import json
import time

import pytest

from offchain.keeper.admission import Rejection
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import Journal
from offchain.matching import Engine
from offchain.wire import ScheduleCancel

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, OfflineKeeper, order, signed

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)

TICK = MARKET.tick


def switch(i: int, deadline: int, key: str | None = None, ts: int | None = None):
    message = ScheduleCancel(ADDR[i], deadline, ts or int(time.time() * 1000))
    return message, message.sign(DOMAIN, key or KEYS[i])


async def expire(k: OfflineKeeper, ts: int) -> None:
    seq = k.core.next_seq()
    await k.gateway.run_command(lambda ws, out: k.core.expire(seq, ts, ws, out))


async def test_schedule_cancel__deadline_passes__all_orders_of_account_cancelled_only(offline_keeper):
    k = offline_keeper()
    placed = await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - n * TICK, nonce=n))
                                          for n in (1, 2)] + [signed(1, order(1, True, price=PRICE - 3 * TICK))])
    now = int(k.gateway.clock() * 1000)
    r = await k.gateway.schedule_cancel(*switch(0, now + 60_000))
    assert r == {"status": "ok", "deadline": str(now + 60_000)}
    await expire(k, now + 59_999)
    assert len(k.core.open_orders(ADDR[0])) == 2
    await expire(k, now + 60_000)
    assert k.core.open_orders(ADDR[0]) == [] and len(k.core.open_orders(ADDR[1])) == 1
    # finished: out of the live state, their status journaled (GET /orders/{hash} reads it)
    assert {k.journal.order(p["hash"])[1].status for p in placed[:2]} == {"cancelled"}
    assert ADDR[0] not in k.core.cancel_deadlines  # spent: later orders are not touched
    await k.stop()


async def test_schedule_cancel__refreshed_or_cleared__orders_stay(offline_keeper):
    k = offline_keeper()
    await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - TICK))])
    now = int(k.gateway.clock() * 1000)
    await k.gateway.schedule_cancel(*switch(0, now + 10_000, ts=int(time.time() * 1000) - 2))
    await k.gateway.schedule_cancel(*switch(0, now + 90_000, ts=int(time.time() * 1000) - 1))  # refresh
    await expire(k, now + 10_000)
    assert len(k.core.open_orders(ADDR[0])) == 1
    await k.gateway.schedule_cancel(*switch(0, 0))  # clear
    await expire(k, now + 90_000)
    assert len(k.core.open_orders(ADDR[0])) == 1
    await k.stop()


@pytest.mark.parametrize("case,reason", [
    ("stranger", "bad signature"), ("soon", "deadline too soon"), ("stale", "stale timestamp"),
    ("replayed", "replayed cancel"),
])
async def test_schedule_cancel__bad_message__refused_and_nothing_set(case, reason, offline_keeper):
    k = offline_keeper()
    now = int(k.gateway.clock() * 1000)
    wall = int(time.time() * 1000)
    if case == "replayed":
        first = switch(0, now + 60_000, ts=wall)
        await k.gateway.schedule_cancel(*first)
        k.core.cancel_deadlines.clear()
        message = first
    else:
        message = {
            "stranger": switch(0, now + 60_000, key=KEYS[3]),
            "soon": switch(0, now + 1_000),
            "stale": switch(0, now + 60_000, ts=wall - 3_600_000),
        }[case]
    with pytest.raises(Rejection) as info:
        await k.gateway.schedule_cancel(*message)
    assert info.value.reason == reason and k.core.cancel_deadlines == {}
    await k.stop()


async def test_replay__schedule_cancel_in_journal__same_cancels(tmp_path):
    url = f"sqlite:///{tmp_path}/j.db"

    k = OfflineKeeper(url)
    k.start()
    await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - TICK)),
                                 signed(1, order(1, True, price=PRICE - 2 * TICK))])
    now = int(k.gateway.clock() * 1000)
    await k.gateway.schedule_cancel(*switch(0, now + 30_000))
    await k.gateway.schedule_cancel(*switch(1, now + 300_000))
    await expire(k, now + 30_000)
    state = (k.core.engine.depth(1, 10), sorted((s.hex, s.status) for s in k.core.orders.values()),
             dict(k.core.cancel_deadlines))
    await k.stop()
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    journal = Journal(url)
    out = Outbox.new()
    for row in journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
    journal.close()
    assert (core.engine.depth(1, 10), sorted((s.hex, s.status) for s in core.orders.values()),
            dict(core.cancel_deadlines)) == state
    assert state[2] == {ADDR[1]: state[2][ADDR[1]]}  # account 1's switch still armed


async def test_snapshot__armed_switch_and_client_ids__restored_as_replay_builds_them(tmp_path):
    from offchain.intent import Intent
    from offchain.keeper.journal import WriteSet

    from .test_order_kinds import with_intent

    url = f"sqlite:///{tmp_path}/j.db"

    k = OfflineKeeper(url)
    k.start()
    await k.gateway.place_batch([with_intent(0, order(0, True, price=PRICE - TICK), Intent(client_id="a-1"))])
    now = int(k.gateway.clock() * 1000)
    await k.gateway.schedule_cancel(*switch(0, now + 30_000))
    await k.committer.stop()
    ws = WriteSet()
    ws.snapshot = (k.core.seq, k.core.snapshot())
    k.journal.write(ws)
    state = (dict(k.core.client_ids), dict(k.core.cancel_deadlines), dict(k.core.schedule_ts))
    k.journal.close()
    assert state[0] and state[1] and state[2]
    journal = Journal(url)
    seq, body = journal.snapshot()
    restored = Core(Engine([market_config(MARKET)]), {1: MARKET})
    restored.restore(body)
    journal.close()
    assert (dict(restored.client_ids), dict(restored.cancel_deadlines), dict(restored.schedule_ts)) == state
