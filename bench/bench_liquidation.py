"""Liquidation latency on a real anvil with the real keeper: the crash scenario of
tests/e2e/test_crash_liquidation.py without the kill (52 levered longs, the oracle falls 40%
in 2% steps, a block a second).

Prints one `name: value` line per figure:
  liquidation_latency_blocks_p50 / _p99 / _max   blocks from the price update at which an
                                                 account first was below maintenance to
                                                 the block of its Liquidation
  liquidations                                   accounts liquidated (all of them must be)
  gas_liquidate_tx_p50                           gas of the runner's liquidate transactions
  liquidation_runner_steps_per_account           journaled steps / liquidated accounts

    python bench/bench_liquidation.py [--longs 52]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from web3 import Web3

from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper import crashstack as cs
from offchain.keeper.process import stop_keeper
from offchain.keeper.runners.liquidation_journal import LiquidationJournal
from offchain.order import address_of
from offchain.stats import percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--longs", type=int, default=52)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Anvil(accounts=6 + args.longs + cs.N_WHALES) as node:
        work = Path(tmp)
        keys = node.private_keys()
        s = cs.deploy_crash_stack(node.url, keys, lps=2, traders=cs.crash_traders(args.longs))
        w3 = Web3(Web3.HTTPProvider(node.url))
        exchange = w3.eth.contract(address=s.deployment.exchange, abi=abi("Exchange"))
        longs = [address_of(k) for k in s.trader_keys[:-cs.N_WHALES]]
        db_url = f"sqlite:///{work}/keeper.db"
        keeper = cs.start_keeper_process(s, work, db_url, 0, agent_key=keys[3])  # port 0: keeper.url
        try:
            cs.open_crash_positions(keeper.url, s)
            deadline = time.monotonic() + 60
            while not all(exchange.functions.position(a, 1).call()[0] for a in longs):
                assert time.monotonic() < deadline, "opening fills not settled"
                time.sleep(0.1)
            cs.interval_mining(w3, 1)
            reporter = Web3Deployer(w3, s.reporter_key)
            blocks = []
            for price in cs.crash_prices():
                blocks.append(cs.report_price(w3, s, reporter, 1, price))
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while any(exchange.functions.position(a, 1).call()[0] for a in longs):
                assert time.monotonic() < deadline, "not every long was liquidated"
                time.sleep(0.2)
            cs.interval_mining(w3, None)
            logs = list(exchange.events.Liquidation().get_logs(from_block=blocks[0]))
        finally:
            stop_keeper(keeper, 20)
        breach = cs.breach_blocks(exchange, longs, blocks)
        latency = [e["blockNumber"] - breach[e["args"]["account"]] for e in logs if e["args"]["account"] in breach]
        gas = [w3.eth.get_transaction_receipt(e["transactionHash"])["gasUsed"] for e in logs]
        journal = LiquidationJournal(db_url)
        steps = len(journal.steps())
        journal.close()
        print(f"liquidation_latency_blocks_p50: {percentile(latency, 0.50)}")
        print(f"liquidation_latency_blocks_p99: {percentile(latency, 0.99)}")
        print(f"liquidation_latency_blocks_max: {max(latency) if latency else 0}")
        print(f"liquidations: {len(logs)}")
        print(f"gas_liquidate_tx_p50: {percentile(gas, 0.50)}")
        print(f"liquidation_runner_steps_per_account: {steps / max(len(logs), 1):.2f}")


if __name__ == "__main__":
    main()
