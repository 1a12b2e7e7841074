"""Signature recovery on the gateway's recovery thread (gateway.RecoveryThread): the same
results as recovery on the loop, requests still sequenced in arrival order, and the
signer checked against the account's agents as they are after the recovery."""

import asyncio

import pytest

from offchain.keeper.gateway import RecoveryThread
from offchain.order import Signature

from .helpers import ADDR, KEYS, PRICE, order, signed

pytestmark = pytest.mark.anyio


def _mixed_batch():
    """Valid, forged (another key), agent-signed, non-agent-signed, unrecoverable, high-s."""
    good = signed(0, order(0, True, nonce=1, price=PRICE - 10_000))
    forged = signed(0, order(0, True, nonce=2, price=PRICE - 20_000), key=KEYS[5])
    by_agent = signed(2, order(2, True, nonce=3, price=PRICE - 30_000), key=KEYS[3])
    by_stranger = signed(2, order(2, True, nonce=4, price=PRICE - 40_000), key=KEYS[4])
    o = order(1, False, nonce=5, price=PRICE + 10_000)
    unrecoverable = (o, Signature(27, 1, 1), "GTC")
    o2, sig, tif = signed(1, order(1, False, nonce=6, price=PRICE + 20_000))
    high_s = (o2, Signature(55 - sig.v, sig.r, 2**256 - 432420386565659656852420866394968145599 - sig.s), tif)
    crossing = signed(4, order(4, False, nonce=7, price=PRICE - 10_000))  # fills against `good`
    return [good, forged, by_agent, by_stranger, unrecoverable, high_s, crossing]


# inline_max: 0 hands every job to the thread; the default recovers small jobs on the loop
PATHS = pytest.mark.parametrize("inline_max", [0, RecoveryThread.INLINE_MAX], ids=["thread", "small-inline"])


def _keeper(offline_keeper, inline_max: int):
    k = offline_keeper(recovery=True)
    k.gateway.recovery.inline_max = inline_max
    return k


@pytest.mark.parametrize("recovery", [False, 0, RecoveryThread.INLINE_MAX], ids=["no-thread", "thread", "small-inline"])
async def test_place__mixed_signatures__same_results_on_loop_and_thread(offline_keeper, recovery):
    k = offline_keeper(recovery=recovery is not False)
    if recovery is not False:
        k.gateway.recovery.inline_max = recovery
    k.core.account(ADDR[2]).agents.add(ADDR[3])
    results = await k.gateway.place_batch(_mixed_batch())
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("accepted", None), ("rejected", "bad signature"), ("accepted", None), ("rejected", "not an agent"),
        ("rejected", "bad signature"), ("rejected", "bad signature"), ("accepted", None)]
    assert results[6]["fills"] == 1 and len(k.journal.fills()) == 1
    assert [row.seq for row in k.journal.commands()] == [1, 2, 3]


@PATHS
async def test_place__concurrent_single_order_requests__sequenced_in_arrival_order(offline_keeper, inline_max):
    k = _keeper(offline_keeper, inline_max)
    items = [signed(i % 4, order(i % 4, True, nonce=100 + i, price=PRICE - 10_000 * (1 + i))) for i in range(40)]
    tasks = [asyncio.create_task(k.gateway.place_batch([item])) for item in items]
    results = await asyncio.gather(*tasks)
    assert [r[0]["seq"] for r in results] == list(range(1, 41))
    assert [row.seq for row in k.journal.commands()] == list(range(1, 41))


@pytest.mark.parametrize("inline_max", [0], ids=["thread"])  # small requests recover without a wait
async def test_place__agent_revoked_while_recovering__not_an_agent(offline_keeper, inline_max):
    k = _keeper(offline_keeper, inline_max)
    agents = k.core.account(ADDR[2]).agents
    agents.update({ADDR[3], ADDR[5]})
    task = asyncio.create_task(k.gateway.place_batch([signed(2, order(2, True), key=KEYS[3])]))
    await asyncio.sleep(0)  # the request is waiting for its recovery
    agents.discard(ADDR[3])
    (result,) = await task
    assert result == {"status": "rejected", "reason": "not an agent"}
    assert k.core.seq == 0 and list(k.journal.commands()) == []


@pytest.mark.parametrize("inline_max", [0], ids=["thread"])  # small requests recover without a wait
async def test_place__request_cancelled_while_recovering__the_others_keep_their_own_signers(offline_keeper, inline_max):
    """A cancelled request's share of the job's results is skipped, not shifted onto the
    next requests: a forged order after it must not inherit a valid signer of its account."""
    k = _keeper(offline_keeper, inline_max)
    valid = [signed(0, order(0, True, nonce=n, price=PRICE - 10_000 * n)) for n in (1, 2)]
    forged = signed(0, order(0, True, nonce=3, price=PRICE - 30_000), key=KEYS[6])
    after = signed(0, order(0, True, nonce=4, price=PRICE - 40_000))
    tasks = [asyncio.create_task(k.gateway.place_batch([item])) for item in (valid[0], valid[1], forged, after)]
    await asyncio.sleep(0)  # all four wait for the same recovery job
    tasks[0].cancel()
    results = await asyncio.gather(*tasks[1:])
    assert [r[0]["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1][0]["reason"] == "bad signature"
    assert k.core.seq == 2


async def test_place__small_request_behind_a_job_on_the_thread__still_sequenced_after_it(offline_keeper, monkeypatch):
    """A small job is recovered on the loop only while no earlier job is on the thread:
    otherwise it would resolve first and its requests would be sequenced before earlier ones."""
    import threading

    from offchain.keeper import gateway

    release = threading.Event()

    def slow_on_thread(items):  # the thread's job waits until the small requests are queued
        if threading.current_thread() is not threading.main_thread():
            assert release.wait(10)
        return recover_all(items)

    recover_all = gateway.recover_all
    monkeypatch.setattr(gateway, "recover_all", slow_on_thread)
    k = _keeper(offline_keeper, 2)
    big = [signed(0, order(0, True, nonce=200 + n, price=PRICE - 10_000 * (1 + n))) for n in range(3)]
    first = asyncio.create_task(k.gateway.place_batch(big))  # 3 > inline_max: to the thread
    for _ in range(2):
        await asyncio.sleep(0)  # its job handed over
    assert k.gateway.recovery.on_thread == 1
    small = [asyncio.create_task(k.gateway.place_batch([signed(1, order(1, True, nonce=300 + n,
                                                                        price=PRICE - 100_000 * (1 + n)))]))
             for n in range(2)]
    for _ in range(5):
        await asyncio.sleep(0)  # the small job's flush ran (on the loop it would resolve now)
    assert k.core.seq == 0
    release.set()
    results = [await first] + [await t for t in small]
    assert [r["seq"] for batch in results for r in batch] == [1, 2, 3, 4, 5]
    assert k.gateway.recovery.on_thread == 0
    assert [row.seq for row in k.journal.commands()] == [1, 2, 3, 4, 5]
