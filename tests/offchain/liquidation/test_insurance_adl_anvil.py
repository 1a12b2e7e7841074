"""A price gap leaves a levered account bankrupt: with the insurance fund able to cover,
the runner's handover closes it and the fund pays the deficit; with the fund short, the
runner auto-deleverages it against the profitable opposite side at its bankruptcy price.
Either way no deficit is left to anyone (the Exchange's USDC covers what it owes). When
the backstop itself is bankrupt after a takeover, the runner deleverages the backstop the
same way (never against itself)."""

from __future__ import annotations

import asyncio

import pytest

from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.crashstack import deploy_crash_stack
from offchain.keeper.runners.liquidation import ADL_KIND, SOCIALISE_KIND, LiquidationRunner
from offchain.keeper.runners.liquidation_journal import CONFIRMED, LiquidationJournal
from offchain.risk.liquidation import bankruptcy_price

from .helpers import ONE, USDC, contracts, key, open_positions, set_price, start_runner_keeper, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests run on anyio (tests/conftest.py)
PRICE = 2_000 * USDC
GAP = 1_790 * USDC  # -10.5% in one update: the 9.5x long (2,090 after its fee) ends at -10 USDC of equity


@pytest.fixture
def gap_stack():
    # 0 admin, 1 operator, 2 reporter, 3 agent, 4 LP, 5 levered long, 6 short whale
    with Anvil(accounts=8) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1, traders=[2_100 * USDC, 500_000 * USDC])


def solvent(w3, exchange, usdc, accounts) -> bool:
    owed = sum(max(exchange.functions.equity(a).call(), 0) for a in accounts)
    owed += exchange.functions.fees_accrued().call() + exchange.functions.insurance_fund().call()
    return usdc.functions.balanceOf(exchange.address).call() >= owed


def views(s):
    """(deployment, each trader's address, w3, Exchange, USDC) of a stack: the levered long
    and the short whale (and the late short on the three-trader stacks)."""
    traders = (key(k).address for k in s.trader_keys)
    w3, exchange, _ = contracts(s.url, s.deployment)
    return s.deployment, *traders, w3, exchange, w3.eth.contract(address=s.deployment.usdc, abi=abi("TestUSDC"))


async def run_gap(start_keeper, s, db_url):
    """The levered long opens against the whale, then the mark gaps to GAP; once the
    runner confirmed its step the keeper stops. (block before the gap, the runner)"""
    levered, whale = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, db_url, [runner])
    await open_positions(keeper, [(levered, whale, 10 * ONE, PRICE)])
    start = w3.eth.block_number
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, GAP)
    await wait_for(lambda: runner.summary()["confirmed"] == 1 and not runner.busy)
    await keeper.stop(drain=1.0)
    return start, runner


async def run_runner(start_keeper, s, db_url, w3):
    """A keeper with a liquidation runner until it confirmed one step: (block before, the runner)."""
    runner = LiquidationRunner()
    start = w3.eth.block_number
    k = await start_runner_keeper(start_keeper, s, db_url, [runner])
    await wait_for(lambda: runner.summary()["confirmed"] == 1 and not runner.busy)
    await k.stop(drain=1.0)
    return start, runner


async def test_gap__fund_covers__handover_and_insurance_cover(gap_stack, tmp_path, start_keeper):
    s = gap_stack
    d, levered, whale, w3, exchange, usdc = views(s)
    admin = Web3Deployer(w3, s.admin_key)
    admin.transact("TestUSDC", d.usdc, "mint", admin.address, 1_000 * USDC)
    admin.transact("TestUSDC", d.usdc, "approve", d.exchange, 1_000 * USDC)
    admin.transact("Exchange", d.exchange, "deposit_insurance", 1_000 * USDC)
    fund_before = exchange.functions.insurance_fund().call()
    start, runner = await run_gap(start_keeper, s, f"sqlite:///{tmp_path}/k.db")
    (liq,) = exchange.events.Liquidation().get_logs(from_block=start)
    (cover,) = exchange.events.InsuranceCover().get_logs(from_block=start)
    assert liq["args"]["account"] == levered and liq["args"]["penalty"] == 0  # bankrupt: no penalty
    deficit = cover["args"]["amount"]
    assert cover["args"]["account"] == levered and deficit == 10 * USDC
    assert exchange.functions.insurance_fund().call() == fund_before - deficit == cover["args"]["balance"]
    assert exchange.functions.bad_debt_covered().call() == deficit
    assert exchange.functions.collateral(levered).call() == 0
    (row,) = LiquidationJournal(f"sqlite:///{tmp_path}/k.db").steps()
    assert row.state == CONFIRMED and row.kind == "backstop" and row.equity == -10 * USDC
    assert solvent(w3, exchange, usdc, [levered, whale, d.pool])


