"""Book liquidations through the keeper, on a real anvil: a breach between 2/3 of maintenance
and maintenance is closed on the book (a market maker's bid) by the runner's unsigned
liquidation order, settled in a normal batch; a large position leaves in steps of at most
20%, one a second; with nothing on the book the backstop takes it.

Invariant: the liquidated account's book fills settle only while it is liquidatable (the
Exchange checks), each step is journaled once (kind `book`, the order hash) and
confirmed with the chain's LiquidationFill figures; no Liquidation (backstop) happens
while the book can absorb the step."""

from __future__ import annotations

import asyncio

import pytest

from offchain.devnet import Anvil
from offchain.keeper.crashstack import deploy_crash_stack
from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.keeper.runners.liquidation_journal import CONFIRMED, LiquidationJournal
from offchain.keeper.settlement import stall_at
from offchain.order import address_of

from .helpers import ONE, USDC, contracts, liquidation_logs, open_positions, set_price, signed, start_runner_keeper, \
    wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests run on anyio (tests/conftest.py)
PRICE = 2_000 * USDC


@pytest.fixture
def stack():
    # 0 admin, 1 operator, 2 reporter, 3 agent, 4 LP, then: levered long, big long, whale, maker
    with Anvil(accounts=10) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1,
                                 traders=[2_100 * USDC, 21_000 * USDC, 2_000_000 * USDC, 2_000_000 * USDC])


def _fill_logs(exchange, start: int) -> list[dict]:
    return list(exchange.events.LiquidationFill().get_logs(from_block=start))


async def _long_over_a_bid(keeper, s, w3, trader: str, size: int, bid_price: int) -> tuple[int, dict]:
    """`trader` opens a long of `size` at PRICE against the whale and the maker bids `size`
    at `bid_price`: the block number then (before the test moves the mark), the bid's ack."""
    _, _, whale, maker = s.trader_keys
    await open_positions(keeper, [(trader, whale, size, PRICE)])
    (bid,) = await keeper.gateway.place_batch([signed(maker, keeper.domain, 1, True, bid_price, size, "GTC")])
    return w3.eth.block_number, bid


def _mark(s, w3, price: int):
    return asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, price)


async def test_book_liquidation__breach__closed_on_makers_bid_not_backstop(stack, tmp_path, start_keeper):
    s = stack
    levered, _, _, maker = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    account = address_of(levered)
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/k.db", [runner])
    start, bid = await _long_over_a_bid(keeper, s, w3, levered, 10 * ONE, 1_875 * USDC)
    assert bid["status"] == "accepted"
    before = exchange.functions.collateral(account).call()  # 2,100 less the opening taker fee
    # 900 USDC equity < 940 maintenance, above 2/3 of it: a book step, the whole 18,800 notional
    await _mark(s, w3, 1_880 * USDC)
    await wait_for(lambda: runner.summary()["book"] == 1 and not runner.busy)
    await keeper.stop(drain=1.0)
    (log,) = _fill_logs(exchange, start)
    a = log["args"]
    assert a["account"] == account and a["market"] == 1 and a["size"] == -10 * ONE and a["price"] == 1_875 * USDC
    assert liquidation_logs(w3, exchange, start) == []  # the book took it, not the backstop
    assert exchange.functions.position(account, 1).call() == [0, 0]
    assert exchange.functions.position(address_of(maker), 1).call()[0] == 10 * ONE
    # the 1,250 loss and the penalty, no taker fee; never below zero (the penalty is capped at equity)
    assert a["penalty"] > 0
    assert exchange.functions.collateral(account).call() == before - 1_250 * USDC - a["penalty"] >= 0
    journal = LiquidationJournal(f"sqlite:///{tmp_path}/k.db")
    (row,) = journal.steps()
    assert row.kind == "book" and row.state == CONFIRMED and row.moved == -10 * ONE
    assert row.price == 1_875 * USDC and row.penalty == a["penalty"] and row.block == log["blockNumber"]
    assert row.tx_hash == "0x" + a["order_hash"].hex()
    journal.close()


