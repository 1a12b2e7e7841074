"""A connection's messages leave in the order they were produced also when an ack is
written straight from its handler (api._send_or_queue): a fill event published by the
commit that holds the order is queued before the ack and so arrives before it."""

from offchain.client.messages import place_request

from .helpers import ADDR, order, signed, ws_auth


def _place(ws, mid: int, i: int, is_buy: bool, nonce: int) -> None:
    o, sig, tif = signed(i, order(i, is_buy, nonce=nonce))
    ws.send_json({"op": "place", "id": mid, "orders": [place_request(o, sig, tif)]})


def test_ws__fill_event_of_the_same_commit__arrives_before_the_ack(client):
    with client.websocket_connect("/ws") as ws:
        assert ws_auth(ws, 0)["op"] == "authed"
        ws.send_json({"op": "subscribe", "channel": "fills", "account": ADDR[0]})
        assert ws.receive_json()["op"] == "subscribed"
        _place(ws, 1, 0, True, 1)  # rests
        rested = ws.receive_json()
        assert (rested["op"], rested["id"], rested["results"][0]["status"]) == ("ack", 1, "accepted")
        _place(ws, 2, 1, False, 2)  # crosses it: one fill for ADDR[0]
        first, second = ws.receive_json(), ws.receive_json()
        assert (first.get("channel"), first.get("type")) == ("fills", "fill")
        assert (second.get("op"), second.get("id")) == ("ack", 2)
        assert second["results"][0]["fills"] == 1
