"""Failover: two keepers on one PostgreSQL journal (docs/keeper.md "Failover"). The leader
is SIGKILLed mid-flow (a settle batch journaled but never broadcast, more fills matched
behind it, single orders in flight over HTTP); the standby wins the leader lock, runs the
restart path and serves. The chain is the judge: every fill settled exactly once; the
standby serves the leader's book, open orders (every acknowledged one) and fills."""

from __future__ import annotations

import signal
import threading
import time
from collections import defaultdict

import httpx
import pytest

from offchain.client import KeeperClient
from offchain.keeper.journal import Journal

from .test_keeper_crash import chain_judges, keeper_view, settled_from, spawn_keeper, wait_ready

pytestmark = pytest.mark.e2e
PRICE = 2_000 * 10**6 + 7 * 10**6  # a price of its own: the crash tests share the chain and traders
SIZE = 10**16
N = 12


def wait_log(path, text: str, proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None, path.read_text()
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.05)


class InFlight(threading.Thread):
    """Single resting orders sent one after another until the keeper stops answering."""

    def __init__(self, client: KeeperClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.sent: list[str] = []
        self.acked: list[str] = []
        self.refused: list[dict] = []

    def run(self) -> None:
        for i in range(10_000):
            order = self.client.order(1, True, PRICE - 60 * 10**6 - i * 10**4, SIZE)
            self.sent.append(self.client.hash(order))
            try:
                ack = self.client.place(order)
            except (httpx.HTTPError, OSError):
                return  # the leader died with this request in flight
            if ack["status"] != "accepted":
                self.refused.append(ack)
                return
            self.acked.append(ack["hash"])


def test_failover__leader_sigkilled_mid_flow__standby_settles_each_fill_once(stack, tmp_path, postgres_url):
    maker_key, taker_key = stack.trader_keys[4], stack.trader_keys[5]
    # the leader stalls after journaling its first batch: that batch is never broadcast
    leader, ready_a = spawn_keeper(stack, tmp_path, postgres_url, 0, "after_journal:120", "a")
    url_a = wait_ready(leader, ready_a, tmp_path / "keeper-a.log", timeout=120)
    standby, ready_b = spawn_keeper(stack, tmp_path, postgres_url, 0, None, "b")
    try:
        wait_log(tmp_path / "keeper-b.log", "standby: another keeper leads", standby)
        assert not ready_b.exists()
        with KeeperClient(url_a, maker_key) as maker, KeeperClient(url_a, taker_key) as taker:
            acks = maker.place_batch([maker.order(1, True, PRICE, SIZE) for _ in range(N)])
            assert all(a["status"] == "accepted" for a in acks)
            sells = taker.place_batch([taker.order(1, False, PRICE, SIZE) for _ in range(N)], tif="IOC")
            assert sum(s["fills"] for s in sells) == N
            rest = maker.place_batch([maker.order(1, False, PRICE + 40 * 10**6, 2 * SIZE)])
            assert rest[0]["status"] == "accepted"
            journal = Journal(postgres_url)
            deadline = time.monotonic() + 120
            while not journal.batches("submitted"):
                assert time.monotonic() < deadline, "no batch journaled"
                time.sleep(0.02)
            (batch,) = journal.batches("submitted")
            assert {f.state for f in journal.fills()} == {"submitted", "matched"}  # journaled, none broadcast
            before = keeper_view(maker, taker)
            flight = InFlight(maker)
            flight.start()
            deadline = time.monotonic() + 120
            while len(flight.acked) < 5:
                assert flight.is_alive() and time.monotonic() < deadline
                time.sleep(0.005)
            leader.send_signal(signal.SIGKILL)  # orders still in flight
            killed = time.monotonic()
            leader.wait(10)
            flight.join(30)
            assert not flight.is_alive() and flight.refused == []
        url_b = wait_ready(standby, ready_b, tmp_path / "keeper-b.log", timeout=120)  # bound once it leads
        with KeeperClient(url_b, maker_key) as maker_b, KeeperClient(url_b, taker_key) as taker_b:
            probe = maker_b.place(maker_b.order(1, True, PRICE - 59 * 10**6, SIZE))
            assert probe["status"] == "accepted"
            print(f"failover_s: {time.monotonic() - killed:.2f}")
            settled_from(taker_b, maker_b.account, N)
            after = keeper_view(maker_b, taker_b)
    finally:
        if leader.poll() is None:
            leader.kill()
        if standby.poll() is None:
            standby.send_signal(signal.SIGTERM)
    assert standby.wait(60) == 0
    # -- the standby serves what the leader had, plus every acknowledged in-flight order ------
    assert after["fills"] == before["fills"]
    open_before = {o["hash"] for o in before["open"]}
    open_after = {o["hash"]: o for o in after["open"]}
    assert open_before | set(flight.acked) | {probe["hash"]} <= set(open_after)
    assert set(open_after) <= open_before | set(flight.sent) | {probe["hash"]}  # journaled, ack lost
    bids = defaultdict(int)
    for h, o in open_after.items():
        if h not in open_before:
            bids[o["price"]] += int(o["open"])
    levels = [[p, str(int(s) - bids.pop(p, 0))] for p, s in after["book"]["bids"]]
    assert not bids
    assert {**after["book"], "bids": [lvl for lvl in levels if lvl[1] != "0"]} == before["book"]
    # -- the chain is the judge ------------------------------------------------------------------
    chain_judges(stack, journal, {a["hash"] for a in acks} | {s["hash"] for s in sells}, N, SIZE)
    assert journal.batches("submitted") == []
    assert any(b.id == batch.id and b.state == "confirmed" for b in journal.batches())
    journal.close()
