"""The keeper's journal: SQLAlchemy 2 over SQLite (default) or PostgreSQL (by URL).

Tables
- commands  every accepted state-changing command, in sequence order (= replay order);
- orders    the signed orders (hash, order fields, signature) the commands refer to;
- fills     every fill with its settlement state, batch id and the chain's reason;
- batches   settle transactions: fill ids, nonce, tx hash and the signed raw tx, journaled
            BEFORE the tx is sent, then its state;
- cursors   chain watcher cursors (last confirmed block processed);
- order_states  a finished order's final status, written when it leaves the sequencer's
            live state (the API reads finished orders from here);
- snapshots the sequencer's live state every `snapshot_every` commands.

uint256 values are stored as decimal strings (SQLite integers stop at 2**63).

Writes go through `write(WriteSet)`: one transaction per call. The service groups every
command of an event-loop tick into one WriteSet (group commit) and acknowledges them only
after `write` returns. SQLite runs in WAL mode with synchronous=FULL: a commit is on disk
before the acknowledgement leaves, which survives power loss and not just a SIGKILL; the
group commit makes the one fsync per tick cheap enough (see docs/keeper.md).

PostgreSQL (`postgresql+psycopg://user@host:port/db`; plain `postgresql://` and
`postgres://` are mapped to the psycopg 3 driver): READ COMMITTED, synchronous_commit=on set
on every connection (a commit is flushed to the server's WAL before `write` returns); the hot inserts go through psycopg's executemany
(pipeline mode: one round trip per table, not per row) over plain tuples, uint256 columns
as decimal strings, as on SQLite. Same schema and types on both backends.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterator

from sqlalchemy import (
    BigInteger,
    bindparam,
    Boolean,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    make_url,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from offchain.order import ONE_FILL


class BigUInt(TypeDecorator):
    """An arbitrary non-negative integer stored as a decimal string."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else str(int(value))

    def process_result_value(self, value, dialect):
        return None if value is None else int(value)


class Base(DeclarativeBase):
    pass


class CommandRow(Base):
    __tablename__ = "commands"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger)  # ms
    kind: Mapped[str] = mapped_column(String(24))
    account: Mapped[str] = mapped_column(String(42), default="")
    body: Mapped[str] = mapped_column(Text)  # JSON


class OrderRow(Base):
    __tablename__ = "orders"
    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    market: Mapped[int] = mapped_column(BigUInt)
    is_buy: Mapped[bool] = mapped_column(Boolean)
    price: Mapped[int] = mapped_column(BigUInt)
    size: Mapped[int] = mapped_column(BigUInt)
    nonce: Mapped[int] = mapped_column(BigUInt)
    expiry: Mapped[int] = mapped_column(BigUInt)
    flags: Mapped[int] = mapped_column(BigUInt)
    signature: Mapped[str] = mapped_column(String(132))
    signer: Mapped[str] = mapped_column(String(42))


class OrderStateRow(Base):
    """A finished order's final status, written when it leaves the sequencer's live state
    (core.Core._retire; in the same transaction as the command or settlement that ended it)."""

    __tablename__ = "order_states"
    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))
    filled: Mapped[int] = mapped_column(BigUInt)
    replaced_by: Mapped[str] = mapped_column(String(66), default="")  # an amend's replacement


class FillRow(Base):
    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)  # command that made it
    ts: Mapped[int] = mapped_column(BigInteger)
    market: Mapped[int] = mapped_column(BigUInt)
    price: Mapped[int] = mapped_column(BigUInt)
    size: Mapped[int] = mapped_column(BigUInt)
    maker_hash: Mapped[str] = mapped_column(String(66), index=True)
    taker_hash: Mapped[str] = mapped_column(String(66), index=True)
    maker_account: Mapped[str] = mapped_column(String(42), index=True)
    taker_account: Mapped[str] = mapped_column(String(42), index=True)
    maker_is_buy: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(12), index=True)
    batch_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    tx_hash: Mapped[str] = mapped_column(String(66), default="")