async def test_book_liquidation__large_position__steps_of_20pct_one_a_second(stack, tmp_path, start_keeper):
    s = stack
    big = s.trader_keys[1]
    w3, exchange, _ = contracts(s.url, s.deployment)
    account = address_of(big)
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/k.db", [runner])
    # 100 ETH (200,000 USDC notional) on 21,000: 9.5x
    start, _ = await _long_over_a_bid(keeper, s, w3, big, 100 * ONE, 1_855 * USDC)
    # equity 20,900 - 14,400 = 6,500, 70% of the 9,280 maintenance (5% of 185,600): a
    # book step, capped at 20 ETH; each step's penalty leaves it short again, so more follow
    await _mark(s, w3, 1_856 * USDC)
    await wait_for(lambda: runner.summary()["book"] >= 1 and not runner.busy)
    await wait_for(lambda: not runner.busy and exchange.functions.equity(account).call()
                   >= exchange.functions.margin_requirement(account, False).call())
    await asyncio.sleep(3 * runner.params.cooldown_s)  # no further step once healthy
    await keeper.stop(drain=1.0)
    logs = _fill_logs(exchange, start)
    assert logs and liquidation_logs(w3, exchange, start) == []
    sizes = [-e["args"]["size"] for e in logs]
    # the first two are capped at 20% of what is left (100 -> 80 -> 64); then what restores
    # maintenance plus the buffer
    assert len(sizes) >= 3 and sizes[:2] == [20 * ONE, 16 * ONE]
    assert all(0 < q <= 20 * ONE for q in sizes)
    times = [w3.eth.get_block(e["blockNumber"])["timestamp"] for e in logs]
    assert all(b - a >= 1 for a, b in zip(times, times[1:]))  # the 1 s cool-down between steps
    left = exchange.functions.position(account, 1).call()[0]
    assert left == 100 * ONE - sum(sizes) > 0  # partial: closed what restores maintenance plus a buffer
    journal = LiquidationJournal(f"sqlite:///{tmp_path}/k.db")
    confirmed = [r for r in journal.steps() if r.state == CONFIRMED]
    assert [r.kind for r in confirmed] == ["book"] * len(logs)
    assert sorted(r.tx_hash for r in confirmed) == sorted("0x" + e["args"]["order_hash"].hex() for e in logs)
    journal.close()


@pytest.mark.parametrize("point, first_state", [("liquidation_after_journal", "planned"),
                                                ("liquidation_after_send", "submitted")])
async def test_book_liquidation__crash_mid_step__restart_closes_it_once(stack, tmp_path, point, first_state,
                                                                       start_keeper):
    """Killed after the book row is journaled (the order not placed yet: the row is dead on
    restart, and a new step is taken) or after the order was placed (the restart follows the
    same order's fills): either way one LiquidationFill, one confirmed row."""
    s = stack
    levered = s.trader_keys[0]
    w3, exchange, _ = contracts(s.url, s.deployment)
    account = address_of(levered)
    db = f"sqlite:///{tmp_path}/k.db"

    stall, reached = stall_at(f"{point}:3600"), asyncio.Event()

    async def crash_point(name: str) -> None:  # stalls there; stop() is the crash (tasks cancelled)
        if name == point:
            reached.set()
        await stall(name)

    runner = LiquidationRunner(crash_point=crash_point)
    keeper = await start_runner_keeper(start_keeper, s, db, [runner])
    start, _ = await _long_over_a_bid(keeper, s, w3, levered, 10 * ONE, 1_875 * USDC)
    await _mark(s, w3, 1_880 * USDC)
    # the step is at the crash point (journaled; for after_send also placed and marked
    # submitted), not "probably there after 0.5 s"
    await asyncio.wait_for(reached.wait(), 60)
    assert runner.stats.steps == 1
    await keeper.stop(drain=2.0)  # a placed order's fill still settles in the drain
    journal = LiquidationJournal(db)
    (row,) = journal.steps()
    assert row.kind == "book" and row.state == first_state
    journal.close()

    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, db, [runner])
    await wait_for(lambda: runner.summary()["book"] == 1 and not runner.busy)
    await asyncio.sleep(2 * runner.params.cooldown_s)  # no further step
    summary = runner.summary()
    await keeper.stop(drain=1.0)
    (log,) = _fill_logs(exchange, start)
    assert log["args"]["account"] == account and log["args"]["size"] == -10 * ONE
    assert liquidation_logs(w3, exchange, start) == []
    assert exchange.functions.position(account, 1).call() == [0, 0]
    journal = LiquidationJournal(db)
    rows = journal.steps()
    (confirmed,) = [r for r in rows if r.state == CONFIRMED]
    assert confirmed.tx_hash == "0x" + log["args"]["order_hash"].hex()
    if first_state == "submitted":  # the same order, followed after the restart
        assert [r.id for r in rows] == [row.id] and summary["steps"] == 0
    else:  # never placed: dead, and one new step
        assert [(r.id, r.state, r.error) for r in rows[:1]] == [(row.id, "dead", "never placed")]
        assert len(rows) == 2 and summary["steps"] == 1
    journal.close()
