"""Funding end to end on a real anvil: a book skewed above the index over several
2-second intervals makes the keeper's funding runner submit positive rates (longs pay);
the chain's FundingRateSet events are exactly the runner's confirmed journal rows, and
the on-chain index is their sum."""

from __future__ import annotations

import dataclasses

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient
from offchain.deploy import Web3Deployer
from offchain.funding import default_cap, index_delta
from offchain.funding.journal import CONFIRMED
from offchain.keeper.config import FundingConfig
from offchain.keeper.service import Keeper

from .keeper_helpers import key, keeper_config, wait_for

pytestmark = pytest.mark.e2e
INDEX = 2_000 * 10**6  # market 1's oracle price in the devstack
INTERVAL = 2


@pytest.mark.anyio
async def test_e2e__skewed_book__longs_pay_every_interval_chain_matches_journal(stack, tmp_path):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    funding = w3.eth.contract(address=stack.deployment.funding, abi=abi("Funding"))
    Web3Deployer(w3, stack.admin_key).transact("Funding", stack.deployment.funding, "set_funding_config", 1,
                                               INTERVAL, default_cap(INTERVAL))
    start_block = w3.eth.block_number
    config = dataclasses.replace(
        keeper_config(stack, tmp_path / "k.db"),
        funding=FundingConfig(enabled=True, interval_s=INTERVAL, sample_s=1, impact_notional=1_000 * 10**6,
                              markets=(1,)))

    keeper = await Keeper(config, operator=key(stack.operator_key)).start()
    try:
        a, b = stack.trader_keys[0], stack.trader_keys[1]
        async with AsyncKeeperClient(keeper.url, a) as bidder, AsyncKeeperClient(keeper.url, b) as asker:
            # bids 0.5 % above the index, asks 1 % above: the book trades rich
            assert (await bidder.place(bidder.order(1, True, INDEX * 1005 // 1000, 10**18)))["status"] == "accepted"
            assert (await asker.place(asker.order(1, False, INDEX * 1010 // 1000, 10**18)))["status"] == "accepted"
            runner = keeper.funding.runner
            await wait_for(lambda: len(runner.journal.rates(1, (CONFIRMED,))) >= 3, timeout=30)
            current = await bidder.funding(1)
            assert int(current["predicted_rate"]) > 0
            confirmed = runner.journal.rates(1, (CONFIRMED,))
    finally:
        await keeper.stop(drain=1)
    logs = funding.events.FundingRateSet.get_logs(from_block=start_block)
    on_chain = [(e.args.interval, e.args.rate) for e in logs if e.args.market == 1]
    assert on_chain[: len(confirmed)] == [(r.interval, r.rate) for r in confirmed]
    assert all(rate > 0 for _, rate in on_chain)  # longs pay shorts
    sampled = [r for r in confirmed if r.samples]
    assert sampled and all(r.avg_premium == 10**12 * 10 // 2_000 for r in sampled)  # (2010 - 2000) / 2000
    index, last, _, _ = funding.functions.funding_state(1).call()
    assert index == sum(index_delta(e.args.rate, e.args.mark) for e in logs if e.args.market == 1)
    assert last == on_chain[-1][0]
