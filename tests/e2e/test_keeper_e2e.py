"""The keeper against a real anvil: SDK -> API -> matching -> settlement -> chain, and back."""

from __future__ import annotations

import asyncio
import time

import pytest

from offchain.client import AsyncKeeperClient
from offchain.deploy import Web3Deployer
from offchain.keeper.service import Keeper
from offchain.order import address_of

from .keeper_helpers import exchange, journaled, key, keeper_config, wait_for, fills_final

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests: `start_keeper` (conftest.py)
PRICE = 2_000 * 10**6


async def test_e2e__crossing_orders_via_sdk__settled_on_chain(stack, tmp_path, start_keeper):
    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    a, b = stack.trader_keys[0], stack.trader_keys[1]
    async with AsyncKeeperClient(keeper.url, a) as maker, AsyncKeeperClient(keeper.url, b) as taker:
        buy = maker.order(1, True, PRICE, 3 * 10**17)
        ack = await maker.place(buy)
        assert ack["status"] == "accepted"
        subscribed = asyncio.Event()
        stream = taker.stream(fills=True, ready=subscribed)
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.wait_for(subscribed.wait(), 60)  # the keeper confirmed it: no fill can be missed
        sells = await taker.place_batch([taker.order(1, False, PRICE, 10**17) for _ in range(2)])
        assert all(r["fills"] == 1 for r in sells)
        event = await asyncio.wait_for(first, 60)
        assert event["type"] == "fill" and event["fill"]["taker"] == taker.account
        await wait_for(lambda: fills_final(keeper, "settled"))
        fills = await taker.fills()
        assert [f["state"] for f in fills] == ["settled", "settled"] and fills[0]["tx_hash"]
        book = await maker.book(1)
        assert book["bids"] == [[str(PRICE), str(10**17)]]
        await stream.aclose()
    _, ex = exchange(stack)
    assert ex.functions.filled(bytes.fromhex(ack["hash"][2:])).call() == 2 * 10**17


class RejectRecorder:
    """A runner with the optional on_fill_rejected hook."""

    def __init__(self):
        self.fills, self.rejected = [], []

    async def on_start(self, keeper): pass
    async def on_mark(self, market, price): pass
    async def on_fill(self, fill): self.fills.append(fill.id)
    async def on_fill_rejected(self, fill): self.rejected.append((fill.id, fill.state, fill.reason))
    async def on_timer(self, now): pass
    async def on_chain_log(self, log): pass
    async def on_stop(self): pass


async def test_e2e__fill_skipped_by_chain__rejected_reported_and_undone(stack, tmp_path, start_keeper):
    recorder = RejectRecorder()

    # a slow watcher: the on-chain cancel is not seen before the taker arrives
    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db", poll_interval=30), operator=key(stack.operator_key), runners=[recorder])
    a, b = stack.trader_keys[2], stack.trader_keys[3]
    async with AsyncKeeperClient(keeper.url, a) as maker, AsyncKeeperClient(keeper.url, b) as taker:
        sell = maker.order(1, False, PRICE + 50_000, 10**17)
        ack = await maker.place(sell)
        w3, ex = exchange(stack)
        Web3Deployer(w3, a).transact(
            "Exchange", stack.deployment.exchange, "cancel_order", sell.as_tuple())
        subscribed = asyncio.Event()
        updates = maker.stream(fills=False, orders=True, ready=subscribed)
        first = asyncio.ensure_future(updates.__anext__())
        await asyncio.wait_for(subscribed.wait(), 60)
        await taker.place(taker.order(1, True, PRICE + 50_000, 10**17), tif="IOC")
        await wait_for(lambda: fills_final(keeper, "rejected"))
        (fill,) = await taker.fills()
        assert fill["state"] == "rejected" and fill["reason"] == "cancelled"
        seen = [await asyncio.wait_for(first, 60)]
        while not any(m.get("type") == "fill_rejected" for m in seen):
            seen.append(await asyncio.wait_for(updates.__anext__(), 60))
        await updates.aclose()
        state = await taker.account_state()
        assert state["positions"]["1"]["pending_size"] == "0"
        await wait_for(lambda: recorder.rejected)
        assert recorder.rejected == [(fill["id"], "rejected", "cancelled")]
        assert recorder.fills == [fill["id"]]
    assert ex.functions.cancelled(bytes.fromhex(ack["hash"][2:])).call()