async def test_gap__fund_short__runner_adls_against_the_whale_at_bankruptcy_price(gap_stack, tmp_path, start_keeper):
    s = gap_stack
    d, levered, whale, w3, exchange, usdc = views(s)
    assert exchange.functions.insurance_fund().call() == 0
    coll = exchange.functions.collateral(levered).call()
    start, runner = await run_gap(start_keeper, s, f"sqlite:///{tmp_path}/k.db")
    assert exchange.events.Liquidation().get_logs(from_block=start) == []  # the handover was refused
    (adl,) = exchange.events.Adl().get_logs(from_block=start)
    a = adl["args"]
    size, cost = 10 * ONE, 20_000 * USDC
    fee = cost * 5 // 10_000  # the long's taker fee on the opening fill (5 bps tier)
    equity = coll - fee + (size * GAP // ONE - cost)
    assert a["account"] == levered and a["counterparty"] == whale and a["market"] == 1 and a["size"] == size
    assert a["price"] == bankruptcy_price(size, cost, equity, GAP)
    assert exchange.functions.position(levered, 1).call() == [0, 0]
    assert exchange.functions.collateral(levered).call() == 0
    assert exchange.functions.position(whale, 1).call()[0] == 0  # the whale's short closed at p_b
    (row,) = LiquidationJournal(f"sqlite:///{tmp_path}/k.db").steps()
    assert row.state == CONFIRMED and row.kind == ADL_KIND and row.moved == size and row.price == a["price"]
    assert runner.summary()["adl"] == 1
    assert solvent(w3, exchange, usdc, [levered, whale, d.pool])


@pytest.fixture
def no_profit_stack():
    # 0 admin, 1 operator, 2 reporter, 3 agent, 4 LP, 5 levered long, 6 whale, 7 late short
    with Anvil(accounts=9) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1,
                                 traders=[2_100 * USDC, 500_000 * USDC, 500_000 * USDC])


async def _long_gapped_then_late_short(start_keeper, s, db_url: str, w3) -> None:
    """The levered trader goes 10 ETH long at PRICE against the whale, the mark gaps to GAP,
    and the whale closes by buying back from `late`, who is then short at the mark (no profit)."""
    levered_k, whale_k, late_k = s.trader_keys
    k = await start_runner_keeper(start_keeper, s, db_url, [])
    await open_positions(k, [(levered_k, whale_k, 10 * ONE, PRICE)])
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, GAP)
    await wait_for(lambda: k.core.marks.get(1) == GAP)  # the keeper's band is around its mark
    await open_positions(k, [(whale_k, late_k, 10 * ONE, GAP)])
    await k.stop(drain=1.0)


async def test_gap__fund_short_no_profitable_short__backstop_absorbs_at_bankruptcy_price(no_profit_stack, tmp_path,
                                                                                        start_keeper):
    """The opposite side entered at the gap price (the whale closed to a late short at
    1,790): nobody is in profit, so ADL lists the backstop, which takes the bankrupt long at
    its bankruptcy price; the deficit is the pool's loss and no one is left below zero."""
    s = no_profit_stack
    d, levered, whale, late, w3, exchange, usdc = views(s)
    db_url = f"sqlite:///{tmp_path}/k.db"
    await _long_gapped_then_late_short(start_keeper, s, db_url, w3)
    assert exchange.functions.position(whale, 1).call()[0] == 0
    assert exchange.functions.position(late, 1).call() == [-10 * ONE, -10 * GAP]  # short at the mark: no profit
    assert exchange.functions.equity(levered).call() < 0 == exchange.functions.insurance_fund().call()
    pool_before = exchange.functions.equity(d.pool).call()
    deficit = -exchange.functions.equity(levered).call()
    start, runner = await run_runner(start_keeper, s, db_url, w3)
    assert exchange.events.Liquidation().get_logs(from_block=start) == []  # the handover was refused
    (adl,) = exchange.events.Adl().get_logs(from_block=start)
    a = adl["args"]
    assert a["account"] == levered and a["counterparty"] == d.pool and a["size"] == 10 * ONE and a["price"] > GAP
    assert exchange.functions.position(levered, 1).call() == [0, 0]
    assert 0 <= exchange.functions.collateral(levered).call() <= 1
    assert exchange.functions.position(d.pool, 1).call()[0] == 10 * ONE
    assert pool_before - deficit - 1 <= exchange.functions.equity(d.pool).call() <= pool_before - deficit
    (row,) = LiquidationJournal(db_url).steps()
    assert row.state == CONFIRMED and row.kind == ADL_KIND and row.moved == 10 * ONE and row.price == a["price"]
    assert solvent(w3, exchange, usdc, [levered, whale, late, d.pool])


@pytest.fixture
def thin_pool_stack():
    # as no_profit_stack, but the pool (the backstop) holds 100 USDC: too thin to take 10 ETH
    with Anvil(accounts=9) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1, lp_deposit=100 * USDC,
                                 traders=[2_100 * USDC, 500_000 * USDC, 500_000 * USDC])