class BatchRow(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    fill_ids: Mapped[str] = mapped_column(Text)  # JSON list
    state: Mapped[str] = mapped_column(String(12), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class CursorRow(Base):
    __tablename__ = "cursors"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)


class SnapshotRow(Base):
    """The sequencer's state after command `seq` (core.Core.snapshot, msgpack), with its
    sha256; restart loads the newest one that verifies and replays only the commands after it."""

    __tablename__ = "snapshots"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)


class FillState(StrEnum):
    """A fill's settlement state (docs/keeper.md): matched -> submitted -> settled | rejected;
    submitted -> matched again when its tx failed as a whole (re-batched). StrEnum: the
    journal, the API and old journals keep the plain strings."""

    MATCHED = "matched"
    SUBMITTED = "submitted"
    SETTLED = "settled"
    REJECTED = "rejected"


class BatchState(StrEnum):
    """A settle tx: submitted -> confirmed | failed (reverted / dropped: its fills re-batched)."""

    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


MATCHED, SUBMITTED, SETTLED, REJECTED = FillState
FILL_STATES = tuple(FillState)
B_SUBMITTED, B_CONFIRMED, B_FAILED = BatchState


@dataclass
class WriteSet:
    """Everything one transaction writes."""

    commands: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    order_states: list[dict] = field(default_factory=list)  # {"hash", "status", "filled"}: retired orders
    fill_updates: list[dict] = field(default_factory=list)  # {"id", "state", ...}
    batches: list[dict] = field(default_factory=list)
    batch_updates: list[dict] = field(default_factory=list)  # {"id", "state", ...}
    cursors: dict[str, int] = field(default_factory=dict)
    snapshot: tuple[int, bytes] | None = None  # (seq, body): written after the rows above

    def __bool__(self) -> bool:
        return bool(
            self.commands or self.orders or self.fills or self.order_states or self.fill_updates or self.batches
            or self.batch_updates or self.cursors or self.snapshot
        )

    def extend(self, other: "WriteSet") -> None:
        self.commands += other.commands
        self.orders += other.orders
        self.fills += other.fills
        self.order_states += other.order_states
        self.fill_updates += other.fill_updates
        self.batches += other.batches
        self.batch_updates += other.batch_updates
        self.cursors.update(other.cursors)
        if other.snapshot is not None:
            self.snapshot = other.snapshot


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL the journal opens: PostgreSQL URLs without a driver (postgresql://,
    postgres://) get psycopg 3, the driver the project ships (not SQLAlchemy's psycopg2
    default)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str):
    """The journal's SQLAlchemy engine with its durability and isolation settings (the
    keeper journal and its leader lock, offchain/keeper/leader.py, open the same kind)."""
    url = normalize_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    elif url.startswith("postgresql"):
        # explicit, not left to the server's default_transaction_isolation: one writer
        # appends in sequence order; a reader sees a committed prefix
        kwargs["isolation_level"] = "READ COMMITTED"
        # an ack means the commit is on disk (the SQLite journal's synchronous=FULL): never
        # inherit synchronous_commit=off from a server or role default (libpq `options`
        # given in the URL, e.g. -csearch_path=..., are kept)
        given = make_url(url).query.get("options")
        options = " ".join(filter(None, [given if isinstance(given, str) else None, "-c synchronous_commit=on"]))
        kwargs["connect_args"] = {"options": options}
        kwargs["pool_pre_ping"] = True  # a restarted server: reconnect, don't fail a write
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# the side journals (funding, liquidation steps) open their databases with the same settings
open_engine = make_engine


