"""Slow and idle HTTP clients against the keeper's own API server start (Keeper._start_api:
its socket on 127.0.0.1, a free port, and service.uvicorn_options with short deadlines):
a request head or body sent a byte at a time, a connection that sends nothing, more open
connections than one IP may hold, a peer that never reads its responses. Each is dropped
by the server (408 `request timeout`, 503 `too many connections`, a plain close when
nothing of a request came, an abort for the reader), a dropped body changes nothing, and a
normal client is served meanwhile and after.

No timed assertion: the deadlines are 1 s and the tests wait up to 30 s for the server to
close a socket, asserting only what happened. Before http_server, uvicorn's h11 protocol
kept every one of these sockets open for as long as the peer liked (docs/api.md, "Slow and
idle clients")."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from offchain.keeper.config import ApiConfig, KeeperConfig
from offchain.keeper.http_server import open_connections
from offchain.keeper.service import Keeper

from .helpers import OfflineKeeper, order
from .test_hostile_input import assert_consistent, body
from .test_ws_backpressure import frame, stalled_ws, wait_until

BOUNDS = dict(head_timeout_s=1.0, body_timeout_s=1.0, send_stall_s=1.0)


class ApiOnlyKeeper(OfflineKeeper):
    """An offline keeper (no chain) whose API is started by the service's own code."""

    _start_api = Keeper._start_api

    def __init__(self, db_url: str, api: ApiConfig) -> None:
        super().__init__(db_url)
        self.config = KeeperConfig(api=api)
        self._tasks: list[asyncio.Task] = []
        self.server = None
        self.api_port = 0


