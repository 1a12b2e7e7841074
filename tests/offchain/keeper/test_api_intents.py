"""Signed intents through the HTTP and WebSocket API (offline keeper: real engine, journal)."""

from offchain.intent import Intent

from .helpers import ADDR, PRICE, order
from .test_order_kinds import TICK, with_intent


STOP = Intent(kind="stop_limit", trigger_price=PRICE + 10 * TICK, client_id="brk-1")


def test_http__stop_limit__waiting_listed_and_found_by_client_id(client):
    r = client.post("/orders", json=with_intent(0, order(0, True, price=PRICE + 12 * TICK), STOP))
    assert r.status_code == 200 and r.json()["order_status"] == "waiting for trigger", r.json()
    (listed,) = client.get(f"/accounts/{ADDR[0]}/orders").json()["orders"]
    assert listed["status"] == "waiting for trigger" and listed["intent"]["kind"] == "stop_limit"
    found = client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/brk-1")
    assert found.status_code == 200 and found.json()["hash"] == r.json()["hash"]
    assert client.get(f"/accounts/{ADDR[0]}/orders/by-client-id/other").status_code == 404
    again = client.post("/orders", json=with_intent(0, order(0, True, price=PRICE + 12 * TICK, nonce=2), STOP))
    assert (again.status_code, again.json()["detail"]) == (409, "duplicate client id")


def test_http__invalid_intent__422_naming_field(client):
    item = with_intent(0, order(0, True), Intent())
    item["intent"]["kind"] = "take_profit"
    r = client.post("/orders", json=item)
    assert r.status_code == 422 and r.json()["detail"].startswith("intent.trigger_price: required")
    assert client.keeper.core.orders == {}


def test_ws__place_with_intent__acked_waiting(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "place", "id": 3, "orders": [with_intent(1, order(1, True, price=PRICE + 12 * TICK),
                                                                     Intent(kind="stop_limit",
                                                                            trigger_price=PRICE + 10 * TICK))]})
        ack = next(m for m in (ws.receive_json() for _ in range(3)) if m.get("op") == "ack")
        assert ack["id"] == 3 and ack["results"][0]["order_status"] == "waiting for trigger"


def test_openapi__place_documents_intent_enums(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    kinds = schemas["IntentModel"]["properties"]["kind"]
    assert "trailing_stop" in str(kinds) and "/orders/schedule-cancel" in client.get("/openapi.json").json()["paths"]


def test_docs_page__served_without_cdn_and_openapi_lists_error_codes(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text and "https://" not in page.text
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/orders", "/orders/batch", "/orders/cancel", "/orders/amend", "/orders/cancel-by-client-id",
                 "/orders/schedule-cancel"):
        assert {"200", "400", "409", "413", "422", "429"} <= set(paths[path]["post"]["responses"]), path
    assert "404" in paths["/orders/{order_hash}"]["get"]["responses"]
