"""The crash test: 52 leveraged longs, two short whales and the LP pool (the backstop) on a
real anvil with the real keeper (a subprocess, liquidation runners on). The oracle falls
40% in 2% steps, one update per block, the keeper's liquidations in the block after.
Mid-crash the keeper is SIGKILLed right after it journaled a liquidation step and restarted.

Checked against the chain:
- every account below maintenance at a price update is liquidated in the next block (the
  ones caught by the kill: in the block after the restart), exactly once, and
  no account is left below maintenance. Blocks are the test's: automine off, it mines the
  next block only once the keeper has processed the last one (GET /risk processed_block),
  so the bound is about blocks whatever the machine's speed (latency: bench_liquidation);
- no step is done twice (one Liquidation per account; every journaled step confirmed or,
  if the kill left it unsent and the chain moved on, dead; none left open);
- the pool unwinds what it took over through the book (the whales' closing bids);
- afterwards every trader withdraws its whole collateral and every LP redeems every
  share (the last redeem succeeds); the Exchange holds exactly its fees, the insurance
  fund and the operator's liquidation rewards.
"""

from __future__ import annotations

import signal
import time

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import KeeperClient
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.crashstack import (
    N_WHALES,
    breach_blocks,
    crash_prices,
    crash_traders,
    deploy_crash_stack,
    interval_mining,
    manual_mining,
    mine,
    mine_price,
    open_crash_positions,
    start_keeper_process,
)
from offchain.keeper.runners.liquidation_journal import CONFIRMED, DEAD, OPEN_STATES, LiquidationJournal
from offchain.order import address_of
from tests.constants import USDC

pytestmark = pytest.mark.e2e


