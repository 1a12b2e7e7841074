"""The keeper's HTTP/1.1 protocol: uvicorn's h11 protocol with the time and count bounds it
lacks (docs/api.md, "Slow and idle clients").

uvicorn bounds one thing in time, an idle keep-alive connection (`timeout_keep_alive`, from
the end of a response until the next byte). A connection that never sends a byte, a
request head sent a byte at a time (slowloris: each byte cancels the keep-alive timer and
nothing re-arms it) or a body trickled below its declared length held its socket, its
protocol object and, for a body, a handler task for as long as the peer liked; a few
thousand of them use up the process' file descriptors and nobody else connects. Here:

- `head_timeout_s`: a request head (request line and headers) must be complete this long
  after the connection opened or the previous response ended. A total deadline, not reset
  by each byte. Over it: 408 `request timeout` and close, or a plain close when nothing of
  a request came (an idle connection, as uvicorn's keep-alive timeout does).
- `body_timeout_s`: the body must be complete this long after its head. Over it: 408
  `request timeout` (unless the app already answered) and close; the handler sees the
  client gone (`http.disconnect`), and as the API reads a body whole before parsing it
  (api.BodyLimit), a body cut off changes nothing.
- `send_stall_s`: a response the peer does not read. Once the keeper's write buffer for the
  connection is over asyncio's high-water mark (64 KiB), it must drain below the low-water
  mark (16 KiB) within this long; else the connection is aborted. A close would not do: it
  waits for the peer to take the buffer first, and the handler sat in uvicorn's drain()
  meanwhile, both for as long as the peer kept its window shut.
- `max_connections_per_ip`: open HTTP connections from one client IP (an upgraded
  WebSocket leaves this count for the API's own `ws_max_connections`). One over it is
  answered 503 `too many connections` and closed before anything of it is read.

The head's size is h11's `max_incomplete_event_size` (uvicorn's
`h11_max_incomplete_event_size`, set in service.uvicorn_options), the body's the API's
`max_body_bytes`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .admission import Reason


@dataclass(frozen=True, slots=True)
class HttpBounds:
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    send_stall_s: float = 30.0
    max_connections_per_ip: int = 1_000


# open HTTP connections per client IP, one table per uvicorn server (its ServerState): two
# servers in one process (tests) do not share a count
_OPEN: "weakref.WeakKeyDictionary[Any, Counter[str]]" = weakref.WeakKeyDictionary()

_PHRASES = {408: "Request Timeout", 503: "Service Unavailable"}


def _raw_response(status: int, detail: str) -> bytes:
    """A whole response written around h11: the connection closes right after it, so h11's
    view of it does not matter (and before a request head h11 could not send one)."""
    body = json.dumps({"detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {_PHRASES[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode() + body


class BoundedH11Protocol(H11Protocol):
    """H11Protocol with `bounds` (a subclass per server config: `protocol_class`)."""

    bounds: ClassVar[HttpBounds] = HttpBounds()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None  # armed while writing is paused
        self._phase: str | None = None   # "head" / "body": what the running deadline bounds
        self._ip: str | None = None      # counted in _OPEN while set
        self._upgraded = False

    # -- the per-IP count ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ip = self.client[0] if self.client else "?"  # as api.client_key names a client
        counts = _OPEN.setdefault(self.server_state, Counter())
        if counts[ip] >= self.bounds.max_connections_per_ip:
            transport.write(_raw_response(503, Reason.TOO_MANY_CONNECTIONS))
            transport.close()
            return
        counts[ip] += 1
        self._ip = ip
        self._track()

    def _release(self) -> None:
        self._cancel()
        if self._ip is None:
            return
        counts = _OPEN.get(self.server_state)
        if counts is not None:
            counts[self._ip] -= 1
            if counts[self._ip] <= 0:
                del counts[self._ip]  # no entry outlives its client's connections
        self._ip = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        self._unstall()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # the WebSocket protocol owns the transport from here: no HTTP deadline, no HTTP count
        self._upgraded = True
        self._release()
        self._unstall()
        super().handle_websocket_upgrade(event)

    # -- a peer that does not read -------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None and not self._upgraded:
            self._stall = self.loop.call_later(self.bounds.send_stall_s, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._unstall()

    def _unstall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        # abort, not close: close first waits for the peer to read what is buffered; the lost
        # connection wakes the handler's drain() and its next send is dropped (uvicorn)
        self.transport.abort()

    # -- deadlines ----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()  # keep-alive: the next request's head has its own deadline

    def _track(self) -> None:
        """Start the deadline of the phase the peer is in, once per phase (bytes arriving
        do not extend it); none while the app has the request or the peer waits for us."""
        if self._upgraded or self._ip is None:
            return
        if self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        phase = "head" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if phase == self._phase:
            return
        self._cancel()
        self._phase = phase
        if phase is not None:
            timeout = self.bounds.head_timeout_s if phase == "head" else self.bounds.body_timeout_s
            self._deadline = self.loop.call_later(timeout, self._expired)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase == "head":
            # nothing of a request yet: an idle connection, closed without a word
            answer = bool(self.conn.trailing_data[0])
        else:
            cycle = self.cycle
            answer = not cycle.response_started  # the app may have answered already (413, 429)
            # the handler's receive() returns http.disconnect: it stops reading, answers nothing
            cycle.disconnected = True
            cycle.message_event.set()
        if answer:
            self.transport.write(_raw_response(408, Reason.REQUEST_TIMEOUT))
        self.transport.close()


def open_connections(server_state: Any) -> dict[str, int]:
    """Open HTTP connections per client IP of the uvicorn server with this ServerState."""
    return dict(_OPEN.get(server_state, {}))


def protocol_class(bounds: HttpBounds) -> type[BoundedH11Protocol]:
    """The protocol class to pass as uvicorn.Config(http=...)."""
    return type("KeeperHttpProtocol", (BoundedH11Protocol,), {"bounds": bounds})
