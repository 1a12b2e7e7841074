"""What the side runners' journals share: the state of a journaled transaction, the base of
a side journal, and reading a receipt.

A side runner (funding rates, liquidation steps) signs an operator transaction, journals
it with its nonce, hash and raw bytes, and only then broadcasts it. Its row moves

    planned -> submitted -> confirmed | reverted
    planned | submitted -> dead   (never mined and its nonce taken, or refused by the node:
                                   it can never execute)

A side journal lives in the keeper's database (same SQLAlchemy URL, same durability
settings as the keeper's journal) under its own metadata, so the keeper's journal schema is
untouched by it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from sqlalchemy import BigInteger, MetaData, Select, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .journal import normalize_url, open_engine


class TxState(StrEnum):
    """The journaled values are these strings (StrEnum: rows read back compare equal)."""

    PLANNED = "planned"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    REVERTED = "reverted"
    DEAD = "dead"


PLANNED, SUBMITTED, CONFIRMED, REVERTED, DEAD = TxState
OPEN_STATES = (PLANNED, SUBMITTED)  # what a restart must resolve


def _int(value: int | str) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def receipt_ok(receipt: dict) -> bool:
    """status 1 (a node that leaves it out: pre-Byzantium, counts as success)."""
    return _int(receipt.get("status", 1)) == 1


def receipt_block(receipt: dict) -> int:
    return _int(receipt["blockNumber"])


class TxColumns:
    """A journaled transaction's columns (a declarative mixin for a side journal's table)."""

    state: Mapped[str] = mapped_column(String(12), index=True)  # a TxState value
    nonce: Mapped[int] = mapped_column(BigInteger, default=-1)
    tx_hash: Mapped[str] = mapped_column(String(66), default="")
    raw_tx: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


class SideJournal:
    """A side journal's engine; a subclass names its tables' `metadata`.

    Writes go through `begin()`. With a `leadership` (a PostgreSQL journal with failover,
    leader.py) they run on the leader lock's session after checking the lock in the same
    transaction, like the keeper's journal: once a standby holds the lock, no row of the
    old leader's (a planned funding rate, a liquidation step) can land after it, so the
    side journal the new leader resumes from is final. Reads use the journal's own engine."""

    metadata: ClassVar[MetaData]

    def __init__(self, url: str, leadership=None) -> None:
        self.url = normalize_url(url)
        self.engine = open_engine(self.url)
        self.leadership = leadership
        self.metadata.create_all(self.engine)

    def begin(self):
        """A write transaction (`with journal.begin() as conn:`), fenced when leading."""
        if self.leadership is not None:
            return self.leadership.begin()
        return self.engine.begin()

    def close(self) -> None:
        self.engine.dispose()

    def newest(self, stmt: Select, limit: int, *newest_first) -> list:
        """The newest `limit` rows of `stmt` by `newest_first`, returned oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(*newest_first).limit(limit)).all()
        return rows[::-1]
