"""The liquidation runner's journal: one table in the keeper's database (same SQLAlchemy
URL, own metadata, so the keeper's journal schema is untouched).

liquidation_steps: one row per step the runner decided, with the signed transaction that
executes it, journaled BEFORE it is broadcast. States:

    planned -> submitted -> confirmed | reverted
    planned | submitted -> dead   (never mined and its nonce taken by another tx, or the
                                   node refused it: it can never execute)

A crash leaves a row planned/submitted with its raw tx: on restart the runner asks for
the receipt, else re-broadcasts the same bytes (same nonce: at most one can be mined), so a
step is never done twice; the chain's own check (`not liquidatable`, `no position`) is the
second line of defence, not the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..txjournal import CONFIRMED, DEAD, OPEN_STATES, PLANNED, REVERTED, SUBMITTED, SideJournal, TxColumns

__all__ = ["CONFIRMED", "DEAD", "OPEN_STATES", "PLANNED", "REVERTED", "SUBMITTED", "LiquidationJournal",
           "StepRecord"]


class _Base(DeclarativeBase):
    pass


class StepRow(TxColumns, _Base):  # + state, nonce, tx_hash, raw_tx, error
    __tablename__ = "liquidation_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[int] = mapped_column(BigInteger)              # ms, when decided
    account: Mapped[str] = mapped_column(String(42), index=True)
    market: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))             # StepKind value (book | backstop | adl)
    size: Mapped[str] = mapped_column(String(80))             # base units planned (decimal string)
    equity: Mapped[str] = mapped_column(String(80))           # chain equity when decided
    maintenance: Mapped[str] = mapped_column(String(80))
    seen_block: Mapped[int] = mapped_column(BigInteger)       # head block when the breach was seen
    block: Mapped[int] = mapped_column(BigInteger, default=0)  # block it was mined in
    moved: Mapped[str] = mapped_column(String(80), default="0")   # Liquidation.size (signed)
    price: Mapped[str] = mapped_column(String(80), default="0")
    penalty: Mapped[str] = mapped_column(String(80), default="0")


@dataclass(frozen=True, slots=True)
class StepRecord:
    id: int
    ts: int
    account: str
    market: int
    kind: str
    size: int
    equity: int
    maintenance: int
    seen_block: int
    state: str
    nonce: int
    tx_hash: str
    raw_tx: str
    block: int
    moved: int
    price: int
    penalty: int
    error: str

    def to_json(self) -> dict:
        return {"id": self.id, "ts": self.ts, "account": self.account, "market": str(self.market),
                "kind": self.kind, "size": str(self.size), "equity": str(self.equity),
                "maintenance": str(self.maintenance), "seen_block": self.seen_block, "state": self.state,
                "tx_hash": self.tx_hash, "block": self.block, "moved": str(self.moved), "price": str(self.price),
                "penalty": str(self.penalty), "error": self.error}


def _record(r) -> StepRecord:
    return StepRecord(r.id, r.ts, r.account, r.market, r.kind, int(r.size), int(r.equity), int(r.maintenance),
                      r.seen_block, r.state, r.nonce, r.tx_hash, r.raw_tx, r.block, int(r.moved), int(r.price),
                      int(r.penalty), r.error)


class LiquidationJournal(SideJournal):
    metadata = _Base.metadata

    def plan(self, *, ts: int, account: str, market: int, kind: str, size: int, equity: int, maintenance: int,
             seen_block: int, nonce: int, tx_hash: str, raw_tx: str) -> int:
        """Journal a signed step before it is sent; returns its id."""
        with self.begin() as conn:
            result = conn.execute(insert(StepRow).values(
                ts=ts, account=account, market=market, kind=kind, size=str(size), equity=str(equity),
                maintenance=str(maintenance), seen_block=seen_block, state=PLANNED, nonce=nonce,
                tx_hash=tx_hash, raw_tx=raw_tx))
            return int(result.inserted_primary_key[0])

    def update(self, step_id: int, **values) -> None:
        for k in ("moved", "price", "penalty", "size"):
            if k in values:
                values[k] = str(values[k])
        with self.begin() as conn:
            conn.execute(update(StepRow).where(StepRow.id == step_id).values(**values))

    def get(self, step_id: int) -> StepRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(StepRow).where(StepRow.id == step_id)).first()
        return None if row is None else _record(row)

    def steps(self, states: tuple[str, ...] | None = None, account: str | None = None,
              limit: int = 10_000) -> list[StepRecord]:
        """Rows oldest first (the newest `limit`)."""
        stmt = select(StepRow)
        if states is not None:
            stmt = stmt.where(StepRow.state.in_(states))
        if account is not None:
            stmt = stmt.where(StepRow.account == account)
        return [_record(r) for r in self.newest(stmt, limit, StepRow.id.desc())]
