"""Funding routes and the WebSocket funding channel on an offline keeper (real engine,
journal and funding journal; the fake chain of fakes.py)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from offchain.funding import FundingParams, funding_rate
from offchain.funding.journal import FundingJournal
from offchain.funding.keeper import FundingKeeperRunner
from offchain.funding.runner import FundingRunner
from offchain.keeper.api import create_app

from tests.offchain.keeper.helpers import OfflineKeeper

from .fakes import FakeFundingChain
from .test_runner import INDEX, SKEWED

PARAMS = FundingParams(interval_s=60, sample_s=5)


@pytest.fixture
def client(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    funding = FundingKeeperRunner({1: PARAMS})
    journal = FundingJournal(f"sqlite:///{tmp_path}/j.db")
    funding.runner = FundingRunner({1: PARAMS}, journal, FakeFundingChain(), lambda m: SKEWED, lambda m: INDEX,
                                   lambda m, msg: keeper.gateway.hub.publish(("funding", m), msg))
    keeper.funding = funding
    with TestClient(create_app(keeper)) as c:
        c.keeper = keeper
        yield c
    journal.close()
    keeper.journal.close()


def close_interval(client) -> int:
    """Sample in one interval, close it in the next, wait for the rate's receipt: on the
    app's loop (where the hub's queues live). Returns the interval's start (s)."""
    runner = client.keeper.funding.runner
    t0 = int(time.time()) // 60 * 60

    async def ticks():
        await runner.tick(t0)
        await runner.tick(t0 + 60)
        await runner.drain()

    client.portal.call(ticks)
    return t0


def test_funding_api__current_and_predicted(client):
    now = time.time()
    client.portal.call(client.keeper.funding.runner.tick, now)
    body = client.get("/funding/1").json()
    predicted = client.keeper.funding.runner.predicted_rate(1)
    assert body["predicted_rate"] == str(predicted) and predicted > 0
    assert body["rate"] == "0" and body["samples"] == 1 and body["interval_s"] == 60
    assert int(body["next_funding_time"]) > now
    assert client.get("/funding/9").status_code == 404


def test_funding_api__history_after_an_interval(client):
    t0 = close_interval(client)
    rates = client.get("/funding/1/history").json()["rates"]
    assert [r["interval"] for r in rates] == [str(t0 // 60)]
    assert rates[0]["state"] == "confirmed" and int(rates[0]["rate"]) == funding_rate(int(rates[0]["avg_premium"]), PARAMS)


def test_funding_api__ws_channel_gets_confirmed_rate(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "funding", "market": 1, "id": 1})
        assert ws.receive_json()["op"] == "subscribed"
        t0 = close_interval(client)
        msg = ws.receive_json()
    assert msg["channel"] == "funding" and msg["type"] == "rate" and msg["interval"] == str(t0 // 60)


def test_funding_api__off__404(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    with TestClient(create_app(keeper)) as c:
        assert c.get("/funding/1").json()["detail"] == "funding off"
    keeper.journal.close()


def test_funding_api__sdk_reads_rate_and_history(client):
    from offchain.client.sdk import KeeperClient, Trader
    from tests.offchain.keeper.helpers import KEYS

    t0 = close_interval(client)
    sdk = KeeperClient.__new__(KeeperClient)  # no socket: the TestClient is an httpx.Client on the app
    Trader.__init__(sdk, KEYS[0])
    sdk.http = client
    assert sdk.funding(1)["rate"] == client.get("/funding/1/history").json()["rates"][0]["rate"]
    assert [r["interval"] for r in sdk.funding_history(1)] == [str(t0 // 60)]


def test_funding_account__more_than_two_at_once__503_funding_busy_then_served(client):
    """The summary scans chain logs for any address, unauthenticated: at most two run at
    once, a third is refused at once instead of queueing more scans behind order acks."""
    import asyncio
    import threading

    from tests.offchain.keeper.helpers import ADDR

    release, entered = threading.Event(), []

    async def slow_summary(account: str) -> dict:  # the chain scan, held open
        entered.append(account)
        while not release.is_set():
            await asyncio.sleep(0.01)
        return {"account": account}

    client.keeper.funding.summary = slow_summary
    answers: list = []
    threads = [threading.Thread(target=lambda a=a: answers.append(client.get(f"/accounts/{a}/funding")))
               for a in ADDR[:2]]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(entered) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = client.get(f"/accounts/{ADDR[2]}/funding")
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert (busy.status_code, busy.json()) == (503, {"detail": "funding busy"})
    assert sorted(r.status_code for r in answers) == [200, 200]
    assert client.get(f"/accounts/{ADDR[2]}/funding").status_code == 200  # free again
