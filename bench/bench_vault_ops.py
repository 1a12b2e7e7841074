"""Vault deposits and withdrawals per second on anvil. Prints `name: value` lines.

Setup (untimed): anvil, the suite deployed (offchain.deploy), one vault from the factory
with no lock-up, its owner's stake, DEPOSITORS followers funded with USDC and approved.
Every operation is a real transaction of its depositor (the Vault has no batch entry:
each deposit starts that depositor's lock-up and prices its shares, so the chain cannot
net them): OPS_PER_DEPOSITOR per depositor, a deposit of 100 USDC then a withdrawal of
the shares it minted, alternating, each depositor's nonces in order. All transactions are
signed first (untimed) and sent as JSON-RPC batches; timed from the first send to the
last receipt, and every receipt must have succeeded.

Two ways of mining, both on the same anvil, A/B in one run:
- vault_ops_per_s_automine: anvil's default, one block per transaction;
- vault_ops_per_s: batched into blocks (automine off, `evm_mine` after each batch of
  BLOCK_TXS transactions), as a chain with blocks of many transactions mines them;
  this is the figure the specification's "more than 2,000 per second" is read against.
Calibration: anvil_raw_tx_per_s, plain signed transfers the same way (automine), so the
figures can be read as ratios on a shared machine.
Env: BENCH_DEPOSITORS (16), BENCH_VAULT_OPS (100 per depositor per mode), BENCH_BLOCK_TXS (200),
BENCH_VAULT_CLIENTS (1: senders at once, each with its share of the depositors).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
from bench_e2e import anvil_chain_args, raw_tx_rate  # this script's folder is on sys.path (run as a script)
from eth_account import Account
from web3 import Web3

from offchain.artifacts import abi
from offchain.client.vaults import VaultFactoryClient
from offchain.client.wallet import KeySigner
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack

USDC = 10**6
DEPOSITORS = int(os.environ.get("BENCH_DEPOSITORS", "16"))
OPS = int(os.environ.get("BENCH_VAULT_OPS", "100"))
BLOCK_TXS = int(os.environ.get("BENCH_BLOCK_TXS", "200"))
AMOUNT = 100 * USDC
RPC_BATCH = 100
GAS = 600_000


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=120)

    def __call__(self, method: str, *params):
        answer = self.http.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                "params": list(params)}).json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def batch(self, method: str, params: list[list]) -> list:
        body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in enumerate(params)]
        answers = sorted(self.http.post(self.url, json=body).json(), key=lambda a: a["id"])
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise RuntimeError(f"{method}: {errors[0]}")
        return [a["result"] for a in answers]


def sign_ops(w3: Web3, vault, keys: list[str], shares_per_deposit: int, ops: int) -> list[str]:
    """Each depositor's deposit / withdraw transactions, interleaved across depositors."""
    chain_id = w3.eth.chain_id
    fee = 2 * w3.eth.gas_price + 10**9
    deposit = vault.functions.deposit(AMOUNT, 0)._encode_transaction_data()
    withdraw = vault.functions.withdraw(shares_per_deposit, 0)._encode_transaction_data()
    per: list[list[str]] = []
    for key in keys:
        acct = Account.from_key(key)
        nonce = w3.eth.get_transaction_count(acct.address, "pending")
        txs = []
        for i in range(ops):
            tx = {"chainId": chain_id, "nonce": nonce + i, "to": vault.address, "value": 0, "gas": GAS,
                  "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9, "type": 2,
                  "data": deposit if i % 2 == 0 else withdraw}
            txs.append("0x" + acct.sign_transaction(tx).raw_transaction.hex().removeprefix("0x"))
        per.append(txs)
    return [txs[i] for i in range(ops) for txs in per]  # round robin: depositors interleave


STALL_S = 2.0
CLIENTS = int(os.environ.get("BENCH_VAULT_CLIENTS", "1"))
DEADLINE_S = 120.0


