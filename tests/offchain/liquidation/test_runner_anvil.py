"""The liquidation runner inside a real keeper against a real anvil: a breach is seen on
the mark update and liquidated in the next block; healthy accounts are left alone; a step
journaled before a crash is resumed exactly once."""

from __future__ import annotations

import asyncio

import pytest

from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.keeper.runners.liquidation_journal import CONFIRMED, PLANNED, LiquidationJournal
from offchain.keeper.runners.liquidation_report import liquidation_rows
from offchain.keeper.settlement import stall_at

from .helpers import ONE, USDC, contracts, first_breach_block, key, liquidation_logs, open_positions, set_price, \
    start_runner_keeper, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests run on anyio (tests/conftest.py)
PRICE = 2_000 * USDC


async def test_runner__breach_on_mark_update__liquidated_next_block_healthy_untouched(crash_stack, tmp_path,
                                                                                      start_keeper):
    s = crash_stack
    levered, healthy, whale = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/k.db", [runner])
    # 10 ETH long on 2,100 USDC (~9.5x) and 10 ETH on 10,000 (2x), both from the whale
    await open_positions(keeper, [(levered, whale, 10 * ONE, PRICE), (healthy, whale, 10 * ONE, PRICE)])
    start = w3.eth.block_number
    # -5%: the levered long is still above maintenance (2,090 - 1,000 >= 950)
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_900 * USDC)
    # a scan has valued the accounts at the new price (it reads the marks from chain, then
    # decides every step in the same turn): only then does "no step" mean something
    await wait_for(lambda: runner.last_marks.get(1) == 1_900 * USDC)
    assert runner.stats.steps == 0 and not runner.busy
    assert liquidation_logs(w3, exchange, start) == []
    # -6%: 890 < 940 -> liquidatable; the runner sees the PriceUpdated and acts
    breach = await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_880 * USDC)
    await wait_for(lambda: liquidation_logs(w3, exchange, start))
    await wait_for(lambda: runner.summary()["confirmed"] == 1 and not runner.busy)
    await keeper.stop(drain=1.0)
    (log,) = liquidation_logs(w3, exchange, start)
    a = log["args"]
    assert a["account"] == key(levered).address and a["market"] == 1 and a["size"] == 10 * ONE
    assert a["price"] == 1_880 * USDC and a["backstop"] == s.deployment.pool
    assert a["penalty"] == 18_800 * USDC // 100 and a["caller"] == key(s.operator_key).address
    assert first_breach_block(exchange, key(levered).address, start, breach) == breach
    assert log["blockNumber"] - breach <= 1
    assert exchange.functions.position(key(levered).address, 1).call() == [0, 0]
    assert exchange.functions.position(key(healthy).address, 1).call()[0] == 10 * ONE
    journal = LiquidationJournal(f"sqlite:///{tmp_path}/k.db")
    (row,) = journal.steps()
    assert row.state == CONFIRMED and row.block == log["blockNumber"] and row.penalty == a["penalty"]
    assert row.account == key(levered).address and row.moved == 10 * ONE and row.seen_block >= breach
    journal.close()
    # the make-run report's section reads the same from chain and journal
    rows = dict(liquidation_rows(w3, s.deployment, f"sqlite:///{tmp_path}/k.db"))
    assert rows["liquidations (chain)"] == "1 on 1 accounts"
    assert rows["  notional moved to the backstop"] == "18,800.000000"
    assert rows["  penalties to the backstop"] == "188.000000"
    assert rows["runner steps"] == "1 confirmed, 0 reverted, 0 dead, 0 open"
    assert rows["  bad debt covered"] == "0.000000" and rows["ADL"] == "0 counterparty closes"
    assert rows["insurance fund (USDC)"].startswith(f"{exchange.functions.insurance_fund().call() // USDC:,}.")


async def test_runner__crash_after_journal__restart_sends_the_same_step_once(crash_stack, tmp_path, start_keeper):
    s = crash_stack
    levered, healthy, whale = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    db = f"sqlite:///{tmp_path}/k.db"

    runner = LiquidationRunner(crash_point=stall_at("liquidation_after_journal:3600"))  # stalls after the journal write
    keeper = await start_runner_keeper(start_keeper, s, db, [runner])
    await open_positions(keeper, [(levered, whale, 10 * ONE, PRICE)])
    start = w3.eth.block_number
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_880 * USDC)
    await wait_for(lambda: runner.stats.steps == 1)
    # the "crash": the stalled step never broadcasts (tasks cancelled, no receipt)
    await keeper.stop(drain=0.5)
    journal = LiquidationJournal(db)
    (row,) = journal.steps()
    assert row.state == PLANNED and liquidation_logs(w3, exchange, start) == []
    journal.close()

    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, db, [runner])  # on_start resumes the planned step before any new one
    await wait_for(lambda: liquidation_logs(w3, exchange, start))
    await asyncio.sleep(1.5)  # a further scan must not add a second step
    summary = runner.summary()
    await keeper.stop(drain=0.5)
    (log,) = liquidation_logs(w3, exchange, start)
    journal = LiquidationJournal(db)
    (row2,) = journal.steps()
    assert row2.id == row.id and row2.state == CONFIRMED and row2.tx_hash == row.tx_hash
    assert log["transactionHash"].to_0x_hex() == row.tx_hash and summary["steps"] == 0
    journal.close()
