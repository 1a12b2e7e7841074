"""Amend and cancel-by-client-id through HTTP, the WebSocket and the SDK (sync and async),
against an offline keeper (real engine and journal) served over real HTTP for the SDK."""

import asyncio
import time

import pytest

from offchain.client import AsyncKeeperClient, KeeperClient
from offchain.client.sdk import KeeperError
from offchain.intent import Intent
from offchain.keeper.api import create_app
from offchain.web.server import serve

from .helpers import ADDR, KEYS, PRICE, OfflineKeeper, order
from .test_amend import SIZE, amend_body
from .test_order_kinds import TICK, with_intent


def test_http__amend_kept_then_refused_codes(client):
    a = client.post("/orders", json=with_intent(0, order(0, True, nonce=1), Intent(client_id="m1"))).json()
    r = client.post("/orders/amend", json=amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=2),
                                                     Intent(client_id="m1")))
    assert r.status_code == 200 and r.json()["priority"] == "kept", r.json()
    assert client.get(f"/orders/{a['hash']}").json()["replaced_by"] == r.json()["hash"]
    assert client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/m1").json()["hash"] == r.json()["hash"]
    again = client.post("/orders/amend", json=amend_body(0, a["hash"], order(0, True, nonce=3)))
    assert (again.status_code, again.json()["detail"]) == (400, "order closed")
    unknown = client.post("/orders/amend", json=amend_body(0, "0x" + "cd" * 32, order(0, True, nonce=4)))
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "unknown order")
    bad = client.post("/orders/amend", json={**amend_body(0, a["hash"], order(0, True, nonce=5)), "replaces": 1})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("replaces must be")
    paths = client.get("/openapi.json").json()["paths"]
    assert "/orders/amend" in paths and "/orders/cancel-by-client-id" in paths
    assert {"404", "409"} <= set(paths["/orders/amend"]["post"]["responses"])


def test_ws__amend_and_cancel_by_client_id_acked(client):
    from offchain.wire import CancelByClientId
    from .helpers import DOMAIN

    a = client.post("/orders", json=with_intent(1, order(1, True, nonce=1), Intent(client_id="w"))).json()
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "amend", "id": 7, **amend_body(1, a["hash"], order(1, True, price=PRICE - TICK, nonce=2),
                                                           Intent(client_id="w"))})
        ack = ws.receive_json()
        assert ack["op"] == "ack" and ack["id"] == 7 and ack["result"]["priority"] == "lost", ack
        m = CancelByClientId(ADDR[1], ("w",), int(time.time() * 1000))
        ws.send_json({"op": "cancel_by_client_id", "id": 8, **m.to_json(m.sign(DOMAIN, KEYS[1]))})
        ack = ws.receive_json()
        assert ack["id"] == 8 and ack["result"]["cancelled"] == [ack_hash := ack["result"]["cancelled"][0]]
        assert ack_hash != a["hash"]  # the replacement, which the client id names now
        ws.send_json({"op": "amend", "id": 9, **amend_body(1, a["hash"], order(1, True, nonce=3))})
        err = ws.receive_json()
        assert err == {"op": "error", "id": 9, "detail": "order closed", "status": 400}


@pytest.fixture
def served(tmp_path):
    """The offline keeper's app on a real loopback port (uvicorn in a thread)."""
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    with serve(create_app(keeper)) as url:  # the socket bound first, then handed to uvicorn
        yield url, keeper
    keeper.journal.close()


