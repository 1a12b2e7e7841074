"""Keeper hardening benchmark (issue #10). Prints `name: value` lines.

1. Order-ack latency with and without analytics load: the keeper as a subprocess on anvil,
   some trades first (so reports have data), then BENCH_ACKS single passive orders over
   HTTP one after another (pre-signed; send -> durable ack), idle and then while
   BENCH_POLLERS clients poll /analytics/pool and /analytics/{account} without pause
   (the acks start once the pollers get answers: cache hits and the worker recomputing).
   - ack_latency_p50_ms_idle, ack_latency_p99_ms_idle
   - ack_latency_p50_ms_under_analytics_load, ack_latency_p99_ms_under_analytics_load
   - ack_latency_p99_ratio_under_analytics_load (goal: <= 2)
   - analytics_responses_under_load (answers the pollers got while acks were measured)
2. Restart: SIGTERM, start again on the same journal, time until it serves.
   - keeper_restart_s_<n>_commands (n = the journal's commands)
3. Restart after a large journal without a chain: BENCH_REPLAY place commands with a
   snapshot every BENCH_SNAPSHOT_EVERY (100000), then the newest snapshot loaded and the
   tail replayed (the sequencer part of a restart):
   - keeper_restart_s_1m_commands (or _<n>_ for another BENCH_REPLAY)
   - keeper_snapshot_max_ms (a snapshot's whole time, in the forked child) and
     keeper_snapshot_loop_max_ms (what the loop pays: the fork), keeper_snapshot_max_bytes
4. Failover: a leader and a standby keeper on one PostgreSQL journal (offchain.devdb), some
   trades through the leader, then the leader SIGKILLed; time until the standby answers
   /health and acknowledges an order (it waits on the leader lock, then runs the restart
   path: replay, chain reads, submitted batches resolved):
   - failover_s
Env: BENCH_ACKS (300), BENCH_POLLERS (4), BENCH_REPLAY (1000000; 0 skips part 3),
BENCH_SKIP_CHAIN=1 (part 3 only), BENCH_FAILOVER (1; 0 skips part 4).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import httpx
from bench_e2e import wait_settled  # this script's folder is on sys.path (run as a script)

from offchain.client.messages import place_request
from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack
from offchain.keeper.process import keeper_env, spawn_keeper, start_keeper, stop_keeper
from offchain.order import Domain, Order, address_of, sign_order
from offchain.stats import percentile as pct

ACKS = int(os.environ.get("BENCH_ACKS", "300"))
POLLERS = int(os.environ.get("BENCH_POLLERS", "4"))
REPLAY = int(os.environ.get("BENCH_REPLAY", "1000000"))
PRICE = 2_000 * 10**6
SIZE = 10**15


def timed_start(env: dict, tmp: Path, name: str):
    """The keeper once its API is up, and the seconds that took (restart_s)."""
    t0 = time.monotonic()
    proc = start_keeper(env, tmp, name, timeout=120)
    return proc, time.monotonic() - t0


async def measure_acks(url: str, bodies: list[bytes]) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for body in bodies:
            t0 = time.perf_counter()
            r = await http.post("/orders", content=body, headers={"content-type": "application/json"})
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    return latencies


async def under_load(url: str, bodies: list[bytes], paths: list[str]) -> tuple[list[float], int]:
    served = 0
    stop = asyncio.Event()

    async def poll(path: str) -> None:
        nonlocal served
        async with httpx.AsyncClient(base_url=url, timeout=600) as http:
            while not stop.is_set():
                r = await http.get(path)
                if r.status_code == 200:
                    served += 1
                else:
                    await asyncio.sleep(0.05)  # 503 busy: ask again soon

    pollers = [asyncio.create_task(poll(paths[i % len(paths)])) for i in range(POLLERS)]
    # the acks start once the pollers get answers (the cache is warm and the worker busy
    # with the other reports), so the window measures both, not only the first computation
    deadline = time.monotonic() + 180
    while served == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    warm = served
    latencies = await measure_acks(url, bodies)
    stop.set()
    for task in pollers:
        task.cancel()
    await asyncio.gather(*pollers, return_exceptions=True)
    return latencies, served - warm


def passive_bodies(domain: Domain, key: str, n: int, nonce0: int) -> list[bytes]:
    expiry = int(time.time()) + 3600
    out = []
    for i in range(n):
        o = Order(address_of(key), 1, True, PRICE // 2 - (i % 50) * 10_000, SIZE, nonce0 + i, expiry, 0)
        out.append(json.dumps(place_request(o, sign_order(o, domain, key))).encode())
    return out


def trades(url: str, domain: Domain, makers: list[str], takers: list[str], n: int) -> None:
    expiry = int(time.time()) + 3600
    items = []
    for i in range(n):
        mk, tk = makers[i % len(makers)], takers[i % len(takers)]
        buy = Order(address_of(mk), 1, True, PRICE, SIZE, 10**9 + i, expiry, 0)
        sell = Order(address_of(tk), 1, False, PRICE, SIZE, 10**9 + i, expiry, 0)
        items += [place_request(buy, sign_order(buy, domain, mk)), place_request(sell, sign_order(sell, domain, tk), "IOC")]
    httpx.post(url + "/orders/batch", json={"orders": items}, timeout=60).raise_for_status()
    wait_settled(url, n, 60)


def replay_figures(n: int) -> dict[str, float]:
    """A journal of `n` commands as a market-making venue writes them: makers place bids
    and asks, takers send IOCs that fill them, makers cancel their oldest quotes (so the
    live book stays bounded, as quoting engines keep it), and settlement confirms the fills
    of each 5,000-command stretch; a snapshot every BENCH_SNAPSHOT_EVERY commands. Then the
    restart's sequencer part, by the keeper's own restart path (`Keeper.replay`): load the
    newest snapshot, replay the tail, rebuild the duplicate set, check the fills table
    (chain reads and the API start are not in it: see keeper_restart_s_* above)."""
    import types
    from collections import deque

    from offchain.keeper.admission import MarketInfo
    from offchain.keeper.core import Core, Outbox, SignedOrder, market_config
    from offchain.keeper.journal import SETTLED, Journal, WriteSet
    from offchain.keeper.service import Keeper, RecoveryReport
    from offchain.keeper.snapshotter import ForkedSnapshot
    from offchain.matching import Engine
    from offchain.order import Signature

    every = int(os.environ.get("BENCH_SNAPSHOT_EVERY", "10000"))
    info = MarketInfo(market=1, tick=10_000, lot=10**15, min_size=10**15)
    figures: dict[str, float] = {"snapshot_max_ms": 0.0, "snapshot_loop_max_ms": 0.0, "snapshot_max_bytes": 0}
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(f"sqlite:///{tmp}/j.db")
        core = Core(Engine([market_config(info)]), {1: info})
        sig = Signature(27, 1, 1)
        expiry = int(time.time()) + 86_400
        accounts = ["0x" + f"{i:040x}" for i in range(1, 65)]
        quotes: deque = deque()  # resting quotes, oldest first (the makers cancel these)
        t0 = time.perf_counter()
        i = 0
        while i < n:
            ws, out = WriteSet(), Outbox.new()
            for i in range(i, min(n, i + 5_000)):
                # 5,000 quotes first (the book a venue has), then in every 8 commands: 4 quotes
                # (2 bids, 2 asks), 2 IOC takers, 2 cancels of the oldest resting quotes
                slot = i % 8 if i >= 5_000 else i % 4
                kind = 0 if slot < 2 else 1 if slot < 4 else 2 if slot < 6 else 3
                account = accounts[i % 64]
                if kind == 3:  # a maker pulls its oldest quote still resting
                    while quotes:
                        signed = core.orders.get(quotes.popleft())
                        if signed is not None and signed.open:
                            core.cancel(core.next_seq(), i, signed.order.account, [signed.hash], 1, ws, out)
                            break
                    continue
                is_buy = kind == 0 if kind != 2 else i % 2 == 0
                if kind == 2:  # a taker crosses the spread
                    price = PRICE + 10_000 * 50 if is_buy else PRICE - 10_000 * 50
                else:
                    price = PRICE - 10_000 * (1 + i % 20) if kind == 0 else PRICE + 10_000 * (1 + i % 20)
                o = Order(account, 1, is_buy, price, SIZE, i, expiry, 0)
                h = (i + 1).to_bytes(32, "big")
                core.place(SignedOrder(h, o, sig, o.account, core.next_seq(), "IOC" if kind == 2 else "GTC"),
                           i, ws, out)
                if kind != 2 and h in core.orders:
                    quotes.append(h)
            i += 1
            for fill in list(core.fills.values()):  # settlement confirmed this stretch's fills
                core.mark_fill(fill.id, SETTLED)
                ws.fill_updates.append({"id": fill.id, "state": SETTLED})
                core.fill_final(fill, ws)
            if every and core.seq // every != (core.seq - 5_000) // every:
                t_snap = time.perf_counter()
                child = ForkedSnapshot.start(core.snapshot)  # what the keeper's loop pays
                t_fork = time.perf_counter()
                body = child.result()
                figures["snapshot_loop_max_ms"] = max(figures["snapshot_loop_max_ms"], (t_fork - t_snap) * 1000)
                figures["snapshot_max_ms"] = max(figures["snapshot_max_ms"], (time.perf_counter() - t_snap) * 1000)
                figures["snapshot_max_bytes"] = max(figures["snapshot_max_bytes"], len(body))
                ws.snapshot = (core.seq, body)
            journal.write(ws)
        figures["journal_build_s"] = time.perf_counter() - t0
        figures["live_orders"] = len(core.orders)
        journal.close()
        journal = Journal(f"sqlite:///{tmp}/j.db")
        t0 = time.perf_counter()
        keeper = Keeper.__new__(Keeper)
        keeper.journal = journal
        keeper.core = fresh = Core(Engine([market_config(info)]), {1: info})
        keeper.engine = fresh.engine
        keeper.recovery = RecoveryReport()
        keeper.settlement = types.SimpleNamespace(batch_seq=0)
        keeper.replay()
        figures["restart_s"] = time.perf_counter() - t0
        figures["tail"] = keeper.recovery.commands
        assert fresh.seq == core.seq and fresh.fill_seq == core.fill_seq and len(fresh.seen) == len(core.seen)
        assert fresh.engine.depth(1, 50) == core.engine.depth(1, 50) and set(fresh.orders) == set(core.orders)
        journal.close()
    return figures


def main() -> None:
    if os.environ.get("BENCH_SKIP_CHAIN"):
        return part3()
    with Anvil(accounts=12) as anvil, tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        stack = deploy_stack(anvil.url, anvil.private_keys(), traders=6)
        env = keeper_env(anvil.url, f"sqlite:///{tmp}/keeper.db", 0, stack.write_deployment(tmp / "deployment.json"),
                         stack.operator_key, poll_interval=0.5, rate=1_000_000_000, burst=1_000_000_000)
        keeper, _ = timed_start(env, tmp, "1")
        try:
            url = keeper.url  # port 0: the keeper's own pick (offchain/keeper/process.py)
            info = httpx.get(url + "/info").json()
            domain = Domain(int(info["chain_id"]), info["exchange"])
            keys = stack.trader_keys
            trades(url, domain, keys[:2], keys[2:4], 60)
            idle = asyncio.run(measure_acks(url, passive_bodies(domain, keys[4], ACKS, 1)))
            paths = ["/analytics/pool"] + [f"/analytics/{address_of(k)}" for k in keys[:3]]
            loaded, served = asyncio.run(under_load(url, passive_bodies(domain, keys[5], ACKS, 1), paths))
            print(f"ack_latency_p50_ms_idle: {pct(idle, 0.5) * 1000:.2f}")
            print(f"ack_latency_p99_ms_idle: {pct(idle, 0.99) * 1000:.2f}")
            print(f"ack_latency_p50_ms_under_analytics_load: {pct(loaded, 0.5) * 1000:.2f}")
            print(f"ack_latency_p99_ms_under_analytics_load: {pct(loaded, 0.99) * 1000:.2f}")
            print(f"ack_latency_p99_ratio_under_analytics_load: {pct(loaded, 0.99) / pct(idle, 0.99):.2f}")
            print(f"analytics_responses_under_load: {served}")
            commands = httpx.get(url + "/health").json()["seq"]
        finally:
            stop_keeper(keeper)
        keeper, restart_s = timed_start(env, tmp, "2")
        stop_keeper(keeper)
        print(f"keeper_restart_s_{commands}_commands: {restart_s:.2f}")
        if os.environ.get("BENCH_FAILOVER", "1") != "0":
            print(f"failover_s: {failover_s(env, tmp, stack):.2f}")
    part3()


def failover_s(env: dict, tmp: Path, stack) -> float:
    """Part 4: SIGKILL the leader of a PostgreSQL journal; seconds until the standby
    answers /health and acknowledges an order."""
    from offchain.devdb import PostgresServer

    with PostgresServer() as pg:
        env = env | {"MMX_DB_URL": pg.create_schema("failover"), "MMX_API_PORT": "0"}
        leader, _ = timed_start(env, tmp, "leader")
        log_b = tmp / "keeper-standby.log"
        standby, ready_b = spawn_keeper(env, tmp, "standby")
        try:
            url_a = leader.url
            info = httpx.get(url_a + "/info").json()
            domain = Domain(int(info["chain_id"]), info["exchange"])
            keys = stack.trader_keys
            trades(url_a, domain, keys[:2], keys[2:4], 40)
            deadline = time.monotonic() + 60
            while b"standby: another keeper leads" not in log_b.read_bytes():
                if standby.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_b.read_text())
                time.sleep(0.05)
            body = passive_bodies(domain, keys[4], 1, 10**9)[0]
            leader.send_signal(signal.SIGKILL)
            t0 = time.monotonic()
            leader.wait(10)
            with httpx.Client(timeout=5) as http:
                while True:
                    if standby.poll() is not None or time.monotonic() - t0 > 120:
                        raise RuntimeError(log_b.read_text())
                    if not ready_b.exists():  # it binds its API (and writes its URL) once it leads
                        time.sleep(0.01)
                        continue
                    url_b = ready_b.read_text().strip()
                    try:
                        if http.get(url_b + "/health").status_code == 200:
                            ack = http.post(url_b + "/orders", content=body,
                                            headers={"content-type": "application/json"}).json()
                            assert ack["status"] == "accepted", ack
                            return time.monotonic() - t0
                    except httpx.TransportError:
                        pass
                    time.sleep(0.01)
        finally:
            if leader.poll() is None:
                leader.kill()
            stop_keeper(standby)


def part3() -> None:
    if REPLAY:
        figures = replay_figures(REPLAY)
        label = "1m" if REPLAY == 1_000_000 else str(REPLAY)
        print(f"keeper_restart_s_{label}_commands: {figures['restart_s']:.2f}")
        print(f"keeper_snapshot_max_ms: {figures['snapshot_max_ms']:.1f}")
        print(f"keeper_snapshot_loop_max_ms: {figures['snapshot_loop_max_ms']:.1f}")
        print(f"keeper_snapshot_max_bytes: {figures['snapshot_max_bytes']}")
        print(f"# sequencer part only (snapshot load + {figures['tail']} tail commands + duplicate set "
              f"+ fills check; {figures['live_orders']} live orders); building that journal took "
              f"{figures['journal_build_s']:.0f} s")


if __name__ == "__main__":
    main()
