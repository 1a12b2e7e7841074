"""End-to-end keeper benchmark on anvil: signed orders in over the WebSocket place channel,
fills settled on chain. Prints `name: value` lines.

Setup: anvil (automine) on a free port, the suite deployed (offchain.deploy), 8 funded
traders, the keeper as a subprocess (its own core; the client is not measured: orders are
pre-signed and pre-encoded). Orders come in batches of BATCH; in each batch the first half
rests (buys) and the second half crosses them (sells), so half the orders make one fill.

- e2e_orders_accepted_per_s: orders acknowledged (journaled) / wall time of the intake;
- e2e_ack_latency_p50/p99_ms: send -> ack per batch (every order of a batch shares it);
- e2e_fills_settled_per_s: fills settled / (last settled - first batch submitted), keeper clock;
- e2e_settle_drain_fills_per_s: settlement's capacity: the fills not yet settled when the
  intake ended / (last settled - intake end) (the figure above is bounded by the intake);
- e2e_settle_latency_p50_ms: a fill's match (journaled) -> its FillSettled receipt;
- e2e_open_loop_ack_p50_ms / _p99_ms: an open-loop offered load (BENCH_OPEN_RATE orders/s,
  default 2,000, for BENCH_OPEN_SECONDS, default 5) from BENCH_OPEN_CLIENTS (16) independent
  WebSocket clients, one order per place message, each sent at its scheduled time whatever
  the acks do; latency = ack received - scheduled send (a late sender counts against it);
- anvil_raw_tx_per_s: the calibration, anvil's rate for plain signed transfers (pre-signed,
  sent in JSON-RPC batches, until the last receipt), measured before and after the keeper
  run on the same anvil; e2e_fills_per_raw_tx reads the settled rate as a ratio of it.
Env: BENCH_ORDERS (default 20000), BENCH_BATCH (500), BENCH_INFLIGHT (4 place messages in
flight), BENCH_TX_INFLIGHT (48 settle txs in flight), BENCH_BLOCK_TIME (anvil --block-time,
default 0.2 s; 0: automine), BENCH_GAS_PER_FILL (200,000: the settle tx's gas limit per
fill), BENCH_VERBOSE=1 (CPU seconds and per-batch phase timings), BENCH_JOURNAL_DIR (where the
keeper's SQLite journal lives; default the temp dir; journal_fsync_p50_ms is measured
there), BENCH_PYSPY=path (py-spy record of the keeper during the open loop; PYSPY names the
binary), BENCH_STAGES=1 (the keeper keeps per-message stage stamps, MMX_STAGE_TIMES=1:
prints where an open-loop order's latency goes, stage by stage, and the GC pauses).
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
from offchain.devnet import Anvil
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


TX_INFLIGHT = int(os.environ.get("BENCH_TX_INFLIGHT", "48"))
# the settle tx's gas limit per fill: a block takes txs while their limits fit its 300M, so
# the keeper's default (400k, 4x a fill's ~100k) lets only 11 full batches into a block
GAS_PER_FILL = int(os.environ.get("BENCH_GAS_PER_FILL", "200000"))  # 2x the measured ~100k
OPEN_RATE = float(os.environ.get("BENCH_OPEN_RATE", "2000"))
OPEN_SECONDS = float(os.environ.get("BENCH_OPEN_SECONDS", "5"))
OPEN_CLIENTS = int(os.environ.get("BENCH_OPEN_CLIENTS", "16"))
CALIBRATION_TXS = int(os.environ.get("BENCH_CALIBRATION_TXS", "1000"))


def wait_settled(url: str, fills: int, timeout_s: float) -> dict:
    """The keeper's /stats once `fills` fills are settled or skipped (the chain's answer to
    every one), or at the timeout: the caller reports what the returned stats reached."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = httpx.get(url + "/stats").json()
        if stats["settled"] + stats["skipped"] >= fills or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


