"""Clients that go away mid-request, on a real loopback socket with the keeper's uvicorn
settings: a request the keeper read whole is handled exactly once (its ack may be lost, the
order is not: GET shows it, a resend is `duplicate order`); a request cut off before its end
changes nothing; an abort (RST) leaves either nothing or exactly the one order. Never a
second copy, never a half-applied batch, and the keeper keeps serving."""

from __future__ import annotations

import json
import socket
import struct
from urllib.parse import urlparse

import httpx
import pytest

from offchain.keeper.api import create_app
from offchain.keeper.service import UVICORN_OPTIONS
from offchain.web.server import serve

from .helpers import OfflineKeeper, order
from .test_hostile_input import assert_consistent, body
from .test_ws_backpressure import frame, stalled_ws, wait_until


@pytest.fixture
def served(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    with serve(create_app(keeper), **UVICORN_OPTIONS) as url:
        with httpx.Client(base_url=url) as http:
            yield keeper, url, http
    keeper.journal.close()


def _port(url: str) -> int:
    return urlparse(url).port


def _abort(s: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0): unread data may be dropped on the way."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def _hash_of(item: dict) -> str:
    from offchain.wire import hash_hex, order_from_json

    from .helpers import DOMAIN

    return hash_hex(order_from_json(item["order"]), DOMAIN)


def _known(http: httpx.Client, h: str) -> bool:
    return http.get(f"/orders/{h}").status_code == 200


@pytest.mark.parametrize("batch", [1, 3])
def test_ws_place_then_close_without_reading__handled_exactly_once(served, batch):
    keeper, url, http = served
    items = [body(0, order(0, True, nonce=n + 1, price=10**9 + n * 10_000)) for n in range(batch)]
    peer = stalled_ws(_port(url))
    peer.sendall(frame(json.dumps({"op": "place", "id": 1, "orders": items})))
    peer.close()  # FIN: the frame arrived whole; nobody reads the ack
    hashes = [_hash_of(i) for i in items]
    assert wait_until(lambda: all(_known(http, h) for h in hashes))
    assert keeper.core.seq == batch
    again = http.post("/orders/batch", json={"orders": items}).json()["results"]
    assert [r["reason"] for r in again] == ["duplicate order"] * batch
    assert keeper.core.seq == batch
    assert_consistent(keeper)


def test_ws_place_then_abort__nothing_or_exactly_that_batch(served):
    keeper, url, http = served
    items = [body(1, order(1, False, nonce=n + 1, price=3 * 10**9 + n * 10_000)) for n in range(3)]
    peer = stalled_ws(_port(url))
    peer.sendall(frame(json.dumps({"op": "place", "id": 1, "orders": items})))
    _abort(peer)
    assert http.get("/health").status_code == 200  # served after the abort
    # the same orders again: each is new (the frame was lost) or a duplicate (it was read)
    results = http.post("/orders/batch", json={"orders": items}).json()["results"]
    assert {r.get("reason", r["status"]) for r in results} <= {"accepted", "duplicate order"}
    assert all(_known(http, _hash_of(i)) for i in items)
    assert keeper.core.seq == 3  # three orders, each placed once, whichever copy came first
    assert_consistent(keeper)


@pytest.mark.parametrize("ending", ["fin", "rst"])
def test_http_body_cut_off__nothing_changes_and_keeper_serves(served, ending):
    keeper, url, http = served
    raw = json.dumps(body(0, order(0, True))).encode()
    s = socket.create_connection(("127.0.0.1", _port(url)))
    s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(raw) + raw[: len(raw) // 2])
    (_abort if ending == "rst" else socket.socket.close)(s)
    assert http.get("/health").json() == {"status": "ok", "seq": 0}
    assert keeper.core.orders == {} and list(keeper.journal.commands()) == []
    assert http.post("/orders", json=body(0, order(0, True))).json()["status"] == "accepted"


def test_http_place_then_close_before_the_response__committed_once(served):
    keeper, url, http = served
    item = body(2, order(2, True, nonce=9))
    raw = json.dumps(item).encode()
    s = socket.create_connection(("127.0.0.1", _port(url)))
    s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(raw) + raw)
    s.close()
    assert wait_until(lambda: _known(http, _hash_of(item)))
    r = http.post("/orders", json=item)
    assert (r.status_code, r.json()["detail"]) == (409, "duplicate order")
    assert keeper.core.seq == 1
    assert_consistent(keeper)
