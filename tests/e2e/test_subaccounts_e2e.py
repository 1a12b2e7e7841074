"""Sub-accounts end to end on anvil, through the SDK: open a sub-account, split part of a
position into it, trade it through the keeper (orders signed by the owner for the
sub-account), move part of it to another trader with a relayed PositionTransfer (both
signatures, POST /transfers), merge the rest back; after every step the keeper's view of
each account (its watcher's snapshot) equals the chain."""

from __future__ import annotations

import asyncio

import pytest
from web3 import Web3

from offchain.client import AsyncKeeperClient
from offchain.client.sdk import KeeperError
from offchain.client.subaccounts import SubaccountClient
from offchain.artifacts import abi
from offchain.client.wallet import KeySigner, TxError
from offchain.deploy import Web3Deployer
from offchain.order import address_of
from tests.constants import ONE, TICK, USDC

from .keeper_helpers import key, keeper_config, wait_for

pytestmark = pytest.mark.e2e


@pytest.mark.anyio
async def test_e2e__split_trade_transfer_merge__keeper_view_equals_chain(stack, tmp_path, start_keeper):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    # accounts of its own: the session's shared traders may hold positions from earlier tests
    owner_key, cp_key = stack.new_traders(2)
    owner, cp = address_of(owner_key), address_of(cp_key)
    subs = SubaccountClient(w3, stack.deployment.exchange, KeySigner(w3, owner_key), private_key=owner_key)
    theirs = SubaccountClient(w3, stack.deployment.exchange, KeySigner(w3, cp_key), private_key=cp_key)
    views = subs.views.functions
    # a fresh mark on the tick (other e2e tests may have moved or aged it)
    oracle = stack.deployment.oracle
    mark = w3.eth.contract(address=oracle, abi=abi("Oracle")).functions.price_info(1).call()[0] // TICK * TICK
    Web3Deployer(w3, stack.reporter_key).transact("Oracle", oracle, "set_price", 1, mark)
    PRICE = mark

    def chain_state(a):
        return int(views.collateral(a).call()), subs.position(a, 1)

    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    core = keeper.core

    def keeper_state(a):
        s = core.accounts.get(a)
        if s is None:
            return None
        size, cost = s.positions.get(1, [0, 0])
        return s.collateral, (size, cost)

    async def agree(*accounts):
        # the watcher re-reads moved accounts in the poll that sees the log
        await wait_for(lambda: all(keeper_state(a) == chain_state(a) for a in accounts))

    async with AsyncKeeperClient(keeper.url, owner_key) as me, AsyncKeeperClient(keeper.url, cp_key) as them:
        # the owner goes long 1 ETH against cp through the keeper
        start = subs.position(owner, 1)[0]
        await them.place(them.order(1, False, PRICE, ONE))
        await me.place(me.order(1, True, PRICE, ONE), tif="IOC")
        await wait_for(lambda: subs.position(owner, 1)[0] == start + ONE)

        sub = await asyncio.to_thread(subs.open, 1)
        assert subs.is_open(sub) and sub == subs.address_of(1)
        await wait_for(lambda: keeper.watcher.subaccounts.owners.get(sub) == owner)
        assert await me.subaccounts() == [{"index": 1, "account": sub}]

        # split half of it into the sub-account with 400 USDC of margin
        await asyncio.to_thread(subs.split, sub, 1, ONE // 2, 400 * USDC)
        assert subs.position(sub, 1) == (ONE // 2, PRICE // 2)
        await agree(owner, sub)

        # trade the sub-account: the owner's key signs its order
        async with AsyncKeeperClient(keeper.url, owner_key, account=sub) as desk:
            await them.place(them.order(1, True, PRICE, ONE // 4))
            ack = await desk.place(desk.order(1, False, PRICE, ONE // 4), tif="IOC")
            assert ack["status"] == "accepted"
        await wait_for(lambda: subs.position(sub, 1)[0] == ONE // 4)
        await agree(owner, sub, cp)

        # a block trade off the book: the sub-account gives cp 0.1 ETH at 2,010, both sign,
        # the keeper relays it
        t = subs.transfer(sub, cp, 1, ONE // 10, PRICE + 10 * USDC)
        with pytest.raises(KeeperError) as refused:  # one signature only: refused, nothing sent
            await me.relay_transfer(t, subs.sign(t), None)
        assert refused.value.detail == "missing signature"
        out = await me.relay_transfer(t, subs.sign(t), theirs.sign(t))
        assert out["status"] == "ok"
        assert subs.position(sub, 1)[0] == ONE // 4 - ONE // 10
        await agree(sub, cp)
        with pytest.raises(KeeperError) as replay:
            await me.relay_transfer(t, subs.sign(t), theirs.sign(t))
        assert replay.value.detail == "transfer used"

        # merge the rest back with its collateral
        with pytest.raises(TxError) as bad:
            await asyncio.to_thread(theirs.merge, sub, 1, 0)
        assert bad.value.reason == "exchange: not owner"
        await asyncio.to_thread(subs.merge, sub, 1, 0)
        coll = int(views.collateral(sub).call())
        await asyncio.to_thread(subs.move_collateral, sub, owner, coll)
        assert chain_state(sub) == (0, (0, 0))
        await agree(owner, sub, cp)

    # analytics per sub-account: its own section, transfers as fills, moves as deposits
    from offchain.analytics.collect import collect, subaccounts
    assert subaccounts(w3, stack.deployment, owner) == [sub]
    act = await asyncio.to_thread(collect, w3, stack.deployment, sub)
    assert [(f.is_buy, f.size, f.fee) for f in act.fills] == [
        (True, ONE // 2, 0), (False, ONE // 4, act.fills[1].fee), (False, ONE // 10, 0),
        (False, ONE // 4 - ONE // 10, 0)]
    assert act.fills[2].price == PRICE + 10 * USDC
    assert act.initial_equity == 400 * USDC - coll
