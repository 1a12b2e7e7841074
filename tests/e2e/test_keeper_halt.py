"""The Oracle's circuit breaker in the keeper, on a real anvil: the guardian halts market 1,
the keeper refuses new orders there (`halted`) and keeps trading market 2; the guardian
resumes, market 1 trades again; the chain settles every fill the keeper matched."""

from __future__ import annotations

import asyncio

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient
from offchain.client.sdk import KeeperError
from offchain.deploy import Web3Deployer
from offchain.keeper.service import Keeper

from .keeper_helpers import caught_up, key, keeper_config, wait_for

pytestmark = pytest.mark.e2e
PRICE1 = 2_000 * 10**6    # market 1 (ETH-PERP, tick 0.01 USDC)
PRICE2 = 60_000 * 10**6   # market 2 (BTC-PERP, tick 0.1 USDC)


@pytest.mark.anyio
async def test_e2e__guardian_halts_market__keeper_rejects_there_trades_elsewhere_resume_trades(stack, tmp_path):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    guardian = Web3Deployer(w3, stack.admin_key)  # deploy_suite grants GUARDIAN_ROLE to the admin

    def guard(fn: str) -> None:
        guardian.transact("Oracle", stack.deployment.oracle, fn, 1)

    keeper = await Keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key)).start()
    try:
        await caught_up(keeper, w3)  # the shared devnet's earlier halts are journaled before `history`
        history = keeper.journal.max_ids()[0]
        a, b = stack.trader_keys[0], stack.trader_keys[1]
        async with AsyncKeeperClient(keeper.url, a) as maker, AsyncKeeperClient(keeper.url, b) as taker:
            info = (await maker.info())["markets"]["1"]
            assert info["halted"] is False and int(info["mark_updated_at"]) > 0 and not info["stale"]
            resting = await maker.place(maker.order(1, True, PRICE1 - 5_000_000, 10**16))
            subscribed = asyncio.Event()
            book = taker.stream(fills=False, book=1, ready=subscribed)
            events: list = []

            async def collect():
                async for event in book:
                    events.append(event)

            reader = asyncio.ensure_future(collect())
            await asyncio.wait_for(subscribed.wait(), 60)

            guard("halt")
            await wait_for(lambda: keeper.core.is_halted(1))
            info = (await maker.info())["markets"]
            assert (info["1"]["halted"], info["1"]["halt_reason"]) == (True, "guardian")
            assert info["2"]["halted"] is False
            for order in (taker.order(1, False, PRICE1 - 5_000_000, 10**16),   # would cross
                          taker.order(1, False, PRICE1 + 5_000_000, 10**16)):  # would rest
                with pytest.raises(KeeperError) as err:
                    await taker.place(order, tif="GTC")
                assert (err.value.status, err.value.detail) == (400, "halted")
            # market 2 still trades, and its fill settles
            await maker.place(maker.order(2, True, PRICE2, 10**15))
            ack2 = await taker.place(taker.order(2, False, PRICE2, 10**15), tif="IOC")
            assert ack2["fills"] == 1
            # the resting order stays on the halted book
            assert (await maker.book(1))["bids"] == [[str(PRICE1 - 5_000_000), str(10**16)]]

            guard("resume")
            await wait_for(lambda: not keeper.core.is_halted(1))
            ack1 = await taker.place(taker.order(1, False, PRICE1 - 5_000_000, 10**16), tif="IOC")
            assert ack1["status"] == "accepted" and ack1["fills"] == 1
            await wait_for(lambda: sum(e.get("type") == "halt" for e in events) == 2)
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await book.aclose()
            halts = [(e["halted"], e["reason"]) for e in events if e.get("type") == "halt"]
            assert halts == [(True, "guardian"), (False, "guardian")]

            # final fills leave the live state: the journal has them
            await wait_for(lambda: len(rows := keeper.journal.fills()) == 2
                           and all(r.state in ("settled", "rejected") for r in rows))
            # nothing the keeper matched was skipped by the chain
            assert [(r.market, r.state, r.reason) for r in keeper.journal.fills()] == [
                (2, "settled", ""), (1, "settled", "")]
            assert resting["hash"] in {f["maker_hash"] for f in await taker.fills()}
        kinds = [r.kind for r in keeper.journal.commands(after=history)]
        assert kinds.count("market_halt") == 2
    finally:
        await keeper.stop()
        if oracle.functions.price_info(1).call()[2]:
            guard("resume")  # the stack is shared by the session


@pytest.mark.anyio
async def test_e2e__keeper_started_during_a_halt__knows_it(stack, tmp_path):
    from dataclasses import replace

    w3 = Web3(Web3.HTTPProvider(stack.url))
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    guardian = Web3Deployer(w3, stack.admin_key)
    guardian.transact("Oracle", stack.deployment.oracle, "halt", 1)
    w3.provider.make_request("evm_mine", [])  # a block after the Halted log, to start from

    # a start block after the Halted log: only the start-up read of price_info can tell
    cfg = keeper_config(stack, tmp_path / "k.db")
    cfg = replace(cfg, chain=replace(cfg.chain, start_block=w3.eth.block_number))
    keeper = await Keeper(cfg, operator=key(stack.operator_key)).start()
    try:
        assert keeper.core.oracle.halted == {1: "oracle"}
        async with AsyncKeeperClient(keeper.url, stack.trader_keys[2]) as trader:
            with pytest.raises(KeeperError) as err:
                await trader.place(trader.order(1, True, PRICE1 - 5_000_000, 10**16))
            assert err.value.detail == "halted"
            assert (await trader.place(trader.order(2, True, PRICE2 - 10**9, 10**15)))["status"] == "accepted"
            guardian.transact("Oracle", stack.deployment.oracle, "resume", 1)
            await wait_for(lambda: not keeper.core.is_halted(1))
            assert (await trader.place(trader.order(1, True, PRICE1 - 5_000_000, 10**16)))["status"] == "accepted"
    finally:
        await keeper.stop()
        if oracle.functions.price_info(1).call()[2]:
            guardian.transact("Oracle", stack.deployment.oracle, "resume", 1)