async def test_gap__fund_adl_backstop_exhausted__runner_socialises(thin_pool_stack, tmp_path, start_keeper):
    """Nobody opposite is in profit and the backstop would fall below maintenance: the
    runner's handover is refused (insurance short), ADL to the backstop too (backstop
    margin), so it socialises: the long closes at mark against the late short, and the
    deficit is shared by the late short and the pool pro rata to their equity. Nobody is
    left below zero and the Exchange's USDC covers what it owes."""
    s = thin_pool_stack
    d, levered, whale, late, w3, exchange, usdc = views(s)
    db_url = f"sqlite:///{tmp_path}/k.db"
    await _long_gapped_then_late_short(start_keeper, s, db_url, w3)
    deficit = -exchange.functions.equity(levered).call()
    assert deficit > 0 == exchange.functions.insurance_fund().call()
    e_late, e_pool = exchange.functions.equity(late).call(), exchange.functions.equity(d.pool).call()
    start, runner = await run_runner(start_keeper, s, db_url, w3)
    assert exchange.events.Liquidation().get_logs(from_block=start) == []
    (adl,) = exchange.events.Adl().get_logs(from_block=start)
    assert (adl["args"]["counterparty"], adl["args"]["size"], adl["args"]["price"]) == (late, 10 * ONE, GAP)
    shares = {l["args"]["counterparty"]: l["args"]["amount"] for l in exchange.events.LossSocialised().get_logs(from_block=start)}
    total = e_late + e_pool
    assert shares == {late: -(-deficit * e_late // total), d.pool: -(-deficit * e_pool // total)}
    assert exchange.functions.position(levered, 1).call() == [0, 0]
    assert exchange.functions.equity(levered).call() >= 0
    (row,) = LiquidationJournal(db_url).steps()
    assert row.state == CONFIRMED and row.kind == SOCIALISE_KIND and row.moved == 10 * ONE
    assert runner.summary()["socialised"] == 1
    assert all(exchange.functions.equity(a).call() >= 0 for a in (levered, whale, late, d.pool))
    assert solvent(w3, exchange, usdc, [levered, whale, late, d.pool])


@pytest.fixture
def thin_backstop_stack():
    # as gap_stack, but the pool (the backstop) holds 2,000 USDC: it can take the levered
    # long over at 1,850 (initial margin 1,850) and is bankrupt itself after a fall to 1,500
    with Anvil(accounts=8) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1, lp_deposit=2_000 * USDC,
                                 traders=[2_100 * USDC, 500_000 * USDC])


async def test_gap__backstop_bankrupt__runner_adls_the_backstop_against_the_whale(thin_backstop_stack, tmp_path,
                                                                                 start_keeper):
    """The pool takes the levered long over (liquidate at 1,850), then the mark falls to
    1,500: the backstop itself is bankrupt with the fund short. The runner scans it (the
    keeper's view never held its position), never calls liquidate for it, and deleverages
    its whole position against the profitable short whale at the backstop's bankruptcy
    price; the pool is never its own counterparty and nobody is left below zero."""
    s = thin_backstop_stack
    d, levered, whale, w3, exchange, usdc = views(s)
    db_url = f"sqlite:///{tmp_path}/k.db"
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, db_url, [runner])
    await open_positions(keeper, [(s.trader_keys[0], s.trader_keys[1], 10 * ONE, PRICE)])
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_850 * USDC)
    await wait_for(lambda: runner.summary()["confirmed"] == 1 and not runner.busy)
    assert exchange.functions.position(d.pool, 1).call()[0] == 10 * ONE  # taken over at mark
    start = w3.eth.block_number + 1  # the blocks after the takeover
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_500 * USDC)
    await wait_for(lambda: runner.summary()["confirmed"] == 2 and not runner.busy)
    await keeper.stop(drain=1.0)
    assert exchange.events.Liquidation().get_logs(from_block=start) == []
    (adl,) = exchange.events.Adl().get_logs(from_block=start)
    a = adl["args"]
    assert (a["account"], a["counterparty"], a["market"], a["size"]) == (d.pool, whale, 1, 10 * ONE)
    # the backstop's bankruptcy price (a long: above the mark): its equity -1,500 over 10 ETH
    assert a["price"] == 1_650 * USDC
    assert exchange.functions.position(d.pool, 1).call() == [0, 0]
    assert exchange.functions.equity(d.pool).call() >= 0
    rows = LiquidationJournal(db_url).steps()
    (row,) = [r for r in rows if r.account.lower() == d.pool.lower()]
    assert row.state == CONFIRMED and row.kind == ADL_KIND and row.moved == 10 * ONE and row.price == a["price"]
    assert all(exchange.functions.equity(x).call() >= 0 for x in (levered, whale, d.pool))
    assert solvent(w3, exchange, usdc, [levered, whale, d.pool])
