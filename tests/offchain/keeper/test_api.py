"""The HTTP + WebSocket API on an offline keeper (real engine and journal, no chain)."""

import time

import pytest
from fastapi.testclient import TestClient

from offchain.client.messages import Cancel, place_request
from offchain.keeper.api import create_app

from .helpers import ADDR, DOMAIN, KEYS, PRICE, OfflineKeeper, order, signed, ws_auth


@pytest.fixture
def client(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db", rate=1, burst=150)
    with TestClient(create_app(keeper)) as c:
        c.keeper = keeper
        yield c
    keeper.journal.close()


def body(i, o, key=None, tif="GTC"):
    o, sig, _ = signed(i, o, key)
    return place_request(o, sig, tif)


def test_place__valid__accepted_200(client):
    r = client.post("/orders", json=body(0, order(0, True)))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.json()


def test_place__bad_signature__rejected_400(client):
    r = client.post("/orders", json=body(0, order(0, True), key=KEYS[1]))
    assert r.status_code == 400 and r.json()["detail"] == "bad signature"
    assert client.get("/health").status_code == 200  # still serving


def test_place__malformed_body__422_with_reason(client):
    r = client.post("/orders", json={"order": {"account": "nope"}, "signature": "0x"})
    assert r.status_code == 422 and r.json()["detail"]


def test_place__price_as_number_or_string__both_accepted(client):
    b = body(0, order(0, True))
    b["order"]["price"] = int(b["order"]["price"])
    assert client.post("/orders", json=b).status_code == 200
    b2 = body(0, order(0, True, nonce=2))
    b2["order"]["price"] = "not-a-number"
    assert client.post("/orders", json=b2).json()["detail"].startswith("order.price")


def test_place__duplicate__409(client):
    b = body(0, order(0, True))
    client.post("/orders", json=b)
    assert client.post("/orders", json=b).status_code == 409


def test_place__over_rate_limit__429(client):
    items = [body(0, order(0, True, nonce=n, price=PRICE - n * 10_000)) for n in range(150)]
    assert client.post("/orders/batch", json={"orders": items}).status_code == 200
    r = client.post("/orders", json=body(0, order(0, True, nonce=500)))
    assert r.status_code == 429 and r.json()["detail"] == "rate limited"


def test_batch__mixed__per_order_results(client):
    items = [body(0, order(0, True)), body(1, order(1, True), key=KEYS[2]), body(2, order(2, False))]
    results = client.post("/orders/batch", json={"orders": items}).json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[2]["fills"] == 1


def test_book_orders_fills_account__views(client):
    client.post("/orders/batch", json={"orders": [body(0, order(0, True, size=3 * 10**17)), body(1, order(1, False))]})
    book = client.get("/book/1").json()
    assert book["bids"] == [[str(PRICE), str(2 * 10**17)]] and book["asks"] == []
    orders = client.get(f"/accounts/{ADDR[0]}/orders").json()["orders"]
    assert orders[0]["open"] == str(2 * 10**17) and orders[0]["filled"] == str(10**17)
    fills = client.get(f"/accounts/{ADDR[1]}/fills").json()["fills"]
    assert fills[0]["state"] == "matched" and fills[0]["taker"] == ADDR[1]
    assert client.get(f"/fills/{fills[0]['id']}").json()["size"] == str(10**17)
    assert client.get("/book/7").status_code == 404
    assert client.get("/accounts/zzz").status_code == 400


def test_cancel__signed__200_and_bad_timestamp_400(client):
    r = client.post("/orders", json=body(0, order(0, True))).json()
    c = Cancel(ADDR[0], 0, (bytes.fromhex(r["hash"][2:]),), int(time.time() * 1000))
    ok = client.post("/orders/cancel", json=c.to_json(c.sign(DOMAIN, KEYS[0])))
    assert ok.status_code == 200 and ok.json()["cancelled"] == [r["hash"]]
    old = Cancel(ADDR[0], 0, (), int(time.time() * 1000) - 10**7)
    bad = client.post("/orders/cancel", json=old.to_json(old.sign(DOMAIN, KEYS[0])))
    assert bad.status_code == 400 and bad.json()["detail"] == "stale timestamp"


def test_openapi__lists_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/orders", "/orders/batch", "/orders/cancel", "/book/{market}", "/accounts/{address}/fills"} <= set(paths)


def test_ws__place_ack_and_fill_stream(client):
    with client.websocket_connect("/ws") as ws:
        assert ws_auth(ws, 0)["op"] == "authed"
        ws.send_json({"op": "subscribe", "channel": "fills", "account": ADDR[0]})
        assert ws.receive_json()["op"] == "subscribed"
        ws.send_json({"op": "subscribe", "channel": "book", "market": 1})
        messages = [ws.receive_json(), ws.receive_json()]
        assert {m.get("op") or m.get("channel") for m in messages} == {"subscribed", "book"}
        ws.send_json({"op": "place", "id": 7, "orders": [body(0, order(0, True)), body(1, order(1, False))]})
        seen = [ws.receive_json() for _ in range(3)]
        ack = next(m for m in seen if m.get("op") == "ack")
        assert ack["id"] == 7 and [r["status"] for r in ack["results"]] == ["accepted", "accepted"]
        fill = next(m for m in seen if m.get("channel") == "fills")
        assert fill["type"] == "fill" and fill["fill"]["maker"] == ADDR[0]


def test_ws__bad_message__error_and_socket_stays(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_text("not json")
        assert ws.receive_json()["op"] == "error"
        ws.send_json({"op": "subscribe", "channel": "nope"})
        assert ws.receive_json()["detail"] == "unknown channel"
        ws.send_json({"op": "subscribe", "channel": "fills", "account": ADDR[0]})
        assert ws.receive_json()["detail"] == "not authenticated"
