"""The funding runner's journal: two tables in the keeper's database (same SQLAlchemy URL,
own metadata, so the keeper's journal schema is untouched).

- funding_samples  every premium sample (market, interval, ts, premium, index), so the
                   interval's average survives a restart;
- funding_rates    one row per (market, interval): the rate, the inputs it came from and
                   the signed transaction that submits it, journaled BEFORE it is sent;
                   state planned -> submitted -> confirmed | reverted, or dead (never
                   mined and its nonce taken by another tx: it can never be mined, so the
                   runner may sign a new one).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from offchain.keeper.txjournal import CONFIRMED, DEAD, OPEN_STATES, PLANNED, REVERTED, SUBMITTED, SideJournal, TxColumns

__all__ = ["CONFIRMED", "DEAD", "OPEN_STATES", "PLANNED", "REVERTED", "SUBMITTED", "FundingJournal", "RateRecord"]


class _Base(DeclarativeBase):
    pass


class SampleRow(_Base):
    __tablename__ = "funding_samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    market: Mapped[int] = mapped_column(Integer, index=True)
    interval: Mapped[int] = mapped_column(BigInteger, index=True)
    ts: Mapped[int] = mapped_column(BigInteger)
    premium: Mapped[str] = mapped_column(String(80))  # signed integers as decimal strings
    index_price: Mapped[str] = mapped_column(String(80))


class RateRow(TxColumns, _Base):  # + state, nonce, tx_hash, raw_tx, error
    __tablename__ = "funding_rates"
    market: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    interval: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rate: Mapped[str] = mapped_column(String(80))
    avg_premium: Mapped[str] = mapped_column(String(80))
    samples: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class RateRecord:
    market: int
    interval: int
    rate: int
    avg_premium: int
    samples: int
    state: str
    nonce: int
    tx_hash: str
    raw_tx: str
    error: str


def _record(row) -> RateRecord:
    return RateRecord(row.market, row.interval, int(row.rate), int(row.avg_premium), row.samples, row.state,
                      row.nonce, row.tx_hash, row.raw_tx, row.error)


class FundingJournal(SideJournal):
    metadata = _Base.metadata

    def add_samples(self, rows: list[tuple[int, int, int, int, int]]) -> None:
        """(market, interval, ts, premium, index) rows, one transaction."""
        if not rows:
            return
        with self.begin() as conn:
            conn.execute(insert(SampleRow), [
                {"market": m, "interval": i, "ts": ts, "premium": str(p), "index_price": str(x)}
                for m, i, ts, p, x in rows])

    def samples(self, market: int, interval: int) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(SampleRow.premium).where(SampleRow.market == market,
                                                                SampleRow.interval == interval)
                                .order_by(SampleRow.id)).all()
        return [int(r[0]) for r in rows]

    def put_rate(self, rec: RateRecord) -> None:
        """Insert (or replace, for a re-signed dead row) the row of (market, interval)."""
        values = {"rate": str(rec.rate), "avg_premium": str(rec.avg_premium), "samples": rec.samples,
                  "state": rec.state, "nonce": rec.nonce, "tx_hash": rec.tx_hash, "raw_tx": rec.raw_tx,
                  "error": rec.error}
        with self.begin() as conn:
            found = conn.execute(select(RateRow.state).where(RateRow.market == rec.market,
                                                             RateRow.interval == rec.interval)).first()
            if found is None:
                conn.execute(insert(RateRow).values(market=rec.market, interval=rec.interval, **values))
            else:
                conn.execute(update(RateRow).where(RateRow.market == rec.market, RateRow.interval == rec.interval)
                             .values(**values))

    def set_state(self, market: int, interval: int, state: str, error: str = "") -> None:
        with self.begin() as conn:
            conn.execute(update(RateRow).where(RateRow.market == market, RateRow.interval == interval)
                         .values(state=state, error=error))

    def rate(self, market: int, interval: int) -> RateRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(RateRow).where(RateRow.market == market, RateRow.interval == interval)).first()
        return None if row is None else _record(row)

    def rates(self, market: int | None = None, states: tuple[str, ...] | None = None,
              limit: int = 10_000) -> list[RateRecord]:
        """Rows oldest interval first."""
        stmt = select(RateRow)
        if market is not None:
            stmt = stmt.where(RateRow.market == market)
        if states is not None:
            stmt = stmt.where(RateRow.state.in_(states))
        return [_record(r) for r in self.newest(stmt, limit, RateRow.interval.desc(), RateRow.market)]