def anvil_chain_args() -> dict:
    """The bench's anvil chain settings (offchain.devnet.Anvil): Cancun and 64 past states
    in memory (nothing here reads older state), which keep anvil's cost per block flat as
    the chain grows (docs/performance.md, "Why anvil slowed down"). BENCH_HARDFORK
    (default cancun) and BENCH_ANVIL_HISTORY (64; `full` = anvil's default: 500 in memory,
    then on disk) give the A/B against anvil's own defaults."""
    history = os.environ.get("BENCH_ANVIL_HISTORY", "64")
    return {"hardfork": os.environ.get("BENCH_HARDFORK", "cancun"),
            "history": None if history == "full" else int(history)}


def raw_tx_rate(url: str, key: str, count: int = CALIBRATION_TXS, batch: int = 100) -> float:
    """Plain signed ETH transfers per second through anvil: signed first (untimed), sent as
    JSON-RPC batches of eth_sendRawTransaction, timed until the last one's receipt."""
    from eth_account import Account

    acct = Account.from_key(key)
    with httpx.Client(timeout=60) as http:
        def rpc(method, *params):
            return http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                        "params": list(params)}).json()["result"]

        chain_id = int(rpc("eth_chainId"), 16)
        nonce = int(rpc("eth_getTransactionCount", acct.address, "pending"), 16)
        fee = 2 * int(rpc("eth_gasPrice"), 16) + 10**9
        sink = "0x" + "00" * 19 + "01"
        raws = [
            "0x" + acct.sign_transaction({
                "chainId": chain_id, "nonce": nonce + i, "to": sink, "value": 1, "gas": 21_000,
                "maxFeePerGas": fee, "maxPriorityFeePerGas": 10**9, "type": 2,
            }).raw_transaction.hex().removeprefix("0x")
            for i in range(count)
        ]
        t0 = time.perf_counter()
        last = None
        for i in range(0, count, batch):
            body = [{"jsonrpc": "2.0", "id": j, "method": "eth_sendRawTransaction", "params": [r]}
                    for j, r in enumerate(raws[i:i + batch])]
            answers = http.post(url, json=body).json()
            errors = [a["error"] for a in answers if "error" in a]
            if errors:
                raise RuntimeError(f"calibration transfer refused: {errors[0]}")
            last = answers[-1]["result"]
        while rpc("eth_getTransactionReceipt", last) is None:
            time.sleep(0.002)
        return count / (time.perf_counter() - t0)


def fsync_ms(directory: str, count: int = 100) -> tuple[float, float]:
    """(p50, p99) ms of one 4 KiB write + fsync in `directory`: the floor of a group
    commit on the journal's disk (SQLite WAL, synchronous=FULL: one fsync per commit), so
    an ack can never be faster than this, whatever the keeper does."""
    fd, path = tempfile.mkstemp(dir=directory)
    took = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            took.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    return pct(took, 0.5) * 1000, pct(took, 0.99) * 1000


