"""Funding end to end on a real anvil: a book skewed above the index over several
2-second intervals makes the keeper's funding runner submit positive rates (longs pay);
the chain's FundingRateSet events are exactly the runner's confirmed journal rows, and
the on-chain index moves by their sum. Positions opened through the keeper pay / receive it on
chain, exactly, and the keeper's /accounts/{a}/funding totals are the chain's events."""

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
TICK = 10**4  # market 1's tick (0.01 USDC)


def index_now(w3, stack) -> int:
    """Market 1's oracle price now: the session's devnet is shared, and an earlier test may
    have moved it from the devstack's 2,000 USDC."""
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    return oracle.functions.price_info(1).call()[0]
INTERVAL = 2


@pytest.mark.anyio
async def test_e2e__skewed_book__longs_pay_every_interval_chain_matches_journal(stack, tmp_path):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    funding = w3.eth.contract(address=stack.deployment.funding, abi=abi("Funding"))
    Web3Deployer(w3, stack.admin_key).transact("Funding", stack.deployment.funding, "set_funding_config", 1,
                                               INTERVAL, default_cap(INTERVAL))
    start_block = w3.eth.block_number
    mark = index_now(w3, stack)
    bid_price, ask_price = mark * 1005 // 1000 // TICK * TICK, mark * 1010 // 1000 // TICK * TICK
    # the session's shared devnet: earlier tests may have moved market 1's index already
    index_before = funding.functions.funding_state(1).call(block_identifier=start_block)[0]
    config = dataclasses.replace(
        keeper_config(stack, tmp_path / "k.db"),
        funding=FundingConfig(enabled=True, interval_s=INTERVAL, sample_s=1, impact_notional=1_000 * 10**6,
                              markets=(1,)))

    keeper = await Keeper(config, operator=key(stack.operator_key)).start()
    try:
        a, b = stack.trader_keys[0], stack.trader_keys[1]
        async with AsyncKeeperClient(keeper.url, a) as bidder, AsyncKeeperClient(keeper.url, b) as asker:
            # bids 0.5 % above the index, asks 1 % above: the book trades rich
            assert (await bidder.place(bidder.order(1, True, bid_price, 10**18)))["status"] == "accepted"
            assert (await asker.place(asker.order(1, False, ask_price, 10**18)))["status"] == "accepted"
            runner = keeper.funding.runner
            await wait_for(lambda: len(runner.journal.rates(1, (CONFIRMED,))) >= 3)
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
    # (impact bid - index) / index: (2010 - 2000) / 2000 at the devstack's 2,000
    assert sampled and all(r.avg_premium == (bid_price - mark) * 10**12 // mark for r in sampled)
    index, last, _, _ = funding.functions.funding_state(1).call()
    assert index - index_before == sum(index_delta(e.args.rate, e.args.mark) for e in logs if e.args.market == 1)
    assert last == on_chain[-1][0]


@pytest.mark.anyio
async def test_e2e__positions_pay_funding__api_totals_match_chain_events(stack, tmp_path):
    """A long and a short open through the keeper, a rich book makes the next intervals'
    rates positive; after settle_funding the long paid exactly what its index moves owe,
    the short received the floor, and /accounts/{a}/funding totals are the chain's events."""
    from offchain.funding import funding_owed

    # accounts of its own (before this test's admin deployer reads the admin's nonce): the
    # session's shared traders may hold positions from earlier tests
    long_key, short_key, bid_key, ask_key = stack.new_traders(4)
    w3 = Web3(Web3.HTTPProvider(stack.url))
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    funding = w3.eth.contract(address=stack.deployment.funding, abi=abi("Funding"))
    assert exchange.functions.funding().call() == stack.deployment.funding  # deploy_suite wires it
    admin = Web3Deployer(w3, stack.admin_key)
    admin.transact("Funding", stack.deployment.funding, "set_funding_config", 1, INTERVAL, default_cap(INTERVAL))
    config = dataclasses.replace(
        keeper_config(stack, tmp_path / "k.db"),
        funding=FundingConfig(enabled=True, interval_s=INTERVAL, sample_s=1, impact_notional=1_000 * 10**6,
                              markets=(1,)))
    size = 10**18
    mark = index_now(w3, stack) // TICK * TICK

    keeper = await Keeper(config, operator=key(stack.operator_key)).start()
    try:
        async with AsyncKeeperClient(keeper.url, long_key) as lo, AsyncKeeperClient(keeper.url, short_key) as sh, \
                AsyncKeeperClient(keeper.url, bid_key) as bid, AsyncKeeperClient(keeper.url, ask_key) as ask:
            assert (await sh.place(sh.order(1, False, mark, size)))["status"] == "accepted"
            assert (await lo.place(lo.order(1, True, mark, size)))["status"] == "accepted"
            await wait_for(lambda: exchange.functions.position(lo.account, 1).call()[0] == size)
            # the positions' snapshot: the index in the block their fill settled in
            opened = next(e.blockNumber for e in exchange.events.FillSettled.get_logs(from_block=0)
                          if lo.account in (e.args.maker, e.args.taker))
            index0 = funding.functions.index(1).call(block_identifier=opened)
            assert (await bid.place(bid.order(1, True, mark * 1005 // 1000 // TICK * TICK, 10**17)))["status"] == "accepted"
            assert (await ask.place(ask.order(1, False, mark * 1010 // 1000 // TICK * TICK, 10**17)))["status"] == "accepted"
            await wait_for(lambda: funding.functions.index(1).call() > index0)
            index1 = funding.functions.index(1).call()
            owed_long = exchange.functions.funding_owed(lo.account, 1).call()
            assert owed_long > 0 and exchange.functions.funding_owed(sh.account, 1).call() < 0
            for who in (lo.account, sh.account):
                admin.transact("Exchange", stack.deployment.exchange, "settle_funding", who)
            logs = exchange.events.FundingSettled.get_logs(from_block=0)
            paid = {e.args.account: e.args for e in logs}
            # exact: the long's snapshot is the index when it opened (index0)
            assert paid[lo.account].amount == funding_owed(size, paid[lo.account].index, index0) > 0
            assert paid[sh.account].amount == funding_owed(-size, paid[sh.account].index, index0) < 0
            assert paid[lo.account].index >= index1
            body_long = await lo.funding_account()
            body_short = await sh.funding_account()
    finally:
        await keeper.stop(drain=1)

    long_addr = next(a for a in paid if paid[a].amount > 0)
    short_addr = next(a for a in paid if paid[a].amount < 0)
    assert int(body_long["paid"]) == paid[long_addr].amount and body_long["received"] == "0"
    assert int(body_short["received"]) == -paid[short_addr].amount and body_short["paid"] == "0"
    assert body_long["unsettled"] == {} or all(int(v) > 0 for v in body_long["unsettled"].values())
