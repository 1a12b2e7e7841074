"""SIGKILL the keeper in the middle of settlement, restart it, and check against the chain:
no fill lost, none settled twice (FillSettled sums == Exchange.filled == the journal).
Each crash point runs with the journal on SQLite and on a real PostgreSQL (offchain.devdb)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter, defaultdict

import pytest

from offchain.client import KeeperClient
from offchain.keeper import process
from offchain.keeper.journal import Journal
from offchain.keeper.process import keeper_env, wait_ready

from .keeper_helpers import exchange

pytestmark = pytest.mark.e2e
PRICE = 2_000 * 10**6
N = 12


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """The keeper's journal: a SQLite file, or a fresh schema on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/keeper.db"
    return request.getfixturevalue("postgres_url")


def start_keeper(stack, tmp_path, db_url, port, crash: str | None, tag: str):
    """A keeper subprocess once its API is up; port 0: its own pick, read as `proc.url`."""
    proc, ready = spawn_keeper(stack, tmp_path, db_url, port, crash, tag)
    wait_ready(proc, ready, tmp_path / f"keeper-{tag}.log", timeout=120)  # imports take long under load
    return proc


def spawn_keeper(stack, tmp_path, db_url, port, crash: str | None, tag: str):
    """A keeper subprocess (not waited for: a standby becomes ready only when it leads)."""
    env = keeper_env(stack.url, db_url, port, stack.write_deployment(tmp_path / "deployment.json"),
                     stack.operator_key, crash=crash, poll_interval=0.1, batch_max_fills=8, max_inflight=1,
                     batch_max_wait_ms=5, rate=100_000, burst=100_000)
    return process.spawn_keeper(env, tmp_path, tag)


def _mined(w3, tx_hash: str) -> bool:
    """The tx has a receipt (web3 raises TransactionNotFound before it is mined or sent)."""
    from web3.exceptions import TransactionNotFound

    try:
        return w3.eth.get_transaction_receipt(tx_hash) is not None
    except TransactionNotFound:
        return False


def settled_from(taker, maker: str, n: int, timeout: float = 120.0) -> list[dict]:
    """Poll the taker's fills (KeeperClient) until exactly `n` have `maker` as maker and all
    are settled; those fills."""
    deadline = time.monotonic() + timeout
    while True:
        fills = [f for f in taker.fills(limit=1000) if f["maker"] == maker]
        if len(fills) == n and all(f["state"] == "settled" for f in fills):
            return fills
        assert time.monotonic() < deadline, fills
        time.sleep(0.1)


def chain_judges(stack, journal: Journal, hashes: set[str], n: int, size: int) -> dict[bytes, int]:
    """The chain is the judge: the orders `hashes` made exactly `n` fills, each settled once,
    and each order's on-chain filled size equals what the journal says settled equals `size`.
    Returns the settled size by order hash (from the FillSettled logs)."""
    _, ex = exchange(stack)
    ours = [log for log in ex.events.FillSettled().get_logs(from_block=0)
            if "0x" + log["args"]["maker_hash"].hex().removeprefix("0x") in hashes]
    pairs = Counter((log["args"]["maker_hash"], log["args"]["taker_hash"]) for log in ours)
    assert len(pairs) == n and set(pairs.values()) == {1}, "a fill settled twice or not at all"
    by_hash: dict[bytes, int] = defaultdict(int)
    for log in ours:
        by_hash[log["args"]["maker_hash"]] += log["args"]["size"]
        by_hash[log["args"]["taker_hash"]] += log["args"]["size"]
    settled: dict[bytes, int] = defaultdict(int)
    for row in journal.fills("settled"):
        settled[bytes.fromhex(row.maker_hash[2:])] += row.size
        settled[bytes.fromhex(row.taker_hash[2:])] += row.size
    for h, filled in by_hash.items():
        assert ex.functions.filled(h).call() == filled == settled[bytes(h)] == size
    return by_hash


def keeper_view(maker, taker) -> dict:
    """What a restart must reproduce: the market's book, the maker's open orders and the
    pair's fills without their settlement state (which the restart moves on)."""
    moving = {"state", "batch_id", "tx_hash", "reason"}
    fills = [{k: v for k, v in f.items() if k not in moving}
             for f in taker.fills(limit=1000) if f["maker"] == maker.account]
    # The book's levels, not its "seq": that is the journal's position, which moves on with
    # every journaled command (a mark the restarted keeper reads at start-up, an expiry
    # sweep), so comparing it made the test depend on how fast the machine was.
    book = {k: v for k, v in maker.book(1, 50).items() if k != "seq"}
    return {"book": book, "open": maker.open_orders(),
            "fills": sorted(fills, key=lambda f: f["id"])}