class Journal:
    def __init__(self, url: str, leadership=None) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.is_postgres = self.url.startswith("postgresql")
        self.engine = make_engine(self.url)
        # PostgreSQL failover (leader.py): when set, every write runs on the leader lock's
        # session after checking the lock in the same transaction (the fence)
        self.leadership = leadership
        Base.metadata.create_all(self.engine)
        self._upsert = sqlite_insert if self.is_sqlite else pg_insert if self.is_postgres else None
        # the raw executemany path needs to know the driver's placeholder
        self._mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(self.engine.dialect.paramstyle)
        self._convert = _sql if self.is_sqlite else _pg

    def close(self) -> None:
        self.engine.dispose()

    # -- writes ---------------------------------------------------------------------------
    def write(self, ws: WriteSet) -> None:
        """One transaction; fenced by the leader lock when this journal has a leadership
        (leader.NotLeader: nothing was written)."""
        if not ws:
            return
        if self.leadership is not None:
            self.leadership.write(lambda conn: self._write(conn, ws))
            return
        with self.engine.begin() as conn:
            self._write(conn, ws)

    def _write(self, conn, ws: WriteSet) -> None:
        if (self.is_sqlite or self.is_postgres) and self._mark:
            # hot path: the DB-API's C executemany over plain tuples (SQLAlchemy's per-row
            # bind processing costs ~4x as much); uint256 columns as decimal strings
            mark, convert = self._mark, self._convert
            for table, rows in (("commands", ws.commands), ("orders", ws.orders), ("fills", ws.fills)):
                if rows:
                    columns = _COLUMNS[table]
                    if self.is_sqlite:
                        _insert_multirow(conn, table, columns, _row_values(table, rows, convert))
                        continue
                    conn.exec_driver_sql(
                        f"INSERT INTO {table} ({','.join(columns)}) VALUES ({','.join([mark] * len(columns))})",
                        _row_values(table, rows, convert))
        else:
            if ws.commands:
                conn.execute(insert(CommandRow), ws.commands)
            if ws.orders:
                conn.execute(insert(OrderRow), ws.orders)
            if ws.fills:
                conn.execute(insert(FillRow), ws.fills)
        if ws.order_states:
            # an upsert: a replay after a crash may retire an order again
            stmt = self._upsert(OrderStateRow) if self._upsert is not None else None
            if self.is_sqlite:
                _insert_multirow(conn, "order_states", _STATE_COLUMNS,
                                 [(r["hash"], r["status"], str(int(r["filled"])), r.get("replaced_by", ""))
                                  for r in ws.order_states], _STATE_UPSERT)
            elif stmt is not None:
                conn.execute(stmt.on_conflict_do_update(index_elements=[OrderStateRow.hash], set_={
                    "status": stmt.excluded.status, "filled": stmt.excluded.filled,
                    "replaced_by": stmt.excluded.replaced_by}), ws.order_states)
            else:
                conn.execute(insert(OrderStateRow), ws.order_states)
        if ws.batches:
            conn.execute(insert(BatchRow), ws.batches)
        _update_many(conn, FillRow, ws.fill_updates, self.is_sqlite)
        _update_many(conn, BatchRow, ws.batch_updates, self.is_sqlite)
        for name, block in ws.cursors.items():
            if self._upsert is not None:
                stmt = self._upsert(CursorRow).values(name=name, block=block)
                conn.execute(stmt.on_conflict_do_update(index_elements=[CursorRow.name],
                                                        set_={"block": stmt.excluded.block}))
                continue
            found = conn.execute(select(CursorRow.block).where(CursorRow.name == name)).first()
            if found is None:
                conn.execute(insert(CursorRow).values(name=name, block=block))
            else:
                conn.execute(update(CursorRow).where(CursorRow.name == name).values(block=block))
        if ws.snapshot is not None:
            self._write_snapshot(conn, *ws.snapshot)

    # -- snapshots ------------------------------------------------------------------------
    KEEP_SNAPSHOTS = 2

    def _write_snapshot(self, conn, seq: int, body: bytes) -> None:
        import hashlib
        import time

        conn.execute(insert(SnapshotRow).values(seq=seq, ts=int(time.time() * 1000),
                                                digest=hashlib.sha256(body).hexdigest(), body=body))
        keep = [r.seq for r in conn.execute(select(SnapshotRow.seq).order_by(SnapshotRow.seq.desc())
                                            .limit(self.KEEP_SNAPSHOTS))]
        conn.execute(delete(SnapshotRow).where(SnapshotRow.seq < min(keep)))

    def snapshot(self) -> tuple[int, bytes] | None:
        """The newest snapshot that verifies: its sha256 matches and the journal holds every
        command up to its seq (a snapshot is only good on top of a gap-free prefix); else
        the one before it; else None (replay from the start)."""
        import hashlib

        with self.engine.connect() as conn:
            rows = conn.execute(select(SnapshotRow).order_by(SnapshotRow.seq.desc())).all()
            for row in rows:
                if hashlib.sha256(row.body).hexdigest() != row.digest:
                    continue
                count = conn.execute(select(func.count()).select_from(CommandRow)
                                     .where(CommandRow.seq <= row.seq)).scalar()
                if count == row.seq:
                    return row.seq, bytes(row.body)
        return None

    # -- reads ----------------------------------------------------------------------------
    def commands(self, after: int = 0, chunk: int = 5000) -> Iterator[CommandRow]:
        """Commands in replay order, as rows (kind, seq, ts, body)."""
        last = after
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(CommandRow.seq, CommandRow.ts, CommandRow.kind, CommandRow.account, CommandRow.body)
                    .where(CommandRow.seq > last)
                    .order_by(CommandRow.seq)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq

    def orders(self) -> list:
        with self.engine.connect() as conn:
            return conn.execute(select(OrderRow)).all()

    def fills(self, state: str | None = None) -> list:
        return self._by_state(FillRow, state)

    def batches(self, state: str | None = None) -> list:
        return self._by_state(BatchRow, state)

    def _by_state(self, table, state: str | None) -> list:
        """Every row of `table` (fills, batches) by id, or only those in `state`."""
        stmt = select(table).order_by(table.id)
        if state is not None:
            stmt = stmt.where(table.state == state)
        with self.engine.connect() as conn:
            return conn.execute(stmt).all()

    def fills_after(self, after: int, ids: list[int] = ()) -> list:
        """The fills with id > `after`, and those in `ids` (replay from a snapshot checks
        only these: the ones it re-made, and the ones the snapshot held pending)."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(FillRow).where(FillRow.id > after).order_by(FillRow.id)).all())
            ids = sorted(i for i in ids if i <= after)
            for n in range(0, len(ids), 500):
                rows += conn.execute(select(FillRow).where(FillRow.id.in_(ids[n:n + 500]))).all()
        return rows

    def fills_of(self, order_hash: str) -> list:
        """The fills of one order (as maker or taker), by id."""
        with self.engine.connect() as conn:
            return conn.execute(select(FillRow).where((FillRow.maker_hash == order_hash)
                                                      | (FillRow.taker_hash == order_hash))
                                .order_by(FillRow.id)).all()

    def fill_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {state: n for state, n in conn.execute(
                select(FillRow.state, func.count()).group_by(FillRow.state)).all()}

    def fill(self, fill_id: int):
        with self.engine.connect() as conn:
            return conn.execute(select(FillRow).where(FillRow.id == fill_id)).first()

    def account_fills(self, account: str, limit: int) -> list:
        """The account's newest `limit` fills (as maker or taker), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(FillRow).where((FillRow.maker_account == account)
                                                      | (FillRow.taker_account == account))
                                .order_by(FillRow.id.desc()).limit(limit)).all()
        return rows[::-1]

    def order_hashes(self) -> set[bytes]:
        """Every order hash the journal holds (the sequencer's duplicate check)."""
        raw = self.engine.raw_connection()  # the DB-API cursor: SQLAlchemy's Row objects cost ~8x
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT hash FROM orders")
            fromhex = bytes.fromhex
            seen: set[bytes] = set()
            while chunk := cursor.fetchmany(50_000):
                seen.update(fromhex(h[2:]) for (h,) in chunk)
            cursor.close()
        finally:
            raw.close()
        return seen

    def one_fill_nonces(self) -> set[tuple[str, int]]:
        """(account, nonce) of every single-fill (ONE_FILL) order the journal holds."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(OrderRow.account, OrderRow.nonce, OrderRow.flags)
                                .where(OrderRow.flags != 0)).all()  # a decimal string column
        return {(a, int(n)) for a, n, f in rows if int(f) & ONE_FILL}

    def order(self, order_hash: str) -> tuple | None:
        """(orders row, order_states row or None, the place command's body) of a journaled order."""
        with self.engine.connect() as conn:
            row = conn.execute(select(OrderRow).where(OrderRow.hash == order_hash)).first()
            if row is None:
                return None
            state = conn.execute(select(OrderStateRow).where(OrderStateRow.hash == order_hash)).first()
            body = conn.execute(select(CommandRow.body).where(CommandRow.seq == row.seq)).scalar()
        return row, state, body

    def cursor(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(CursorRow.block).where(CursorRow.name == name)).first()
        return None if row is None else row[0]

    def max_ids(self) -> tuple[int, int, int]:
        """(last command seq, last fill id, last batch id), 0 when empty."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            seq = conn.execute(select(func.max(CommandRow.seq))).scalar() or 0
            fid = conn.execute(select(func.max(FillRow.id))).scalar() or 0
            bid = conn.execute(select(func.max(BatchRow.id))).scalar() or 0
        return seq, fid, bid


_COLUMNS = {
    "commands": ("seq", "ts", "kind", "account", "body"),
    "orders": ("hash", "seq", "account", "market", "is_buy", "price", "size", "nonce", "expiry", "flags",
               "signature", "signer"),
    "fills": ("id", "seq", "ts", "market", "price", "size", "maker_hash", "taker_hash", "maker_account",
              "taker_account", "maker_is_buy", "state", "batch_id", "reason", "tx_hash"),
}
_BIG = {"market", "price", "size", "nonce", "expiry", "flags"}


# per table, the positions of its uint256 columns: the only ones whose values can exceed
# 64 bits (the others are the keeper's own counters, ms timestamps, hashes and text)
_BIG_AT = {table: tuple((i, c) for i, c in enumerate(columns) if c in _BIG) for table, columns in _COLUMNS.items()}


def _row_values(table: str, rows: list[dict], convert) -> list[tuple]:
    """The executemany parameters of `rows`: each row's values in _COLUMNS order (None where
    absent), the uint256 columns through `convert`. The rows' cells are read in C (map), and
    only the uint256 cells pay a Python call: building the tuples cell by cell through
    `convert` was ~60% of the journal thread's CPU per order (bench/bench_intake.py)."""
    columns, big = _COLUMNS[table], _BIG_AT[table]
    out = []
    for row in rows:
        values = list(map(row.get, columns))
        for i, column in big:
            values[i] = convert(column, values[i])
        out.append(tuple(values))  # SQLAlchemy takes tuples (or dicts) as raw parameters
    return out