def wait(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_crash__40pct_drop_with_keeper_sigkill__all_liquidated_promptly_and_everyone_exits(tmp_path):
    with Anvil(accounts=4 + 2 + 52 + N_WHALES) as node:
        keys = node.private_keys()
        s = deploy_crash_stack(node.url, keys, lps=2, traders=crash_traders())
        d = s.deployment
        w3 = Web3(Web3.HTTPProvider(node.url))
        exchange = w3.eth.contract(address=d.exchange, abi=abi("Exchange"))
        pool = w3.eth.contract(address=d.pool, abi=abi("LiquidityPool"))
        usdc = w3.eth.contract(address=d.usdc, abi=abi("TestUSDC"))
        longs = [address_of(k) for k in s.trader_keys[:-N_WHALES]]
        whales = s.trader_keys[-N_WHALES:]
        db_url = f"sqlite:///{tmp_path}/keeper.db"
        # port 0: the keeper binds its own (the OS's pick, keeper.url); the restart below
        # gets a port of its own too, so `url` follows the keeper that runs
        keeper = start_keeper_process(s, tmp_path, db_url, 0, agent_key=keys[3],
                                      crash="liquidation_after_journal:600", tag="1", timeout=120)
        url = keeper.url
        restart_block = None
        try:
            assert open_crash_positions(url, s) == len(longs)
            with KeeperClient(url, whales[0]) as c:
                wait(lambda: c.http.get("/stats").json()["fill_states"].get("settled", 0) == len(longs),
                     what="opening fills settled")
            assert all(exchange.functions.position(a, 1).call()[0] == 5 * 10**18 for a in longs)

            # the crash, block by block: automine off, the test mines every block and the next
            # one only once the keeper has fully processed the last (its runner's
            # processed_block: a scan from that block done, every decided step in the mempool).
            # Each price update gets a block, then its liquidations one of their own (decided
            # on the price the keeper saw), so the bounds below hold at any machine speed.
            manual_mining(w3)
            price_blocks: list[int] = []
            journal = LiquidationJournal(db_url)
            clients = [KeeperClient(url, whales[0])]  # the last: the running keeper's
            try:
                def processed() -> int:
                    return clients[-1].risk()["liquidation"]["processed_block"]

                for price in crash_prices():
                    block = mine_price(w3, s, 1, price)
                    price_blocks.append(block)
                    if keeper is not None:
                        wait(lambda: journal.steps() or processed() >= block, what=f"keeper 1 at block {block}")
                        if journal.steps():
                            # the first liquidation step is journaled and stalls before its send: kill -9
                            keeper.send_signal(signal.SIGKILL)
                            keeper.wait(10)
                            assert all(r.state == "planned" for r in journal.steps())
                            keeper = None
                            keeper2 = start_keeper_process(s, tmp_path, db_url, 0, agent_key=keys[3], tag="2",
                                                           timeout=120)
                            url = keeper2.url
                            clients.append(KeeperClient(url, whales[0]))
                            restart_block = w3.eth.block_number
                            assert restart_block == block  # nothing is mined while the keeper is down
                    wait(lambda: processed() >= block, what=f"keeper at block {block}")
                    block = mine(w3)  # this update's liquidations
                    wait(lambda: processed() >= block, what=f"keeper at block {block}")
                assert restart_block is not None, "the kill point was never reached"

                final = crash_prices()[-1]
                for _ in range(10):  # steps decided on the last blocks (ADL, a resumed step)
                    if all(exchange.functions.position(a, 1).call()[0] == 0 for a in longs):
                        break
                    block = mine(w3)
                    wait(lambda: processed() >= block, what=f"keeper at block {block}")
            finally:
                for client in clients:
                    client.close()
            assert all(exchange.functions.position(a, 1).call()[0] == 0 for a in longs), "every long liquidated"
            liquidations = list(exchange.events.Liquidation().get_logs(from_block=price_blocks[0]))
            # an account that went bankrupt past what the fund holds before the keeper reached
            # it is closed by ADL against the whales instead (fund first, then ADL)
            adls = list(exchange.events.Adl().get_logs(from_block=price_blocks[0]))
            interval_mining(w3, None)  # automine again: the unwind and the exits below

            # ---- every breach liquidated in the next block, exactly once
            breach = breach_blocks(exchange, longs, price_blocks)
            assert set(breach) == set(longs)
            liq_block = {}
            for e in liquidations:
                assert e["args"]["account"] not in liq_block, "liquidated twice"
                liq_block[e["args"]["account"]] = e["blockNumber"]
                assert e["args"]["size"] == 5 * 10**18 and e["args"]["backstop"] == d.pool
            adl_accounts = {e["args"]["account"] for e in adls}
            for e in adls:
                assert e["args"]["account"] not in liq_block, "liquidated and deleveraged"
                assert e["args"]["counterparty"] in {address_of(w) for w in whales}  # in profit: ranked first
                liq_block[e["args"]["account"]] = max(liq_block.get(e["args"]["account"], 0), e["blockNumber"])
            assert set(liq_block) == set(longs)
            for a in longs:
                started = max(breach[a], restart_block) if breach[a] <= restart_block else breach[a]
                # the keeper decided on that block's state and the test mined the next one only
                # after every decided step was in the mempool: it is in the very next block
                assert liq_block[a] - started <= 1, (a, breach[a], liq_block[a], restart_block)
                # it was liquidatable in the block before its liquidation (no healthy account touched)
                eq = exchange.functions.equity(a).call(block_identifier=liq_block[a] - 1)
                req = exchange.functions.margin_requirement(a, False).call(block_identifier=liq_block[a] - 1)
                assert eq < req
            rows = journal.steps()
            assert not [r for r in rows if r.state in OPEN_STATES]
            confirmed = [r for r in rows if r.state == CONFIRMED]
            assert sorted(r.account for r in confirmed) == sorted(longs)
            assert {r.tx_hash for r in confirmed} == {e["transactionHash"].to_0x_hex() for e in liquidations + adls}
            assert all(r.state in (CONFIRMED, DEAD) for r in rows)
            journal.close()

            # ---- the API shows them
            with KeeperClient(url, whales[0]) as c:
                risk = c.risk()
                assert risk["liquidation"]["confirmed"] == len(longs) and risk["bad_debt_open"] == "0"
                assert int(risk["insurance_fund"]) == exchange.functions.insurance_fund().call() > 0
                # Accounts that breached while the keeper was down can go bankrupt before the
                # restarted keeper reaches them (how many blocks that is depends on the
                # machine): their deficit must be covered, by the fund here, and none left open.
                assert int(risk["bad_debt_covered"]) == exchange.functions.bad_debt_covered().call()
                assert risk["liquidation"]["adl"] == len(adl_accounts)
                assert len(c.liquidations(limit=1000)) == len(rows)
                ranks = c.adl_ranks()
                # the whales are the profitable opposite side of every long: ranked 1 and 2
                assert sorted(ranks[address_of(w)]["1"]["rank"] for w in whales) == [1, 2]
                assert c.account_risk(longs[0])["open"] is False

                # ---- the pool unwinds through the book: the whales' closing bids take it
                for w in whales:
                    short = -exchange.functions.position(address_of(w), 1).call()[0]
                    with KeeperClient(url, w) as wc:
                        (ack,) = wc.place_batch([wc.order(1, True, final + final // 1_000, short)])
                        assert ack["status"] == "accepted", ack
                wait(lambda: exchange.functions.position(d.pool, 1).call()[0] == 0, 60, "pool unwound")
                wait(lambda: all(exchange.functions.position(address_of(w), 1).call()[0] == 0 for w in whales),
                     30, "whales flat")
        finally:
            if keeper is not None:
                keeper.kill()
            if restart_block is not None:
                keeper2.send_signal(signal.SIGTERM)
                keeper2.wait(60)

        # ---- everyone exits with everything
        for k in s.trader_keys:
            a = address_of(k)
            coll = exchange.functions.collateral(a).call()
            assert coll >= 0
            if coll:
                Web3Deployer(w3, k).transact("Exchange", d.exchange, "withdraw", coll)
            assert exchange.functions.collateral(a).call() == 0
        for k in s.lp_keys:
            lp = Web3Deployer(w3, k)
            shares = pool.functions.balanceOf(lp.address).call()
            promised = pool.functions.previewRedeem(shares).call()
            before = usdc.functions.balanceOf(lp.address).call()
            receipt = lp.send_call(pool.get_function_by_signature("redeem(uint256)")(shares))
            paid = usdc.functions.balanceOf(lp.address).call() - before
            assert [e["args"]["assets"] for e in pool.events.Withdraw().process_receipt(receipt)] == [paid]
            # the preview was read on the block before the redeem's: with no position left
            # the share price only rises between them (profit unlocks by the second), so the
            # payout is at least the preview (ERC-4626), equal when nothing unlocked meanwhile
            assert paid >= promised > 0
        assert pool.functions.totalSupply().call() == 0
        # what is left: fees, the insurance fund (its share of the penalties), the pool's
        # rounding dust and the operator's liquidation rewards, each backed to the unit
        left = [d.pool, address_of(s.operator_key)]
        assert all(exchange.functions.collateral(x).call() >= 0 for x in left)
        assert usdc.functions.balanceOf(d.exchange).call() == exchange.functions.fees_accrued().call() + \
            exchange.functions.insurance_fund().call() + sum(exchange.functions.collateral(x).call() for x in left)