@pytest.mark.parametrize("crash_point", ["after_journal", "after_send"])
def test_keeper__sigkill_mid_settlement__restart_settles_each_fill_exactly_once(stack, tmp_path, crash_point, db_url):
    maker_key, taker_key = stack.trader_keys[4], stack.trader_keys[5]
    keeper = start_keeper(stack, tmp_path, db_url, 0, f"{crash_point}:120", "1")
    try:
        url = keeper.url
        with KeeperClient(url, maker_key) as maker, KeeperClient(url, taker_key) as taker:
            # a price of its own per run: the runs share the chain and the traders
            price = PRICE + (1 if crash_point == "after_send" else 2) * 1_000_000
            price += 0 if db_url.startswith("sqlite") else 2 * 1_000_000
            buys = [maker.order(1, True, price, 10**16) for _ in range(N)]
            acks = maker.place_batch(buys)
            assert all(a["status"] == "accepted" for a in acks)
            sells = taker.place_batch([taker.order(1, False, price, 10**16) for _ in range(N)], tif="IOC")
            assert sum(s["fills"] for s in sells) == N
            # a resting order on each side, so the book the restart must rebuild is not empty
            rest = maker.place_batch([maker.order(1, True, price - 40 * 10**6, 10**16),
                                      maker.order(1, False, price + 40 * 10**6, 2 * 10**16)])
            assert all(a["status"] == "accepted" for a in rest)
            # the poisoning frame in the stream: a valid order that would cross the
            # resting buy, then junk. It is refused whole; nothing matches, the journal stays
            # a gap-free prefix, and the restart below replays it into the same state.
            from websockets.sync.client import connect

            crossing = taker.signed(taker.order(1, False, price - 40 * 10**6, 10**16), "IOC")
            with connect(url.replace("http", "ws") + "/ws") as ws:
                ws.send(json.dumps({"op": "place", "id": "p", "orders": [crossing, 1]}))
                reply = json.loads(ws.recv(timeout=60))
            assert reply == {"op": "error", "id": "p", "detail": "orders[1] must be an object", "status": 422}
            before = keeper_view(maker, taker)
            assert len(before["open"]) == 2 and len(before["fills"]) == N
        # wait for the first batch to be journaled (and, for after_send, mined), then kill -9
        journal = Journal(db_url)
        deadline = time.monotonic() + 120
        while not journal.batches("submitted"):
            assert time.monotonic() < deadline, "no batch journaled"
            time.sleep(0.02)
        if crash_point == "after_send":  # the journaled tx is mined (automine), its receipt never seen
            (sent,) = journal.batches("submitted")
            w3, _ = exchange(stack)
            while not _mined(w3, sent.tx_hash):
                assert time.monotonic() < deadline, "the journaled batch was not mined"
                time.sleep(0.02)
        keeper.send_signal(signal.SIGKILL)
        keeper.wait(10)
        (batch,) = journal.batches("submitted")
        journal.close()
    finally:
        if keeper.poll() is None:
            keeper.kill()
    keeper2 = start_keeper(stack, tmp_path, db_url, 0, None, "2")  # a port of its own: ours may be taken by now
    try:
        with KeeperClient(keeper2.url, taker_key) as taker:
            settled_from(taker, maker.account, N)
            with KeeperClient(keeper2.url, maker_key) as maker_again:
                # replay rebuilt the same books, open orders and fills (ids included)
                assert keeper_view(maker_again, taker) == before
    finally:
        keeper2.send_signal(signal.SIGTERM)
        assert keeper2.wait(60) == 0
    # -- the chain is the judge ----------------------------------------------------------------
    journal = Journal(db_url)
    by_hash = chain_judges(stack, journal, {a["hash"] for a in acks} | {s["hash"] for s in sells}, N, 10**16)
    assert sum(by_hash.values()) == 2 * N * 10**16
    assert journal.batches("submitted") == []
    assert any(b.id == batch.id and b.state == "confirmed" for b in journal.batches())
    journal.close()
