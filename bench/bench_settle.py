"""Settlement's capacity on anvil, apart from the intake: a backlog of matched fills settled
by a restarted keeper. Prints `name: value` lines.

bench_e2e's settled rate is bounded by its intake (a fill exists only once both orders
are acked, and the intake runs at ~1,400-2,300 orders/s on this machine, so ~700-1,150
fills/s), and once settlement keeps pace there is no backlog left for its drain figure.
Here the backlog is made first, then settled alone:

1. anvil as bench_e2e runs it (0.2 s blocks, Cancun, 64 past states), the suite, 8 traders;
   the calibration (anvil_raw_tx_per_s) before.
2. keeper 1 with settlement held (max_inflight 0: no settle tx is ever sent) takes
   BENCH_ORDERS orders over the WebSocket (bench_e2e's batches: half rest, half cross), so
   every fill is matched and journaled, none submitted; then SIGTERM.
3. keeper 2 on the same journal, BENCH_TX_INFLIGHT (48) txs in flight: its recovery queues
   every matched fill (a keeper restarting after an outage does the same).
   settle_backlog_fills_per_s = fills settled / (last FillSettled receipt - first batch
   submitted), keeper 2's clock; the calibration again after, and the ratio to it.
Env: BENCH_ORDERS (20000), BENCH_TX_INFLIGHT (48), BENCH_GAS_PER_FILL (200000),
BENCH_BLOCK_TIME (0.2), BENCH_HARDFORK / BENCH_ANVIL_HISTORY (bench_e2e.anvil_chain_args),
BENCH_PYSPY=path (py-spy record of keeper 2 while it settles; PYSPY names the binary).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from bench_e2e import (  # this script's folder is on sys.path (run as a script)
    BATCH,
    GAS_PER_FILL,
    N,
    TX_INFLIGHT,
    anvil_chain_args,
    build_messages,
    drive,
    raw_tx_rate,
    wait_settled,
)
from bench_vault_ops import tree_cpu

from offchain.devnet import Anvil, free_port
from offchain.keeper.devstack import deploy_stack
from offchain.keeper.process import keeper_env, start_keeper, stop_keeper
from offchain.order import Domain


def main() -> None:
    block_time = float(os.environ.get("BENCH_BLOCK_TIME", "0.2")) or None
    expected = (N // BATCH) * (BATCH // 2)
    with Anvil(accounts=13, block_time=block_time, **anvil_chain_args()) as anvil, \
            tempfile.TemporaryDirectory() as tmp:
        stack = deploy_stack(anvil.url, anvil.private_keys(), traders=8)
        calibration_key = anvil.private_keys()[12]  # not one of the stack's 12
        raw_before = raw_tx_rate(anvil.url, calibration_key)
        port = free_port()
        deployment = stack.write_deployment(Path(tmp) / "deployment.json")

        def env(inflight: int) -> dict[str, str]:
            return keeper_env(anvil.url, f"sqlite:///{tmp}/keeper.db", port, deployment, stack.operator_key,
                              poll_interval=0.5, batch_max_fills=64, max_inflight=inflight,
                              gas_limit_per_fill=GAS_PER_FILL, batch_max_wait_ms=20,
                              rate=1_000_000_000, burst=1_000_000_000)

        url = f"http://127.0.0.1:{port}"
        held = start_keeper(env(0), Path(tmp), "held", timeout=60)
        try:
            info = httpx.get(url + "/info").json()
            domain = Domain(int(info["chain_id"]), info["exchange"])
            intake_s, _, accepted = asyncio.run(drive(url, build_messages(domain, stack.trader_keys)))
            matched = httpx.get(url + "/stats").json()
        finally:
            stop_keeper(held)
        if matched["batches"] or matched["settled"]:
            raise SystemExit(f"settlement was not held: {matched['batches']} batches sent")
        keeper = start_keeper(env(TX_INFLIGHT), Path(tmp), "settle", timeout=120)
        spy = None
        try:
            if os.environ.get("BENCH_PYSPY"):
                spy = subprocess.Popen([os.environ.get("PYSPY", "py-spy"), "record", "--pid", str(keeper.pid),
                                        "--rate", "50", "--format", "raw", "-o", os.environ["BENCH_PYSPY"],
                                        "--duration", "20"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu0 = tree_cpu(anvil._process.pid), tree_cpu(keeper.pid), time.perf_counter()
            stats = wait_settled(url, expected, 300)
            cpu = (tree_cpu(anvil._process.pid) - cpu0[0], tree_cpu(keeper.pid) - cpu0[1],
                   time.perf_counter() - cpu0[2])
            if spy is not None:
                spy.wait()
            raw_after = raw_tx_rate(anvil.url, calibration_key)
        finally:
            stop_keeper(keeper)
        window = max(1e-9, stats["last_settled_at"] - stats["first_submit_at"])
        rate = stats["settled"] / window
        print(f"# {accepted} orders accepted by a keeper with settlement held ({accepted / intake_s:.0f}/s), "
              f"{expected} fills matched; a restarted keeper settled {stats['settled']} "
              f"(skipped {stats['skipped']}) in {stats['batches']} txs over {window:.2f}s; "
              f"anvil block time {block_time or 'automine'}, {anvil_chain_args()}, {TX_INFLIGHT} txs in flight")
        print(f"settle_backlog_fills_per_s: {rate:.0f}")
        print(f"anvil_raw_tx_per_s: {min(raw_before, raw_after):.0f}  # before {raw_before:.0f}, after {raw_after:.0f}")
        print(f"settle_backlog_fills_per_raw_tx: {rate / ((raw_before + raw_after) / 2):.2f}")
        print("# " + ", ".join(f"{k} {v}" for k, v in stats.items() if k.startswith("batch_")))
        print(f"# from keeper 2's ready to the last fill settled: wall {cpu[2]:.2f} s, anvil CPU {cpu[0]:.2f} s, "
              f"keeper CPU {cpu[1]:.2f} s; load average {os.getloadavg()[0]:.1f}")
        if stats["settled"] < expected:
            raise SystemExit(f"only {stats['settled']} of {expected} fills settled")


if __name__ == "__main__":
    main()
