"""Journal snapshots off the event loop: the sequencer's state is serialised in a forked
child, from the copy-on-write image of the keeper's memory at the moment of the fork.

The loop pays only for `os.fork()` (copying the page tables: milliseconds for a few hundred
MB), not for `Core.snapshot()` (seconds for a large live book: 4.1 s measured for ~5,000
live orders on a loaded machine, during which no order was acknowledged). The fork is
taken on the loop between two commands, so the child sees exactly the state after
`core.seq`, and nothing the sequencer does afterwards can reach the child's copy: there is
no race with the sequencer and nothing is locked. This is Redis's BGSAVE.

The child only runs `take()` (pure Python over plain objects: no I/O, no locks another
thread could have held at the fork, no logging), writes `length || body` to a pipe and
leaves with `os._exit` (no atexit handlers, no finalizers: the parent's database
connections, sockets and threads are not touched). The parent reads the pipe on a worker
thread and reaps the child; a short read or a non-zero exit is a `SnapshotFailed` (that
snapshot is skipped, the next interval tries again). Where `os.fork` does not exist the
snapshot is taken inline, as before.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Callable

HEADER = 8  # the body's length, big-endian


class SnapshotFailed(RuntimeError):
    """The child did not deliver a whole snapshot."""


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class ForkedSnapshot:
    """`ForkedSnapshot.start(take)` forks and returns at once; `result()` blocks (call it
    off the loop) until the child has written `take()`'s bytes, and returns them."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd = pid, fd

    @classmethod
    def start(cls, take: Callable[[], bytes]) -> "ForkedSnapshot":
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: serialise, write, leave without running anything else
            status = 1
            try:
                os.close(r)
                with contextlib.suppress(ValueError):  # only in the main thread
                    signal.set_wakeup_fd(-1)           # signals are not the parent loop's business
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                body = take()
                _write_all(w, len(body).to_bytes(HEADER, "big"))
                _write_all(w, body)
                status = 0
            finally:
                os._exit(status)
        os.close(w)
        return cls(pid, r)

    def result(self) -> bytes:
        try:
            chunks = []
            while chunk := os.read(self.fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            _, status = os.waitpid(self.pid, 0)
        data = b"".join(chunks)
        if status != 0 or len(data) < HEADER or int.from_bytes(data[:HEADER], "big") != len(data) - HEADER:
            raise SnapshotFailed(f"snapshot child {self.pid} exit status {status}, {len(data)} bytes")
        return data[HEADER:]


def can_fork() -> bool:
    return hasattr(os, "fork")