def run(url: str, raws: list[str], block_txs: int | None, clients: int = CLIENTS) -> tuple[float, int, int]:
    """(ops per second, failed receipts, stalls). block_txs None: automine; else mine every
    block_txs. The followers are independent: `clients` senders at once, each with its own
    connection and its share of the depositors (each depositor's transactions in nonce
    order), so anvil validates one sender's batch while it mines or validates another's.
    A stall: anvil's automine sometimes stops with ready transactions in its pool (its
    ready-transaction miner waits for a new arrival; seen 1,288 ready and no block for
    minutes), so after STALL_S without a new block the bench mines one itself and counts
    it: the figure then includes the wait, and the count says it happened."""
    rpc = Rpc(url)
    if block_txs is not None:
        rpc("evm_setAutomine", False)
    streams = [[r for j, r in enumerate(raws) if (j % DEPOSITORS) % clients == c] for c in range(clients)]
    hashes: list[list[str]] = [[] for _ in streams]
    sent, lock = [0], threading.Lock()

    errors: list[BaseException] = []

    def send(c: int) -> None:
        try:
            _send(c)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    def _send(c: int) -> None:
        mine = Rpc(url)
        stream = streams[c]
        for i in range(0, len(stream), RPC_BATCH):
            hashes[c] += mine.batch("eth_sendRawTransaction", [[r] for r in stream[i:i + RPC_BATCH]])
            with lock:
                before, sent[0] = sent[0], sent[0] + len(stream[i:i + RPC_BATCH])
                crossed = block_txs is not None and (sent[0] // block_txs > before // block_txs or sent[0] == len(raws))
            if crossed:
                mine("evm_mine")

    stalls = 0
    t0 = time.perf_counter()
    try:
        senders = [threading.Thread(target=send, args=(c,)) for c in range(len(streams))]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        if errors:
            raise errors[0]
        last = [h[-1] for h in hashes if h]
        head, moved = rpc("eth_blockNumber"), time.perf_counter()
        while any(r is None for r in rpc.batch("eth_getTransactionReceipt", [[h] for h in last])):
            if block_txs is not None:
                rpc("evm_mine")
            elif (now := rpc("eth_blockNumber")) != head:
                head, moved = now, time.perf_counter()
            elif time.perf_counter() - moved > STALL_S:
                stalls += 1
                rpc("evm_mine")
                moved = time.perf_counter()
            if time.perf_counter() - t0 > DEADLINE_S:
                raise SystemExit(f"not every operation was mined within {DEADLINE_S:.0f} s")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
    finally:
        if block_txs is not None:
            rpc("evm_setAutomine", True)
    failed = 0
    every = [h for hs in hashes for h in hs]
    for i in range(0, len(every), RPC_BATCH):
        receipts = rpc.batch("eth_getTransactionReceipt", [[h] for h in every[i:i + RPC_BATCH]])
        failed += sum(1 for r in receipts if r is None or int(r["status"], 16) != 1)
    return len(raws) / elapsed, failed, stalls


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the npm anvil is a node shim over the binary)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(tree_cpu(int(k)) for k in kids)


def main() -> None:
    accounts = 5 + DEPOSITORS + 1  # admin, operator, reporter, agent, owner, depositors, calibration
    with Anvil(accounts=accounts, **anvil_chain_args()) as anvil:
        keys = anvil.private_keys()
        stack = deploy_stack(anvil.url, keys, traders=0)
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        dep = stack.deployment
        owner_key, depositor_keys, calibration_key = keys[4], keys[5:5 + DEPOSITORS], keys[-1]
        owner = Account.from_key(owner_key).address
        factory = VaultFactoryClient.connect(w3, dep, KeySigner(w3, owner_key))
        address = factory.create("bench", owner, lockup=0)
        vault = w3.eth.contract(address=address, abi=abi("Vault"))
        admin = Web3Deployer(w3, stack.admin_key)
        for key in [owner_key, *depositor_keys]:
            who = Web3Deployer(w3, key)
            admin.transact("TestUSDC", dep.usdc, "mint", who.address, 10**12 * USDC)
            who.transact("TestUSDC", dep.usdc, "approve", address, 2**256 - 1)
        Web3Deployer(w3, owner_key).transact("Vault", address, "deposit", 10**9 * USDC, 0)
        shares_per_deposit = vault.functions.convert_to_shares(AMOUNT).call()
        raw_before = raw_tx_rate(anvil.url, calibration_key)
        results, cpu = {}, {}
        # batched first: anvil's cost per block grows with the chain (see docs/performance.md),
        # and the automine mode adds a block per operation, which the batched mode must not inherit
        for name, block_txs in (("vault_ops_per_s", BLOCK_TXS), ("vault_ops_per_s_automine", None)):
            raws = sign_ops(w3, vault, depositor_keys, shares_per_deposit, OPS)
            anvil_cpu, client_cpu, wall = tree_cpu(anvil._process.pid), time.process_time(), time.perf_counter()
            results[name] = run(anvil.url, raws, block_txs)
            cpu[name] = (tree_cpu(anvil._process.pid) - anvil_cpu, time.process_time() - client_cpu,
                         time.perf_counter() - wall)
        raw_after = raw_tx_rate(anvil.url, calibration_key)
        total = DEPOSITORS * OPS
        print(f"# {total} operations per mode ({DEPOSITORS} depositors, deposit {AMOUNT // USDC} USDC / "
              f"withdraw its shares, alternating), {CLIENTS} senders at once; batched mode mines every "
              f"{BLOCK_TXS} transactions")
        for name, (rate, failed, stalls) in results.items():
            if failed:
                raise SystemExit(f"{name}: {failed} of {total} operations failed")
            print(f"{name}: {rate:.0f}" + (f"  # anvil's automine stalled {stalls}x ({STALL_S:.0f} s each)"
                                           if stalls else ""))
        for name, (anvil_s, client_s, wall_s) in cpu.items():
            print(f"# {name}: wall {wall_s:.2f} s, anvil CPU {anvil_s:.2f} s, bench client CPU {client_s:.2f} s")
        print(f"anvil_raw_tx_per_s: {min(raw_before, raw_after):.0f}  # before {raw_before:.0f}, after {raw_after:.0f}")
        print(f"vault_ops_per_raw_tx: {results['vault_ops_per_s'][0] / ((raw_before + raw_after) / 2):.2f}")


if __name__ == "__main__":
    main()
