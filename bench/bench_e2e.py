"""End-to-end keeper benchmark on anvil: signed orders in over the WebSocket place channel,
fills settled on chain. Prints `name: value` lines.

Setup: anvil (automine) on a free port, the suite deployed (offchain.deploy), 8 funded
traders, the keeper as a subprocess (its own core; the client is not measured: orders are
pre-signed and pre-encoded). Orders come in batches of BATCH; in each batch the first half
rests (buys) and the second half crosses them (sells), so half the orders make one fill.

- e2e_orders_accepted_per_s: orders acknowledged (journaled) / wall time of the intake;
- e2e_ack_latency_p50/p99_ms: send -> ack per batch (every order of a batch shares it);
- e2e_fills_settled_per_s: fills settled / (last settled - first batch submitted), keeper clock;
- e2e_settle_latency_p50_ms: a fill's match (journaled) -> its FillSettled receipt.
Env: BENCH_ORDERS (default 20000), BENCH_BATCH (500), BENCH_INFLIGHT (4 place messages in
flight), BENCH_TX_INFLIGHT (16 settle txs in flight), BENCH_BLOCK_TIME (anvil --block-time;
default automine), BENCH_VERBOSE=1 (CPU seconds and per-batch phase timings).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from offchain.client.messages import place_request
from offchain.devnet import Anvil, free_port
from offchain.keeper.devstack import deploy_stack
from offchain.keeper.process import keeper_env, start_keeper, stop_keeper
from offchain.order import Domain, Order, address_of, sign_order
from offchain.stats import percentile as pct

N = int(os.environ.get("BENCH_ORDERS", "20000"))
BATCH = int(os.environ.get("BENCH_BATCH", "500"))
INFLIGHT = int(os.environ.get("BENCH_INFLIGHT", "4"))
PRICE = 2_000 * 10**6
SIZE = 10**15


def build_messages(domain: Domain, traders: list[str]) -> list[str]:
    makers, takers = traders[:4], traders[4:8]
    expiry = int(time.time()) + 3600
    messages = []
    half = BATCH // 2
    for b in range(N // BATCH):
        items = []
        for side, keys in ((True, makers), (False, takers)):
            for i in range(half):
                key = keys[i % 4]
                o = Order(address_of(key), 1, side, PRICE, SIZE, b * BATCH + i + (0 if side else half), expiry, 0)
                items.append(place_request(o, sign_order(o, domain, key), "GTC" if side else "IOC"))
        messages.append(json.dumps({"op": "place", "id": b, "orders": items}))
    return messages


async def drive(url: str, messages: list[str]) -> tuple[float, list[float], int]:
    sent: dict[int, float] = {}
    latencies: list[float] = []
    accepted = 0
    done = asyncio.Event()
    window = asyncio.Semaphore(INFLIGHT)
    async with websockets.connect(url.replace("http", "ws") + "/ws", max_size=None) as ws:
        async def reader():
            nonlocal accepted
            async for text in ws:
                msg = json.loads(text)
                if msg.get("op") == "ack":
                    latencies.append(time.perf_counter() - sent[msg["id"]])
                    accepted += sum(1 for r in msg["results"] if r["status"] == "accepted")
                    window.release()
                    if len(latencies) == len(messages):
                        done.set()
                elif msg.get("op") == "error":
                    raise RuntimeError(msg)

        task = asyncio.create_task(reader())
        t0 = time.perf_counter()
        for i, text in enumerate(messages):
            await window.acquire()
            sent[i] = time.perf_counter()
            await ws.send(text)
        await asyncio.wait_for(done.wait(), 120)
        elapsed = time.perf_counter() - t0
        task.cancel()
    return elapsed, latencies, accepted


def main() -> None:
    block_time = float(os.environ["BENCH_BLOCK_TIME"]) if os.environ.get("BENCH_BLOCK_TIME") else None
    with Anvil(accounts=12, block_time=block_time) as anvil, tempfile.TemporaryDirectory() as tmp:
        stack = deploy_stack(anvil.url, anvil.private_keys(), traders=8)
        port = free_port()
        env = keeper_env(anvil.url, f"sqlite:///{tmp}/keeper.db", port,
                         stack.write_deployment(Path(tmp) / "deployment.json"), stack.operator_key,
                         poll_interval=0.5, batch_max_fills=64, max_inflight=os.environ.get("BENCH_TX_INFLIGHT", "16"),
                         batch_max_wait_ms=20, rate=1_000_000_000, burst=1_000_000_000)
        prof = ("-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else ()
        keeper = start_keeper(env, Path(tmp), "1", timeout=60, python_args=prof)
        try:
            url = f"http://127.0.0.1:{port}"
            info = httpx.get(url + "/info").json()
            domain = Domain(int(info["chain_id"]), info["exchange"])
            messages = build_messages(domain, stack.trader_keys)
            elapsed, latencies, accepted = asyncio.run(drive(url, messages))
            expected_fills = (N // BATCH) * (BATCH // 2)
            deadline = time.monotonic() + 120
            while True:
                stats = httpx.get(url + "/stats").json()
                if stats["settled"] + stats["skipped"] >= expected_fills or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            settle_window = max(1e-9, stats["last_settled_at"] - stats["first_submit_at"])
            print(f"e2e_orders: {N}")
            print(f"e2e_fills: {stats['settled']} settled, {stats['skipped']} skipped, {stats['batches']} txs")
            print(f"e2e_orders_accepted_per_s: {accepted / elapsed:.0f}")
            print(f"e2e_fills_settled_per_s: {stats['settled'] / settle_window:.0f}")
            print(f"e2e_ack_latency_p50_ms: {pct(latencies, 0.5) * 1000:.2f}")
            print(f"e2e_ack_latency_p99_ms: {pct(latencies, 0.99) * 1000:.2f}")
            print(f"e2e_settle_latency_p50_ms: {stats['settle_latency_p50_ms']:.2f}")
            if os.environ.get("BENCH_VERBOSE"):
                def cpu(pid):  # the process and its children (anvil runs behind a node shim)
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                    return own + sum(cpu(int(k)) for k in kids)
                print(f"# cpu seconds: anvil {cpu(anvil._process.pid):.1f} keeper {cpu(keeper.pid):.1f} "
                      f"bench {time.process_time():.1f}; intake {elapsed:.1f}s; settle window {settle_window:.1f}s")
                print("# " + ", ".join(f"{k} {v}" for k, v in stats.items() if k.startswith("batch_")))
        finally:
            stop_keeper(keeper)


if __name__ == "__main__":
    main()