@contextmanager
def started(tmp_path, **api) -> Iterator[tuple[ApiOnlyKeeper, int]]:
    keeper = ApiOnlyKeeper(f"sqlite:///{tmp_path}/j.db", ApiConfig(port=0, **(BOUNDS | api)))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(keeper._start_api(), loop).result(30)
        yield keeper, keeper.api_port
    finally:
        if keeper.server is not None:
            keeper.server.should_exit = True
            asyncio.run_coroutine_threadsafe(asyncio.wait(keeper._tasks), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        keeper.journal.close()


def open_http(k: ApiOnlyKeeper) -> dict[str, int]:
    """The keeper's server's open HTTP connections per client IP."""
    return open_connections(k.server.server_state)


def connect(port: int, data: bytes = b"", source: str = "127.0.0.1") -> socket.socket:
    """A connection to the keeper from `source` (any 127.x address is this host's loopback:
    another client IP without another host)."""
    s = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
    s.settimeout(30)  # a bound on each read, never reached when the server closes in time
    if data:
        s.sendall(data)
    return s


@contextmanager
def trickling(s: socket.socket, data: bytes) -> Iterator[socket.socket]:
    """`s`, with `data` sent a byte at a time (each ~0.1 s) while the block runs, until sent
    or the server closes; after the block the sending stops and `s` is closed."""
    stop = threading.Event()

    def run() -> None:
        for b in data:
            if stop.wait(0.1):
                return
            try:
                s.sendall(bytes([b]))
            except OSError:  # the server closed it: what the test waits for
                return

    threading.Thread(target=run, daemon=True).start()
    try:
        yield s
    finally:
        stop.set()
        s.close()


def read_to_close(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a 30 s bound per read)."""
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


def status_and_detail(raw: bytes) -> tuple[int, str]:
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)["detail"]


@pytest.fixture
def keeper(tmp_path):
    with started(tmp_path) as k:
        yield k


HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
# a valid place body that never arrives whole: the keeper must not act on a prefix
PLACE = json.dumps(body(0, order(0, True))).encode()
SLOW_BODY = (b"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
             b"content-length: " + str(len(PLACE)).encode() + b"\r\n\r\n")


def test_slow_head__a_byte_at_a_time__408_and_closed_while_a_normal_client_is_served(keeper):
    k, port = keeper
    with trickling(connect(port, HEAD[:10]), HEAD[10:] + b"X-Pad: " + b"a" * 10_000) as slow:  # no blank line
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").status_code == 200
        assert status_and_detail(read_to_close(slow)) == (408, "request timeout")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").status_code == 200


def test_slow_body__a_byte_at_a_time__408_closed_and_nothing_changes(keeper):
    k, port = keeper
    with trickling(connect(port, SLOW_BODY + PLACE[:5]), PLACE[5:-1]) as slow:  # the last byte never comes
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").status_code == 200
            assert status_and_detail(read_to_close(slow)) == (408, "request timeout")
            assert k.core.seq == 0 and not list(k.journal.commands())
            # the same order sent whole is taken: the cut-off one left no trace
            assert http.post("/orders", content=PLACE, headers={"content-type": "application/json"}
                             ).status_code == 200
        assert k.core.seq == 1
        assert_consistent(k)


def test_second_request_on_a_keep_alive_connection__slow_head__408_and_closed(keeper):
    _k, port = keeper
    s = connect(port, HEAD + b"\r\n")
    first = b""
    while b'"status":"ok"' not in first:  # the first response, whole
        first += s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    with trickling(s, HEAD + b"X-Pad: " + b"a" * 10_000):
        assert status_and_detail(read_to_close(s)) == (408, "request timeout")


def test_idle_connections__nothing_sent__closed_without_a_response(keeper):
    _k, port = keeper
    idle = [connect(port) for _ in range(20)]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").status_code == 200
        assert [read_to_close(s) for s in idle] == [b""] * 20
    finally:
        for s in idle:
            s.close()


def test_connections_per_ip__over_the_cap__503_for_that_ip_only_and_served_once_they_are_gone(tmp_path):
    # a head deadline no test run reaches: the three stay open until the client closes them
    with started(tmp_path, http_max_connections=3, head_timeout_s=600.0) as (k, port):
        held = [connect(port, source="127.0.0.2") for _ in range(3)]
        try:
            # counted at accept (on the server's loop): wait until all three are
            assert wait_until(lambda: open_http(k) == {"127.0.0.2": 3})
            over = connect(port, HEAD + b"\r\n", source="127.0.0.2")
            assert status_and_detail(read_to_close(over)) == (503, "too many connections")
            over.close()
            # another client IP is served meanwhile: the cap is that IP's alone
            other = connect(port, HEAD + b"Connection: close\r\n\r\n")
            assert read_to_close(other).startswith(b"HTTP/1.1 200")
            other.close()
        finally:
            for s in held:
                s.close()
        assert wait_until(lambda: not open_http(k))  # each count left with its connection
        again = connect(port, HEAD + b"Connection: close\r\n\r\n", source="127.0.0.2")
        assert read_to_close(again).startswith(b"HTTP/1.1 200")  # the IP is served again
        again.close()
        assert wait_until(lambda: not open_http(k))  # no entry per client IP outlives its connections


def test_websocket__upgraded__leaves_the_http_deadlines_and_count(keeper):
    k, port = keeper
    ws = stalled_ws(port)  # the upgrade happened: 101
    try:
        # a head deadline armed after the upgrade's fires after any the upgrade had armed
        late = connect(port, HEAD)
        assert status_and_detail(read_to_close(late)) == (408, "request timeout")
        late.close()
        ws.sendall(frame(json.dumps({"op": "subscribe", "channel": "trades", "market": 1})))
        assert wait_until(lambda: k.gateway.hub.has(("trades", 1)))  # the WebSocket still served
        assert wait_until(lambda: not open_http(k))  # not an HTTP connection
    finally:
        ws.close()


def test_reader_that_never_reads__aborted_and_its_handler_freed(keeper):
    """Twenty 1.5 MB responses asked for at once (pipelined) by a peer with a shut window:
    more than the kernel's send buffer holds (Linux: 4 MiB at most by default), so the rest waits in the keeper (and its handler in
    uvicorn's drain) until the peer reads. The keeper aborts the connection instead."""
    import fastapi_offline
    from pathlib import Path

    k, port = keeper
    size = (Path(fastapi_offline.__file__).parent / "static" / "swagger-ui-bundle.js").stat().st_size
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET /docs-static/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 20)
        state = k.server.server_state
        assert wait_until(lambda: not open_http(k) and not state.tasks and not state.connections)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/health").status_code == 200
        s.settimeout(30)
        assert len(read_to_close(s)) < 20 * size  # cut off: never all of it
    finally:
        s.close()