def process_cpu_s(pid: int, thread: int | None = None) -> float:
    """CPU seconds (user + system) the process `pid` has used so far, every thread, or only
    thread `thread` (the main thread's id is the pid: the keeper's event loop). A per-order
    cost read this way does not depend on how busy the machine is, unlike a rate."""
    stat = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_sched(pid: int) -> dict[str, tuple[float, float, int]]:
    """Per thread of `pid` (by name, same-named threads summed): (s on a CPU, s waiting on
    the run queue for a CPU, voluntary context switches) from /proc schedstat: a thread
    that waits for a core (the machine's load) shows run-queue time; one that waits for
    the GIL or I/O sleeps instead (voluntary switches)."""
    out: dict[str, tuple[float, float, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            on_cpu, queued, _ = (int(x) for x in (task / "schedstat").read_text().split())
            switches = next(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                            if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration, ValueError):
            continue  # the thread ended meanwhile
        name = "loop" if task.name == str(pid) else name
        a, b, c = out.get(name, (0.0, 0.0, 0))
        out[name] = (a + on_cpu / 1e9, b + queued / 1e9, c + switches)
    return out


def build_open_loop(domain: Domain, traders: list[str], nonce_base: int) -> list[list[tuple[float, int, str]]]:
    """Per client, its (scheduled offset s, order number, message) list. Order k goes at
    k / OPEN_RATE to client k % OPEN_CLIENTS; the first half of the clients sign as the
    four makers (GTC buys that rest), the second half as the four takers (IOC sells at the
    same price that fill against them), so about half of the orders make a fill."""
    total = int(OPEN_RATE * OPEN_SECONDS)
    expiry = int(time.time()) + 3600
    half = OPEN_CLIENTS // 2
    schedules: list[list[tuple[float, int, str]]] = [[] for _ in range(OPEN_CLIENTS)]
    for k in range(total):
        c = k % OPEN_CLIENTS
        buy = c < half
        key = traders[:4][c % 4] if buy else traders[4:8][c % 4]
        o = Order(address_of(key), 1, buy, PRICE, SIZE, nonce_base + k, expiry, 0)
        item = place_request(o, sign_order(o, domain, key), "GTC" if buy else "IOC")
        schedules[c].append((k / OPEN_RATE, k, json.dumps({"op": "place", "id": k, "orders": [item]})))
    return schedules


async def open_loop(url: str, schedules: list[list[tuple[float, int, str]]],
                    times: dict | None = None) -> tuple[list[float], int, int, float]:
    """Every client on its own connection sends on schedule; returns (latencies s, orders
    accepted, fills made, seconds from the first scheduled send to the last ack). With
    `times` (a dict), times[k] = [due, sent, ack read] (perf_counter) per order k."""
    latencies: list[float] = []
    accepted = fills = 0
    # no client keepalive pings: when the keeper falls behind, a ping waiting in its queue
    # for 20 s would close the connection and lose the orders' acks, not measure them
    conns = [await websockets.connect(url.replace("http", "ws") + "/ws", max_size=None, ping_interval=None)
             for _ in schedules]
    t0 = time.perf_counter() + 0.5  # every client connected before the first send
    last_ack = t0

    async def client(ws, schedule):
        due = {k: t0 + at for at, k, _ in schedule}

        async def reader():
            nonlocal accepted, fills, last_ack
            async for text in ws:
                msg = json.loads(text)
                if msg.get("op") == "ack":
                    now = time.perf_counter()
                    if times is not None:
                        times[msg["id"]].append(now)  # [due, sent, read]
                    latencies.append(now - due.pop(msg["id"]))
                    accepted += sum(1 for r in msg["results"] if r["status"] == "accepted")
                    fills += sum(r.get("fills", 0) for r in msg["results"])
                    last_ack = max(last_ack, now)
                    if not due:
                        return
                elif msg.get("op") == "error":
                    raise RuntimeError(msg)

        task = asyncio.create_task(reader())
        for at, k, text in schedule:
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if times is not None:
                times[k] = [t0 + at, None]
            await ws.send(text)
            if times is not None:
                times[k][1] = time.perf_counter()
        await asyncio.wait_for(task, 120)

    try:
        await asyncio.gather(*(client(ws, sch) for ws, sch in zip(conns, schedules)))
    finally:
        for ws in conns:
            await ws.close()
    return latencies, accepted, fills, last_ack - t0


# (label, from, to) of the stage report: the client's stamps (due, sent, read) and the
# keeper's (offchain/keeper/stages.py), all time.perf_counter() = CLOCK_MONOTONIC
STAGE_SPANS = (
    ("client: due -> sent", "due", "client_sent"),
    ("wire + keeper reader: sent -> received", "client_sent", "received"),
    ("slot + task start: received -> handler", "received", "handler"),
    ("parse + accounts: handler -> parsed", "handler", "parsed"),
    ("recovery thread: parsed -> verified", "parsed", "verified"),
    ("admit + match: verified -> queued", "verified", "queued"),
    ("commit in progress: queued -> picked", "queued", "picked"),
    ("executor hand-off: picked -> write_start", "picked", "write_start"),
    ("journal write + fsync: write_start -> written", "write_start", "written"),
    ("loop wake-up: written -> resumed", "written", "resumed"),
    ("handler resume: resumed -> acked", "resumed", "acked"),
    ("send queue + write: acked -> sent", "acked", "sent"),
    ("wire + client reader: sent -> read", "sent", "client_read"),
    ("total: due -> read", "due", "client_read"),
)


def stage_report(dump: dict, times: dict, since: float) -> list[str]:
    """p50 / p99 / mean ms per stage of the open loop's messages (the keeper's records
    joined with the client's by message id), and the GC pauses in the window."""
    spans: dict[str, list[float]] = {label: [] for label, _, _ in STAGE_SPANS}
    joined = 0
    for rec in dump["records"]:
        mine = times.get(rec.get("id"))
        if rec["received"] < since or mine is None or len(mine) < 3 or mine[1] is None:
            continue
        joined += 1
        rec = rec | {"due": mine[0], "client_sent": mine[1], "client_read": mine[2]}
        for label, a, b in STAGE_SPANS:
            if a in rec and b in rec:
                spans[label].append(rec[b] - rec[a])
    lines = [f"# stages of {joined} open-loop messages (ms: p50 / p99 / mean)"]
    for label, values in spans.items():
        if values:
            lines.append(f"#   {label:<48} {pct(values, 0.5) * 1000:8.2f} {pct(values, 0.99) * 1000:8.2f} "
                         f"{sum(values) / len(values) * 1000:8.2f}")
    pauses = [(at, ms, gen) for at, ms, gen in dump["gc_pauses"] if at >= since]
    if pauses:
        lines.append(f"#   gc: {len(pauses)} collections, {sum(p[1] for p in pauses):.1f} ms in all, "
                     f"longest {max(p[1] for p in pauses):.1f} ms (generations {sorted({p[2] for p in pauses})})")
    else:
        lines.append("#   gc: no collections")
    return lines


def main() -> None:
    # interval mining by default: anvil's cost per block grows with the chain's state (one
    # block per settle tx under automine made it ~30x slower by the end of a run), so many
    # settle txs per block is both how a real chain runs and what keeps anvil's rate flat;
    # BENCH_BLOCK_TIME=0 gives automine
    block_time = float(os.environ.get("BENCH_BLOCK_TIME", "0.2")) or None
    journal_dir = os.environ.get("BENCH_JOURNAL_DIR")  # default: the temp dir, on the machine's disk
    with Anvil(accounts=13, block_time=block_time, **anvil_chain_args()) as anvil, \
            tempfile.TemporaryDirectory(dir=journal_dir) as tmp:
        stack = deploy_stack(anvil.url, anvil.private_keys(), traders=8)
        calibration_key = anvil.private_keys()[12]  # not one of the stack's 12
        raw_before = raw_tx_rate(anvil.url, calibration_key)
        env = keeper_env(anvil.url, f"sqlite:///{tmp}/keeper.db", 0,
                         stack.write_deployment(Path(tmp) / "deployment.json"), stack.operator_key,
                         poll_interval=0.5, batch_max_fills=64, max_inflight=TX_INFLIGHT,
                         gas_limit_per_fill=GAS_PER_FILL,
                         batch_max_wait_ms=20, rate=1_000_000_000, burst=1_000_000_000)
        stage_times = os.environ.get("BENCH_STAGES") == "1"
        if stage_times:
            env["MMX_STAGE_TIMES"] = "1"  # offchain/keeper/stages.py
        prof = ("-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else ()
        keeper = start_keeper(env, Path(tmp), "1", timeout=60, python_args=prof)
        try:
            url = keeper.url  # port 0: the keeper's own pick (offchain/keeper/process.py)
            info = httpx.get(url + "/info").json()
            domain = Domain(int(info["chain_id"]), info["exchange"])
            messages = build_messages(domain, stack.trader_keys)
            keeper_cpu, loop_cpu = process_cpu_s(keeper.pid), process_cpu_s(keeper.pid, keeper.pid)
            elapsed, latencies, accepted = asyncio.run(drive(url, messages))
            closed_cpu = process_cpu_s(keeper.pid) - keeper_cpu
            closed_loop_cpu = process_cpu_s(keeper.pid, keeper.pid) - loop_cpu
            at_intake_end = httpx.get(url + "/stats").json()  # the settlement backlog then
            intake_end = time.time()
            expected_fills = (N // BATCH) * (BATCH // 2)
            stats = wait_settled(url, expected_fills, 120)
            settle_window = max(1e-9, stats["last_settled_at"] - stats["first_submit_at"])
            # settlement's own capacity: the backlog left when the intake ended, drained
            backlog = expected_fills - at_intake_end["settled"] - at_intake_end["skipped"]
            drain_window = max(1e-9, stats["last_settled_at"] - intake_end)
            schedules = build_open_loop(domain, stack.trader_keys, N + BATCH)
            spy = None
            if os.environ.get("BENCH_PYSPY"):  # py-spy record of the keeper during the open loop
                import subprocess
                spy = subprocess.Popen([os.environ.get("PYSPY", "py-spy"), "record", "--pid", str(keeper.pid),
                                        "--rate", os.environ.get("BENCH_PYSPY_RATE", "50"), "--threads", "--format", "raw", "-o", os.environ["BENCH_PYSPY"],
                                        "--duration", str(int(OPEN_SECONDS) + 2)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            client_cpu = time.process_time()
            keeper_cpu, loop_cpu = process_cpu_s(keeper.pid), process_cpu_s(keeper.pid, keeper.pid)
            load_before = os.getloadavg()[0]
            sched_before = thread_sched(keeper.pid)
            times: dict | None = {} if stage_times else None
            open_started = time.perf_counter()
            open_latencies, open_accepted, open_fills, open_span = asyncio.run(open_loop(url, schedules, times))
            client_cpu = time.process_time() - client_cpu  # the load generator's own share
            sched_after = thread_sched(keeper.pid)
            open_cpu = process_cpu_s(keeper.pid) - keeper_cpu
            open_loop_cpu = process_cpu_s(keeper.pid, keeper.pid) - loop_cpu
            load_after = os.getloadavg()[0]
            if spy is not None:
                spy.wait()
            commits = httpx.get(url + "/stats").json()  # the group commits of the open loop (mostly)
            wait_settled(url, expected_fills + open_fills, 120)  # the calibration after: once the keeper is idle again
            raw_after = raw_tx_rate(anvil.url, calibration_key)
            print(f"e2e_orders: {N}  # anvil block time {block_time or 'automine'}, {anvil_chain_args()}, "
                  f"{TX_INFLIGHT} settle txs in flight")
            print(f"e2e_fills: {stats['settled']} settled, {stats['skipped']} skipped, {stats['batches']} txs")
            print(f"e2e_orders_accepted_per_s: {accepted / elapsed:.0f}")
            print(f"e2e_fills_settled_per_s: {stats['settled'] / settle_window:.0f}")
            print(f"e2e_settle_drain_fills_per_s: {(stats['settled'] - at_intake_end['settled']) / drain_window:.0f}"
                  f"  # the {backlog} fills not yet settled when the intake ended, over {drain_window:.2f}s")
            print(f"e2e_ack_latency_p50_ms: {pct(latencies, 0.5) * 1000:.2f}")
            print(f"e2e_ack_latency_p99_ms: {pct(latencies, 0.99) * 1000:.2f}")
            print(f"e2e_settle_latency_p50_ms: {stats['settle_latency_p50_ms']:.2f}")
            offered = sum(len(sch) for sch in schedules)
            print(f"# open loop: {offered} orders offered at {OPEN_RATE:.0f}/s by {OPEN_CLIENTS} clients, "
                  f"{open_accepted} accepted ({open_accepted / open_span:.0f}/s), {open_fills} fills, "
                  f"last ack {open_span:.2f}s after the first send; client CPU {client_cpu:.1f}s")
            print(f"e2e_open_loop_ack_p50_ms: {pct(open_latencies, 0.5) * 1000:.2f}")
            print(f"e2e_open_loop_ack_p99_ms: {pct(open_latencies, 0.99) * 1000:.2f}")
            if stage_times:
                sched = {name: tuple(v - w for v, w in zip(after_, sched_before.get(name, (0, 0, 0))))
                         for name, after_ in sched_after.items()}
                print("# keeper threads over the open loop (s on CPU / s waiting for a CPU / voluntary switches): "
                      + ", ".join(f"{n} {a:.2f}/{b:.2f}/{c}" for n, (a, b, c) in sorted(sched.items()) if a > 0.01))
                print("\n".join(stage_report(httpx.get(url + "/stats/stages").json(), times, open_started)))
            if "journal_commit_p50_ms" in commits:
                print(f"e2e_journal_commit_p50_ms: {commits['journal_commit_p50_ms']:.2f}  # p99 "
                      f"{commits['journal_commit_p99_ms']:.2f}; inside Journal.write p50 "
                      f"{commits['journal_write_p50_ms']:.2f} p99 {commits['journal_write_p99_ms']:.2f} "
                      f"(the thread's CPU p50 {commits.get('journal_write_cpu_p50_ms', 0):.2f} "
                      f"p99 {commits.get('journal_write_cpu_p99_ms', 0):.2f}); "
                      f"{commits['journal_waiters_per_commit']:.1f} requests per commit (last 4,096 commits)")
            if "recovery_job_p50_ms" in commits:
                print(f"# recovery thread: wait p50 {commits['recovery_wait_p50_ms']:.2f} ms, job p50 "
                      f"{commits['recovery_job_p50_ms']:.2f} p99 {commits['recovery_job_p99_ms']:.2f} ms (CPU p50 "
                      f"{commits['recovery_job_cpu_p50_ms']:.2f}), {commits['recovery_items_per_job']:.1f} orders a job, "
                      f"{commits.get('recovery_on_loop_share', 0) * 100:.0f}% of jobs on the loop")
            print(f"e2e_keeper_cpu_us_per_order: {open_cpu / max(1, open_accepted) * 1e6:.0f}"
                  f"  # open loop: keeper CPU {open_cpu:.2f}s (all threads) / orders acked;"
                  f" load average {load_before:.1f} -> {load_after:.1f}")
            print(f"e2e_keeper_loop_cpu_us_per_order: {open_loop_cpu / max(1, open_accepted) * 1e6:.0f}"
                  f"  # open loop: the event loop's thread only (the serial part)")
            print(f"e2e_keeper_cpu_us_per_order_closed: {closed_cpu / max(1, accepted) * 1e6:.0f}"
                  f"  # closed loop ({BATCH}-order messages): keeper CPU {closed_cpu:.2f}s / orders acked")
            print(f"e2e_keeper_loop_cpu_us_per_order_closed: {closed_loop_cpu / max(1, accepted) * 1e6:.0f}")
            print(f"anvil_raw_tx_per_s: {min(raw_before, raw_after):.0f}  "
                  f"# before {raw_before:.0f}, after {raw_after:.0f}")
            drain = (stats['settled'] - at_intake_end['settled']) / drain_window
            print(f"e2e_drain_fills_per_raw_tx: {drain / ((raw_before + raw_after) / 2):.2f}")
            f50, f99 = fsync_ms(tmp)
            print(f"journal_fsync_p50_ms: {f50:.2f}  # p99 {f99:.2f}: the floor of an ack (one fsync per group commit)")
            print(f"e2e_fills_per_raw_tx: {stats['settled'] / settle_window / ((raw_before + raw_after) / 2):.2f}")
            if os.environ.get("BENCH_VERBOSE"):
                def cpu(pid):  # the process and its children (anvil runs behind a node shim)
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                    return own + sum(cpu(int(k)) for k in kids)
                print(f"# cpu seconds: anvil {cpu(anvil._process.pid):.1f} keeper {cpu(keeper.pid):.1f} "
                      f"bench {time.process_time():.1f}; intake {elapsed:.1f}s; settle window {settle_window:.1f}s")
                print("# " + ", ".join(f"{k} {v}" for k, v in stats.items() if k.startswith("batch_")))
            # the same anvil once the keeper is gone: tells a slower chain from a busy keeper
            stop_keeper(keeper)
            print(f"# anvil raw transfers with the keeper stopped: {raw_tx_rate(anvil.url, calibration_key):.0f}/s")
        finally:
            stop_keeper(keeper)


if __name__ == "__main__":
    main()