def test_sdk_sync__amend_and_cancel_by_client_id(served):
    url, keeper = served
    with KeeperClient(url, KEYS[2]) as kc:
        first = kc.order(1, True, PRICE - 2 * TICK, SIZE)
        ack = kc.place(first, intent=Intent(client_id="s1"))
        r = kc.amend(ack["hash"], kc.order(1, True, PRICE - 2 * TICK, SIZE // 2), intent=Intent(client_id="s1"))
        assert r["priority"] == "kept" and kc.order_status(ack["hash"])["replaced_by"] == r["hash"]
        with pytest.raises(KeeperError) as exc:
            kc.amend(ack["hash"], kc.order(1, True, PRICE - 2 * TICK, SIZE // 4))
        assert (exc.value.status, exc.value.detail) == (400, "order closed")
        assert kc.cancel_by_client_id(["s1"])["cancelled"] == [r["hash"]]
        assert kc.cancel_by_client_id(["s1"])["cancelled"] == []  # timestamps increase: not a replay
        assert kc.open_orders() == []


@pytest.mark.anyio
async def test_sdk_async__amend_and_cancel_by_client_id(served):
    url, keeper = served

    async with AsyncKeeperClient(url, KEYS[3]) as kc:
        ack = await kc.place(kc.order(1, False, PRICE + 2 * TICK, SIZE), intent=Intent(client_id="as"))
        r = await kc.amend(ack["hash"], kc.order(1, False, PRICE + 3 * TICK, SIZE),
                           intent=Intent(client_id="as"))
        assert r["priority"] == "lost"
        assert (await kc.cancel_by_client_id(["as", "nope"]))["unknown"] == ["nope"]
        assert await kc.open_orders() == []


def test_sdk_async__stream_user_channel_authenticated(served):
    url, keeper = served

    async def go():
        async with AsyncKeeperClient(url, KEYS[4]) as kc:
            events = kc.stream(fills=False, user=True, l2=1, trades=1)
            got: list[dict] = []
            subscribed = asyncio.Event()

            async def read():
                async for event in events:
                    got.append(event)
                    if event["channel"] == "l2":  # the snapshot comes after every subscription
                        subscribed.set()
                    if {e["channel"] for e in got} >= {"user", "l2", "trades"} and \
                            any(e["channel"] == "user" and e["type"] == "fill" for e in got):
                        return

            reader = asyncio.create_task(read())
            await asyncio.wait_for(subscribed.wait(), 60)
            await kc.place(kc.order(1, True, PRICE - 4 * TICK, SIZE))
            async with AsyncKeeperClient(url, KEYS[5]) as other:
                await other.place(other.order(1, False, PRICE - 4 * TICK, SIZE))
            await asyncio.wait_for(reader, 60)
            user = [e for e in got if e["channel"] == "user"]
            assert user[0]["type"] == "order" and user[0]["events"][0]["event"] == "placed"
            assert all(e["account"] == kc.account for e in user)
            assert got[0]["channel"] == "l2" and got[0]["type"] == "snapshot"
    asyncio.run(go())


def test_http__unsigned_client_id__refused_422_nothing_sequenced(client):
    """A request-level client id is not signed: whoever relays the order could set or swap
    it (and a trader's signed cancel-by-client-id would then cancel an order it did not
    mean, or its own later id would be refused as a duplicate). Refused as a whole."""
    from offchain.order import sign_order
    from offchain.wire import UNSIGNED_CLIENT_ID

    from .helpers import DOMAIN
    from .test_api import body

    o = order(0, True, nonce=1)
    seq = client.keeper.core.seq
    plain = {**body(0, o), "client_id": "plain-1"}
    r = client.post("/orders", json=plain)
    assert (r.status_code, r.json()["detail"]) == (422, UNSIGNED_CLIENT_ID)
    batch = client.post("/orders/batch", json={"orders": [body(0, order(0, True, nonce=2)), plain]})
    assert batch.status_code == 422 and batch.json()["detail"] == "orders[1]." + UNSIGNED_CLIENT_ID
    assert client.keeper.core.seq == seq and client.keeper.core.orders == {}
    assert client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/plain-1").status_code == 404
    with pytest.raises(ValueError):
        from offchain.wire import place_request

        place_request(o, sign_order(o, DOMAIN, KEYS[0]), client_id="plain-1")


def test_http__signed_client_id__relayer_cannot_swap_it__echoed_unique_replayed(client):
    """A plain limit order's client id goes in its signed intent (Intent(tif=..., client_id=...)):
    a relayer that swaps the id breaks the intent signature (refused, nothing sequenced);
    the trader's own id is echoed, queryable, unique, and survives replay and snapshots."""
    import dataclasses
    import json

    from offchain.intent import Intent
    from offchain.keeper.core import Core, Outbox, market_config
    from offchain.matching import Engine

    from .helpers import MARKET
    from .test_order_kinds import with_intent

    o = order(0, True, nonce=1)
    signed_body = with_intent(0, o, Intent(tif="GTC", client_id="plain-1"))
    swapped = {**signed_body, "intent": {**signed_body["intent"], "client_id": "relayer-9"}}
    bad = client.post("/orders", json=swapped)
    assert (bad.status_code, bad.json()["detail"]) == (400, "bad intent signature")
    assert client.keeper.core.orders == {}
    r = client.post("/orders", json=signed_body)
    assert r.status_code == 200 and r.json()["client_id"] == "plain-1", r.json()
    assert r.json()["order_status"] == "open"  # a plain limit order, GTC
    found = client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/plain-1").json()
    assert found["hash"] == r.json()["hash"] and found["client_id"] == "plain-1"
    assert client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/relayer-9").status_code == 404
    o2 = order(0, True, nonce=2)
    again = client.post("/orders", json=with_intent(0, o2, Intent(client_id="plain-1")))
    assert (again.status_code, again.json()["detail"]) == (409, "duplicate client id")
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    for row in client.keeper.journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), Outbox.new())
    assert core.by_client_id(ADDR[0], "plain-1").hex == r.json()["hash"]
    restored = Core(Engine([market_config(MARKET)]), {1: MARKET})
    restored.restore(core.snapshot())
    assert restored.by_client_id(ADDR[0], "plain-1").hex == r.json()["hash"]
    assert dataclasses.asdict(restored.by_client_id(ADDR[0], "plain-1").intent)["client_id"] == "plain-1"
