"""E2E fixtures: a real anvil on a free loopback port, the suite deployed, funded traders
(started keepers: `start_keeper` in tests/conftest.py; a keeper with two SDK traders: `sdk_pair`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import NamedTuple

import pytest
from web3 import Web3

from offchain.client import AsyncKeeperClient
from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack
from offchain.keeper.service import Keeper

from .keeper_helpers import keeper_config, key, wait_for
from .vault_helpers import PRICE, mark


@pytest.fixture(scope="session")
def anvil():
    with Anvil(accounts=12) as node:
        yield node


@pytest.fixture(scope="session")
def session_stack(anvil):
    return deploy_stack(anvil.url, anvil.private_keys(), traders=6)


@pytest.fixture
def stack(session_stack):
    """The session's deployment with six traders of this test's own (fresh keys, gas ETH,
    10M USDC on the Exchange): no test sees another's positions, open orders, funding
    snapshots or nonces, so an outcome never depends on which tests ran before it on the
    same xdist worker (a shared trader's leftover market-1 position once made a market-2
    fill "halted" while market 1 was halted)."""
    return replace(session_stack, trader_keys=session_stack.new_traders(6))



class SdkPair(NamedTuple):
    w3: Web3
    keeper: Keeper
    maker: AsyncKeeperClient
    trader: AsyncKeeperClient


@pytest.fixture
async def sdk_pair(stack, tmp_path, start_keeper):
    """An in-process keeper on the session's stack, the mark at PRICE and seen by it, and two
    SDK clients (maker: trader_keys[4], trader: trader_keys[5]). At teardown the keeper stops
    first, then the mark goes back to PRICE (the stack is shared by the session)."""
    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    try:
        async with AsyncKeeperClient(keeper.url, stack.trader_keys[4]) as maker, \
                AsyncKeeperClient(keeper.url, stack.trader_keys[5]) as trader:
            await wait_for(lambda: keeper.core.engine.mark(1) == PRICE)
            yield SdkPair(w3, keeper, maker, trader)
    finally:
        await keeper.stop()
        await asyncio.to_thread(mark, w3, stack, PRICE)
