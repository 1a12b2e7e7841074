"""Leadership of a PostgreSQL journal: one active keeper, any number of standbys.

The leader is the keeper whose dedicated PostgreSQL session holds a session-level advisory
lock (`pg_try_advisory_lock(MMX, key(schema))`: one lock per journal schema, so keepers on
other schemas of the same database do not contend). The lock lives exactly as long as that
session:
- a leader that dies (SIGKILL, crash, machine loss) loses it when the server sees its
  socket close, at once;
- a leader that is paused (SIGSTOP, a GC pause, a network partition) stops heartbeating;
  the session has `idle_session_timeout` and `idle_in_transaction_session_timeout` = the
  lease, so the server ends it after `lease_s` seconds of silence and the lock is free.

Fencing. Every journal write runs ON the lock's session, in one transaction that first
checks (pg_locks, this backend) that the session still holds the lock. A session cannot
lose the lock and still commit: the lock goes only with the session, and a terminated
session's open transaction is rolled back. So once a standby holds the lock, nothing an
ex-leader does reaches the journal, and a standby that replays after winning the lock reads
the final journal. Broadcasts are fenced too (`check()` before each `eth_sendRawTransaction`,
`Chain.fence`); the journaled-before-broadcast rule already makes a late broadcast of a
journaled tx harmless (the new leader re-broadcasts the same signed tx: same nonce, same
hash, mined at most once), the check keeps an ex-leader from sending anything new.

A heartbeat thread (not the event loop: a busy loop must not cost the lease) re-checks the
lock every lease/3 s; a failed check calls `on_lost`, and the keeper stops.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import text

log = logging.getLogger("mmx.keeper.leader")

LOCK_CLASS = 0x4D4D58  # "MMX": the advisory lock's first key; the second is the schema's


class NotLeader(RuntimeError):
    """This keeper does not (or no longer) hold the journal's leader lock: it must not write."""


def schema_key(schema: str) -> int:
    """The advisory lock's second key for a journal schema (a positive int4)."""
    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:4], "big") & 0x7FFFFFFF


_HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
             "AND classid = :c AND objid = :k AND objsubid = 2 AND granted")


class Leadership:
    """The leader lock on a dedicated connection of `engine` (a journal engine, journal.make_engine)."""

    def __init__(self, engine, lease_s: float = 5.0) -> None:
        self.engine = engine
        self.lease_s = lease_s
        self.conn = None
        self.key = 0
        self.pid = 0
        self.held = False
        self.lost: BaseException | None = None
        self.on_lost: Callable[[BaseException], None] | None = None
        self._lock = threading.Lock()  # the session is used by the journal thread, the heartbeat, check()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_ok = 0.0

    # -- acquiring ------------------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """One attempt (sync): True when this keeper is now the leader."""
        with self._lock:
            if self.conn is None:
                self.conn = self.engine.connect()
                ms = max(1, int(self.lease_s * 1000))
                with self.conn.begin():
                    self.conn.exec_driver_sql(f"SET idle_session_timeout = {ms}")
                    self.conn.exec_driver_sql(f"SET idle_in_transaction_session_timeout = {ms}")
                    schema = self.conn.exec_driver_sql("SELECT current_schema()").scalar()
                    self.pid = self.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                self.key = schema_key(schema or "public")
            with self.conn.begin():
                got = self.conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"),
                                        {"c": LOCK_CLASS, "k": self.key}).scalar()
            self.held = bool(got)
            if self.held:
                self.last_ok = time.monotonic()
            return self.held

    async def acquire(self, poll_s: float = 0.2, on_wait: Callable[[], None] | None = None) -> None:
        """Wait until this keeper is the leader (a standby waits here). Cancellable."""
        import asyncio

        loop = asyncio.get_running_loop()
        told = False
        while not await loop.run_in_executor(None, self._attempt):
            if not told and on_wait is not None:
                on_wait()
                told = True
            await asyncio.sleep(poll_s)

    def _attempt(self) -> bool:
        try:
            return self.try_acquire()
        except Exception as exc:  # noqa: BLE001 - the server restarted / our session was ended: retry
            log.warning("leader lock attempt failed (retrying): %s", exc)
            self._drop()
            return False

    # -- while leading --------------------------------------------------------------------------
    def _check(self, conn) -> None:
        if self.lost is not None:
            raise NotLeader("leadership lost") from self.lost
        if not self.held:
            raise NotLeader("not the leader")
        if conn.execute(_HELD, {"c": LOCK_CLASS, "k": self.key}).scalar() != 1:
            raise NotLeader("the leader lock is no longer held by this session")

    @contextmanager
    def begin(self) -> Iterator:
        """One transaction on the lock's session, after checking the lock in that same
        transaction (the fence): `with lead.begin() as conn: ...`. Raises NotLeader (nothing
        written) when the lock is gone, and marks leadership lost. The keeper's journal and
        the side journals (funding, liquidation, backstop unwind) all write through it."""
        with self._lock:
            try:
                with self.conn.begin():
                    self._check(self.conn)
                    yield self.conn
            except NotLeader as exc:
                self._lose(exc)
                raise
            except Exception as exc:
                if self._session_gone():
                    lost = NotLeader(f"leader session lost: {exc}")
                    self._lose(lost)
                    raise lost from exc
                raise
            self.last_ok = time.monotonic()

    def write(self, fn: Callable) -> None:
        """Run `fn(conn)` in one fenced transaction (`begin`)."""
        with self.begin() as conn:
            fn(conn)

    def check(self) -> None:
        """Raise NotLeader unless this session still holds the lock (sync; before a broadcast)."""
        with self._lock:
            try:
                with self.conn.begin():
                    self._check(self.conn)
            except NotLeader as exc:
                self._lose(exc)
                raise
            except Exception as exc:  # the session is gone: so is the lock
                lost = NotLeader(f"leader session lost: {exc}")
                self._lose(lost)
                raise lost from exc
            self.last_ok = time.monotonic()

    async def afence(self) -> None:
        """`check()` off the loop: `Chain.fence`, awaited before every broadcast."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.check)

    def start_heartbeat(self, on_lost: Callable[[BaseException], None]) -> None:
        self.on_lost = on_lost
        self._thread = threading.Thread(target=self._beat, name="leader-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        interval = max(0.05, self.lease_s / 3)
        while not self._stop.wait(interval):
            try:
                self.check()
            except NotLeader:
                return  # _lose told on_lost

    def _session_gone(self) -> bool:
        try:
            with self.conn.begin():
                return self.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != self.pid
        except Exception:  # noqa: BLE001
            return True

    def _lose(self, exc: BaseException) -> None:
        first = self.lost is None and self.held
        if self.lost is None:
            self.lost = exc
        self.held = False
        if first:
            log.critical("leadership lost: %s", exc)
            if self.on_lost is not None:
                self.on_lost(exc)

    def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back into the pool: the session may hold the lock
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        """Give up leadership (a clean stop): end the session, the lock goes with it."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        with self._lock:
            self.held = False
            self._drop()
