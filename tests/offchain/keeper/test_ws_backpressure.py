"""A WebSocket peer that stops reading: the keeper must not buffer for it without bound,
nor keep its subscriptions, queue or handler alive until the peer goes away.

- replies: a peer that keeps sending but never reads fills its outgoing queue; at
  `ws_max_queue` the keeper sheds it (subscriptions and queued messages freed at once) and
  sends the close (1008 `send queue full`), waiting for it at most `ws_close_wait_s`;
- stream events: a full queue drops them (a lagging reader sees the gap and resubscribes);
  once the peer has taken nothing for `ws_stall_s` while full, it is shed the same way.

The first test runs the keeper's own uvicorn settings on a real loopback socket with a
client whose receive window stays shut; before the fix, the handler sat in the close frame's
send (waiting for a window that never opened) holding 10,000 queued snapshots and the
subscription until the client itself disconnected."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from offchain.keeper.api import ApiLimits, create_app
from offchain.keeper.service import UVICORN_OPTIONS
from offchain.web.server import serve

from .helpers import PRICE, OfflineKeeper, order
from .test_hostile_input import body

TICK = 10_000
UNLIMITED = dict(ws_rate=1e9, ws_burst=1e9, client_rate=1e9, client_burst=1e9)


def stalled_ws(port: int) -> socket.socket:
    """A raw WebSocket client that will never read: tiny receive buffer, handshake only."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n", 1)[0], head
    return s


def frame(text: str) -> bytes:
    """One masked text frame (RFC 6455 5.3: client frames are masked)."""
    data, mask = text.encode(), os.urandom(4)
    n = len(data)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def wait_until(condition, bound_s: float = 30.0) -> bool:
    """Poll `condition` until true or `bound_s` passed (a bound on a wait, not a timing)."""
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_ws_peer_that_never_reads__shed_at_queue_limit_while_still_connected(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    app = create_app(keeper, ApiLimits(**UNLIMITED))  # ws_max_queue: the default 10,000
    hub = keeper.gateway.hub
    with serve(app, **UVICORN_OPTIONS) as url:
        with httpx.Client(base_url=url) as http:  # a deep book: every snapshot ~1.5 kB
            for i in range(40):
                price = PRICE + (1 + i // 2) * TICK * (1 if i % 2 else -1)
                assert http.post("/orders", json=body(i % 4, order(i % 4, i % 2 == 0, price=price,
                                                                  nonce=i + 1, size=10**15))).status_code == 200
        peer = stalled_ws(int(url.rsplit(":", 1)[1]))
        try:
            message = frame(json.dumps({"op": "subscribe", "channel": "book", "market": 1}))
            peer.settimeout(30)
            for _ in range(20_000):  # each answered by a snapshot: MBs the peer never reads
                peer.sendall(message)
            assert wait_until(lambda: not hub.subs), "the stalled peer kept its subscription"
            assert not any(hub.per_channel.values())
            with httpx.Client(base_url=url) as http:  # the keeper still serves everyone else
                assert http.get("/health").status_code == 200
        finally:
            peer.close()
    keeper.journal.close()


@pytest.fixture
def stalled_pump(monkeypatch):
    """In-process: the connection's sender never gets a write through (a shut TCP window)."""
    import asyncio

    from offchain.keeper import api

    async def stalled(_socket, _queue, *_args):
        await asyncio.Event().wait()

    monkeypatch.setattr(api, "_pump", stalled)


def test_ws_stream_subscriber_that_stalls__dropped_then_shed_after_stall_s(tmp_path, stalled_pump):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    keeper.gateway.hub.max_queue = 5
    client = TestClient(create_app(keeper, ApiLimits(ws_max_queue=5, ws_stall_s=0.0, **UNLIMITED)))
    hub = keeper.gateway.hub
    with client, client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "trades", "market": 1})
        assert wait_until(lambda: hub.has(("trades", 1)))
        n = 0
        while hub.has(("trades", 1)) and n < 40:  # each pair of crossing orders is one trade
            n += 1
            client.post("/orders", json=body(0, order(0, True, nonce=n)))
            client.post("/orders", json=body(1, order(1, False, nonce=n)))
        assert not hub.has(("trades", 1)) and hub.subs == {}
        assert n > 5  # first the queue filled and trades were dropped; then it was shed
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                ws.receive_json()
        assert closed.value.code == 1008
        assert client.get("/health").status_code == 200
    keeper.journal.close()


def test_outgoing__overflow_without_a_write_in_stall_s__sheds_a_write_resets_it():
    """The stall rule alone (pure): full twice with nothing written in between -> shed;
    a write between two overflows (what the sender does) starts the clock again."""
    from offchain.keeper.api import Outgoing

    shed: list[int] = []
    queue = Outgoing(stall_s=0.0)
    queue.on_stall = lambda: shed.append(1)
    queue.overflow()
    queue.full_since = None  # the sender wrote a batch
    queue.overflow()
    assert shed == []  # a lagging reader: its messages are dropped, it stays
    queue.overflow()
    assert shed == [1]  # nothing taken since the last overflow: a stalled one
    slow = Outgoing(stall_s=3600.0)
    slow.on_stall = lambda: shed.append(2)
    slow.overflow()
    slow.overflow()
    assert shed == [1]  # full, but not yet for stall_s


def test_ws_connections_per_client_ip__over_the_limit_refused_and_freed_on_close(tmp_path):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    client = TestClient(create_app(keeper, ApiLimits(ws_max_connections=2)))
    with client, client.websocket_connect("/ws") as first:
        with client.websocket_connect("/ws") as second:
            with pytest.raises(WebSocketDisconnect) as refused:
                with client.websocket_connect("/ws"):
                    pass
            assert (refused.value.code, refused.value.reason) == (1008, "too many connections")
            second.send_json({"op": "place", "id": 1, "orders": []})  # the open ones still serve
            assert second.receive_json() == {"op": "ack", "id": 1, "results": []}
        with client.websocket_connect("/ws") as third:  # one closed: room for one again
            third.send_json({"op": "place", "id": 3, "orders": []})
            assert third.receive_json() == {"op": "ack", "id": 3, "results": []}
        first.send_json({"op": "place", "id": 2, "orders": []})
        assert first.receive_json() == {"op": "ack", "id": 2, "results": []}
    keeper.journal.close()


def test_ws_auth__more_accounts_than_ws_max_accounts__refused_and_nothing_subscribed(tmp_path):
    """Anyone can make fresh keys and authenticate one connection as each; each authed
    account can hold three private subscriptions, so the number per connection is bounded."""
    from offchain.order import address_of

    from .helpers import ws_auth

    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    client = TestClient(create_app(keeper, ApiLimits(ws_max_accounts=3)))
    keys = ["0x" + f"{5000 + n:064x}" for n in range(4)]
    with client, client.websocket_connect("/ws") as ws:
        for key in keys[:3]:
            assert ws_auth(ws, 0, key=key, account=address_of(key))["op"] == "authed"
        assert ws_auth(ws, 0, key=keys[0], account=address_of(keys[0]))["op"] == "authed"  # again: fine
        refused = ws_auth(ws, 0, key=keys[3], account=address_of(keys[3]))
        assert (refused["op"], refused["detail"], refused["status"]) == ("error", "too many accounts", 400)
        ws.send_json({"op": "subscribe", "id": 9, "channel": "orders", "account": address_of(keys[3])})
        assert ws.receive_json()["detail"] == "not authenticated"
    assert keeper.gateway.hub.subs == {}
    keeper.journal.close()
