"""Against a real anvil: a chain-side skip whose reason belongs to one side removes only
that side's order, and an old signed order the chain already filled is refused at
admission (it can no longer be used to pull an innocent maker's order)."""

from __future__ import annotations


import pytest
from web3 import Web3

from offchain.client import AsyncKeeperClient, KeeperError
from offchain.deploy import Web3Deployer
from offchain.keeper.devstack import fund
from offchain.keeper.service import Keeper
from tests.constants import USDC

from .keeper_helpers import exchange, journaled, key, keeper_config, wait_for, fills_final

pytestmark = pytest.mark.e2e
PRICE = 2_000 * 10**6


@pytest.mark.anyio
async def test_e2e__taker_withdrew_then_crossed__margin_skip_blames_taker_maker_keeps_its_order(stack, tmp_path):
    maker_key, taker_key = stack.keys[10], stack.keys[11]
    w3 = Web3(Web3.HTTPProvider(stack.url))
    admin = Web3Deployer(w3, stack.admin_key)
    fund(w3, stack.deployment, admin, maker_key, 1_000_000 * USDC)
    fund(w3, stack.deployment, admin, taker_key, 1_000 * USDC)

    # a slow watcher: the keeper does not see the withdrawal before the taker crosses
    keeper = await Keeper(keeper_config(stack, tmp_path / "k.db", poll_interval=30),
                          operator=key(stack.operator_key)).start()
    try:
        async with AsyncKeeperClient(keeper.url, maker_key) as maker, \
                AsyncKeeperClient(keeper.url, taker_key) as taker:
            bid = await maker.place(maker.order(1, True, PRICE - 7_000_000, 3 * 10**17))
            await taker.place(taker.order(1, False, 2 * PRICE, 10**16))  # the keeper loads the taker
            _, ex = exchange(stack)
            Web3Deployer(w3, taker_key).transact("Exchange", stack.deployment.exchange, "withdraw",
                                                 ex.functions.collateral(taker.account).call())
            sell = await taker.place(taker.order(1, False, PRICE - 7_000_000, 10**17))
            assert sell["fills"] == 1
            await wait_for(lambda: fills_final(keeper, "rejected"))
            (fill,) = await maker.fills()
            assert fill["reason"] == "margin"
            maker_order = (await maker.http.get(f"/orders/{bid['hash']}")).json()
            assert maker_order["status"] == "open" and maker_order["open"] == str(3 * 10**17)
            assert maker_order["filled"] == "0"
            taker_order = (await taker.http.get(f"/orders/{sell['hash']}")).json()
            assert taker_order["status"] == "cancelled" and taker_order["open"] == "0"
            book = await maker.book(1)
            assert [str(PRICE - 7_000_000), str(3 * 10**17)] in book["bids"]
            body = (await journaled(keeper, "fill_rejected"))[-1].body
            assert '"blame":["taker"]' in body.replace(" ", "")
            await maker.cancel([bid["hash"]])
    finally:
        await keeper.stop()


@pytest.mark.anyio
async def test_e2e__replayed_order_already_filled_on_chain__refused_filled(stack, tmp_path):
    a, b = stack.trader_keys[0], stack.trader_keys[1]

    keeper = await Keeper(keeper_config(stack, tmp_path / "k1.db"), operator=key(stack.operator_key)).start()
    try:
        async with AsyncKeeperClient(keeper.url, a) as maker, AsyncKeeperClient(keeper.url, b) as taker:
            buy = maker.order(1, True, PRICE - 9_000_000, 10**16)
            await maker.place(buy)
            sell = taker.order(1, False, PRICE - 9_000_000, 10**16)
            signed_sell = taker.signed(sell, "IOC")
            await taker.place_batch([signed_sell])
            await wait_for(lambda: fills_final(keeper, "settled"))
    finally:
        await keeper.stop()
    # a keeper whose journal does not know these orders (a fresh one, or a standby's)
    fresh = await Keeper(keeper_config(stack, tmp_path / "k2.db"), operator=key(stack.operator_key)).start()
    try:
        async with AsyncKeeperClient(fresh.url, a) as maker:
            with pytest.raises(KeeperError) as info:
                await maker.place(buy)
            assert (info.value.status, info.value.detail) == (400, "filled")
            results = await maker.place_batch([signed_sell])
            assert results[0] == {"status": "rejected", "reason": "filled"}
            assert fresh.core.fills == {}
    finally:
        await fresh.stop()