async def test_e2e__onchain_cancel__watcher_takes_order_off_book(stack, tmp_path, start_keeper):
    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    a = stack.trader_keys[4]
    async with AsyncKeeperClient(keeper.url, a) as maker:
        buy = maker.order(1, True, PRICE - 500_000_000, 10**16)
        ack = await maker.place(buy)
        w3, _ = exchange(stack)
        Web3Deployer(w3, a).transact("Exchange", stack.deployment.exchange, "cancel_order", buy.as_tuple())
        h = bytes.fromhex(ack["hash"][2:])  # off the book: out of the live state, or open 0
        await wait_for(lambda: h not in keeper.core.orders or keeper.core.orders[h].open == 0)
        assert (await maker.open_orders()) == []
        await journaled(keeper, "chain_cancel")


async def test_e2e__oracle_feed__random_walk_pushed_and_marks_journaled(stack, tmp_path, start_keeper):
    from dataclasses import replace

    from offchain.keeper.config import OracleConfig

    cfg = keeper_config(stack, tmp_path / "k.db")
    cfg = replace(cfg, oracle=OracleConfig(source="random", seed=7, interval=0.2, markets=(1,), max_step_bps=5))
    keeper = await start_keeper(cfg, operator=key(stack.operator_key), reporter=key(stack.reporter_key))
    await wait_for(lambda: keeper.feed.pushed >= 2)
    await wait_for(lambda: sum(1 for r in keeper.journal.commands() if r.kind == "mark") >= 1)
    _, ex = exchange(stack)


async def test_e2e__runner_hook__gets_marks_and_fills(stack, tmp_path):
    from dataclasses import replace

    from offchain.keeper.config import OracleConfig

    class Recorder:
        def __init__(self):
            self.marks, self.fills, self.timers, self.started, self.stopped = [], [], 0, False, False

        async def on_start(self, keeper): self.started = True
        async def on_mark(self, market, price): self.marks.append((market, price))
        async def on_fill(self, fill): self.fills.append(fill.id)
        async def on_timer(self, now): self.timers += 1
        async def on_chain_log(self, log): pass
        async def on_stop(self): self.stopped = True

    cfg = replace(keeper_config(stack, tmp_path / "k.db"),
                  oracle=OracleConfig(source="random", seed=3, interval=0.2, markets=(1,), max_step_bps=2))
    recorder = Recorder()
    keeper = await Keeper(cfg, operator=key(stack.operator_key), reporter=key(stack.reporter_key),
                          runners=[recorder]).start()
    try:
        await wait_for(lambda: recorder.marks)
        async with AsyncKeeperClient(keeper.url, stack.trader_keys[0]) as a, \
                AsyncKeeperClient(keeper.url, stack.trader_keys[1]) as b:
            price = keeper.core.marks[1] // 10_000 * 10_000
            await a.place(a.order(1, True, price, 10**16))
            await b.place(b.order(1, False, price, 10**16), tif="IOC")
        await wait_for(lambda: recorder.fills)
    finally:
        await keeper.stop()
    assert recorder.started and recorder.stopped and recorder.marks[0][0] == 1


async def test_e2e__keeper_app__analytics_routes_mounted_and_in_openapi(stack, tmp_path):
    import httpx

    keeper = await Keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key)).start()
    try:
        a, b = stack.trader_keys[4], stack.trader_keys[5]
        async with AsyncKeeperClient(keeper.url, a) as maker, AsyncKeeperClient(keeper.url, b) as taker:
            await maker.place(maker.order(1, True, PRICE - 1_000_000, 10**16))
            await taker.place(taker.order(1, False, PRICE - 1_000_000, 10**16), tif="IOC")
            await wait_for(lambda: fills_final(keeper, "settled"))
            maker_account, taker_account = maker.account, taker.account
        async with httpx.AsyncClient(base_url=keeper.url, timeout=30) as http:
            paths = (await http.get("/openapi.json")).json()["paths"]
            account = (await http.get(f"/analytics/{taker_account}")).json()
            pool = await http.get("/analytics/pool")
            not_vault = await http.get(f"/analytics/vault/{maker_account}")
            bad = await http.get("/analytics/nonsense")
            health = await http.get("/health")
    finally:
        await keeper.stop()
    assert {"/analytics/pool", "/analytics/vault/{vault}", "/analytics/{account}"} <= set(paths)
    assert account["kind"] == "account" and account["taker_volume"] >= (PRICE - 1_000_000) // 100
    assert pool.status_code == 200 and pool.json()["kind"] == "pool"
    assert not_vault.status_code == 404 and bad.status_code == 400 and health.status_code == 200