def _sql(column: str, value):
    """Python value -> SQLite parameter; ints beyond 63 bits as decimal strings."""
    if value.__class__ is int and not -2**63 <= value < 2**63:
        return str(value)
    return value


def _pg(column: str, value):
    """Python value -> psycopg parameter: uint256 columns (VARCHAR) as decimal strings."""
    if column in _BIG and value is not None:
        return str(int(value))
    return value


# SQLite: rows go in multi-row statements of these sizes (largest first), so a commit of
# n rows runs about n / 64 + 9 statements instead of n steps of one executemany. Each step
# releases the GIL and takes it back; on the journal thread, with the event loop's thread
# holding the GIL most of the time under load, every take-back waits for the loop's next
# syscall, and ~200 of them were most of a commit's 20-40 ms (docs/performance.md,
# "Session 5"). Few distinct statements: the sqlite3 module keeps them compiled.
_CHUNKS = (64, 16, 4, 1)
_STATE_COLUMNS = ("hash", "status", "filled", "replaced_by")
_STATE_UPSERT = (" ON CONFLICT(hash) DO UPDATE SET status=excluded.status, filled=excluded.filled,"
                 " replaced_by=excluded.replaced_by")


@functools.lru_cache(maxsize=64)
def _multirow_sql(table: str, columns: tuple, rows: int, suffix: str) -> str:
    one = "(" + ",".join("?" * len(columns)) + ")"
    return f"INSERT INTO {table} ({','.join(columns)}) VALUES {','.join([one] * rows)}{suffix}"


def _insert_multirow(conn, table: str, columns: tuple, values: list[tuple], suffix: str = "") -> None:
    """INSERT `values` (tuples in `columns` order) into `table`, in row order, in chunks of
    _CHUNKS rows per statement (SQLite; an upsert's later row of the same key wins, as in
    an executemany)."""
    at, n = 0, len(values)
    for size in _CHUNKS:
        while n - at >= size:
            conn.exec_driver_sql(_multirow_sql(table, columns, size, suffix),
                                 tuple(v for row in values[at:at + size] for v in row))
            at += size


@functools.lru_cache(maxsize=64)
def _update_from_sql(table: str, columns: tuple, rows: int) -> str:
    one = "(" + ",".join("?" * (len(columns) + 1)) + ")"
    sets = ", ".join(f"{c} = v.column{i + 2}" for i, c in enumerate(columns))
    return f"UPDATE {table} SET {sets} FROM (VALUES {','.join([one] * rows)}) AS v WHERE {table}.id = v.column1"


def _update_many(conn, model, rows: list[dict], sqlite: bool = False) -> None:
    """UPDATE ... WHERE id = :id as one executemany per distinct column set, in row order
    within each set (a later update of the same row in the same set wins). When a row is
    updated under two column sets (their order between sets then matters), one executemany
    per run of consecutive rows with the same set instead, runs in row order: the rows'
    own order is kept either way, without a statement per row (a commit that mixes the
    settlement's "submitted" and "settled" updates cost ~0.6 ms a row that way)."""
    groups: dict[tuple, list[dict]] = {}
    first_set: dict = {}
    ordered = False
    for row in rows:
        columns = tuple(sorted(k for k in row if k != "id"))
        groups.setdefault(columns, []).append(row)
        if first_set.setdefault(row["id"], columns) != columns:
            ordered = True
    if not ordered:
        for columns, group in groups.items():
            if sqlite and not _BIG.intersection(columns) and len({r["id"] for r in group}) == len(group):
                # one UPDATE ... FROM (VALUES ...) per chunk (SQLite >= 3.33); only for
                # distinct ids: two rows of one id in one statement would be ambiguous
                _update_from(conn, model.__tablename__, columns, group)
            else:
                _update_set(conn, model, columns, group)
        return
    run: list[dict] = []
    run_columns: tuple = ()
    for row in rows:
        columns = tuple(sorted(k for k in row if k != "id"))
        if run and columns != run_columns:
            _update_set(conn, model, run_columns, run)
            run = []
        run_columns = columns
        run.append(row)
    if run:
        _update_set(conn, model, run_columns, run)


def _update_from(conn, table: str, columns: tuple, rows: list[dict]) -> None:
    at, n = 0, len(rows)
    for size in _CHUNKS:
        while n - at >= size:
            conn.exec_driver_sql(_update_from_sql(table, columns, size),
                                 tuple(v for row in rows[at:at + size] for v in (row["id"], *map(row.get, columns))))
            at += size


def _update_set(conn, model, columns: tuple, rows: list[dict]) -> None:
    stmt = (update(model).where(model.id == bindparam("_id"))
            .values({c: bindparam("_" + c) for c in columns}))
    conn.execute(stmt, [{"_" + k: v for k, v in row.items()} for row in rows])


_encode = __import__("msgspec").json.encode


def dumps(body: dict) -> str:
    """Compact JSON (msgspec: ~4x json.dumps; the body is written once per command)."""
    return _encode(body).decode()
