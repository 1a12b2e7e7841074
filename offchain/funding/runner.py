"""The keeper's funding runner: samples the premium, submits one rate per market per
interval, journals both, resumes after a crash without double-submitting.

Every `sample_s` it takes each market's book (top levels) and index (the Oracle's mark)
and journals one premium sample (rate.sample_book). When the clock enters interval k+1 it
closes interval k: the average of k's journaled samples gives the rate (rate.funding_rate),
which is signed into an `update_funding(market, k, rate)` transaction and journaled with
its nonce, hash and raw bytes BEFORE it is broadcast.

Why it never double-submits:
- one journal row per (market, interval): a closed interval is never closed again;
- a crash leaves the row planned/submitted with the signed raw tx: on restart the runner
  asks for its receipt, else re-broadcasts the same bytes (same nonce: at most one of them
  can ever be mined). Only when the node does not know the tx and its nonce is already
  used by another transaction (so it can never be mined) is the row marked dead and a
  new transaction signed, and only if the chain has no rate for that interval yet;
- the chain itself accepts one rate per market per interval (`exchange: funding interval`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Callable, Protocol

from offchain.keeper.txjournal import receipt_ok

from .journal import CONFIRMED, DEAD, OPEN_STATES, PLANNED, REVERTED, SUBMITTED, FundingJournal, RateRecord
from .rate import FundingParams, average_premium, funding_rate, interval_of, sample_book

log = logging.getLogger("mmx.keeper.funding")

Book = tuple[list[tuple[int, int]], list[tuple[int, int]]]


class FundingChain(Protocol):
    """What the runner needs from the chain (KeeperFundingChain adapts offchain.keeper.chain)."""

    async def last_interval(self, market: int) -> int: ...      # 0 = the chain has no rate yet
    async def allocate_nonce(self) -> int: ...
    def release_nonce(self, nonce: int) -> None: ...
    def sign_update(self, market: int, interval: int, rate: int, nonce: int) -> tuple[str, str]: ...
    async def send_raw(self, raw: str) -> Any: ...
    async def receipt(self, tx_hash: str) -> dict | None: ...
    async def tx_unknown(self, tx_hash: str) -> bool: ...
    async def nonce_used(self, nonce: int) -> bool: ...        # a tx with this nonce is mined


class FundingRunner:
    """Pure scheduling around I/O given in the constructor; `tick(now)` drives it.

    book(market) -> (bids, asks) best first; index(market) -> the index price or None."""

    def __init__(self, params: dict[int, FundingParams], journal: FundingJournal, chain: FundingChain,
                 book: Callable[[int], Book], index: Callable[[int], int | None],
                 publish: Callable[[int, dict], None] | None = None, receipt_timeout: float = 60.0) -> None:
        self.params = params
        self.journal = journal
        self.chain = chain
        self.book = book
        self.index = index
        self.publish = publish or (lambda market, message: None)
        self.receipt_timeout = receipt_timeout
        self.current: dict[int, int] = {}         # market -> interval being sampled
        self.samples: dict[int, list[int]] = {}   # market -> that interval's samples
        self.last_sample: dict[int, float] = {}
        self.recheck_s = 30.0  # how often rows left open (no receipt yet) are resolved again
        self._last_recheck = float("-inf")
        self._waits: set[asyncio.Task] = set()
        self._waiting: set[tuple[int, int]] = set()  # (market, interval) with a receipt waiter

    # -- lifecycle ---------------------------------------------------------------------------
    async def resume(self, now: float) -> None:
        """After a (re)start: reload the running interval's samples and resolve every rate
        transaction a crash left open."""
        for market, p in self.params.items():
            k = interval_of(int(now), p.interval_s)
            self.current[market] = k
            self.samples[market] = self.journal.samples(market, k)
        for rec in self.journal.rates(states=OPEN_STATES):
            await self._resolve(rec)

    async def stop(self) -> None:
        """Stop waiting for receipts (a restart's resume resolves whatever is still open)."""
        for task in list(self._waits):
            task.cancel()
        await asyncio.gather(*list(self._waits), return_exceptions=True)

    async def drain(self) -> None:
        """Wait for every receipt the runner is waiting on (tests, shutdown)."""
        while self._waits:
            await asyncio.gather(*list(self._waits), return_exceptions=True)

    # -- the loop ----------------------------------------------------------------------------
    async def tick(self, now: float) -> None:
        rows = []
        for market, p in self.params.items():
            k = interval_of(int(now), p.interval_s)
            if market not in self.current:
                self.current[market] = k
                self.samples[market] = self.journal.samples(market, k)
            if k > self.current[market]:
                await self.close(market, self.current[market])
                self.current[market] = k
                self.samples[market] = self.journal.samples(market, k)
            else:
                last = self.journal.rate(market, k - 1)
                if last is not None and last.state == DEAD:
                    await self.close(market, k - 1)  # refused by the node: sign it again
            if now - self.last_sample.get(market, float("-inf")) >= p.sample_s:
                index = self.index(market)
                if index:
                    bids, asks = self.book(market)
                    sample = sample_book(bids, asks, index, p.impact_notional)
                    self.samples[market].append(sample)
                    rows.append((market, k, int(now), sample, index))
                    self.last_sample[market] = now
        self.journal.add_samples(rows)
        if now - self._last_recheck >= self.recheck_s:
            self._last_recheck = now
            for rec in self.journal.rates(states=OPEN_STATES):
                if (rec.market, rec.interval) not in self._waiting:
                    await self._resolve(rec)

    def predicted_rate(self, market: int) -> int:
        """The rate the running interval would get if it ended now."""
        return funding_rate(average_premium(self.samples.get(market, [])), self.params[market])

    async def close(self, market: int, interval: int) -> RateRecord | None:
        """Submit interval `interval`'s rate unless it was already (journal or chain)."""
        found = self.journal.rate(market, interval)
        if found is not None and found.state != DEAD:
            return found
        if await self.chain.last_interval(market) >= interval:
            return None  # the chain has it or a later one: nothing to add
        samples = self.journal.samples(market, interval)
        avg = average_premium(samples)
        rate = funding_rate(avg, self.params[market])
        rec = RateRecord(market, interval, rate, avg, len(samples), PLANNED, -1, "", "", "")
        return await self._sign_and_send(rec)

    # -- transactions ------------------------------------------------------------------------
    async def _sign_and_send(self, rec: RateRecord) -> RateRecord:
        nonce = await self.chain.allocate_nonce()
        raw, tx_hash = self.chain.sign_update(rec.market, rec.interval, rec.rate, nonce)
        rec = replace(rec, state=PLANNED, nonce=nonce, tx_hash=tx_hash, raw_tx=raw, error="")
        self.journal.put_rate(rec)  # on disk before the bytes leave
        try:
            await self.chain.send_raw(raw)
        except Exception as exc:  # noqa: BLE001 - resolved below or at the next resume
            if await self.chain.tx_unknown(tx_hash) and not await self.chain.nonce_used(nonce):
                # the node refused it outright: the nonce is free again, the row can never be mined
                self.chain.release_nonce(nonce)
                self.journal.set_state(rec.market, rec.interval, DEAD, str(exc)[:200])
                log.warning("funding tx for market %s interval %s refused: %s", rec.market, rec.interval, exc)
                return replace(rec, state=DEAD, error=str(exc)[:200])
            self._wait(rec)  # the node may have it: its receipt decides
            return rec
        self.journal.set_state(rec.market, rec.interval, SUBMITTED)
        rec = replace(rec, state=SUBMITTED)
        self._wait(rec)
        return rec

    async def _resolve(self, rec: RateRecord) -> None:
        receipt = await self.chain.receipt(rec.tx_hash)
        if receipt is not None:
            self._finish(rec, receipt)
            return
        try:
            await self.chain.send_raw(rec.raw_tx)  # the same bytes: idempotent
        except Exception as exc:  # noqa: BLE001
            if await self.chain.tx_unknown(rec.tx_hash) and await self.chain.nonce_used(rec.nonce):
                # another tx took its nonce: this one can never be mined
                self.journal.set_state(rec.market, rec.interval, DEAD, str(exc)[:200])
                if await self.chain.last_interval(rec.market) < rec.interval:
                    await self._sign_and_send(replace(rec, state=DEAD))
            return
        if rec.state != SUBMITTED:
            self.journal.set_state(rec.market, rec.interval, SUBMITTED)
        self._wait(replace(rec, state=SUBMITTED))

    def _wait(self, rec: RateRecord) -> None:
        key = (rec.market, rec.interval)
        if key in self._waiting:
            return
        self._waiting.add(key)
        task = asyncio.get_running_loop().create_task(self._await_receipt(rec))
        self._waits.add(task)

        def done(t: asyncio.Task) -> None:
            self._waits.discard(t)
            self._waiting.discard(key)

        task.add_done_callback(done)

    async def _await_receipt(self, rec: RateRecord) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.receipt_timeout
        delay = 0.01
        while loop.time() < deadline:
            receipt = await self.chain.receipt(rec.tx_hash)
            if receipt is not None:
                self._finish(rec, receipt)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        log.warning("no receipt yet for funding tx %s (resolved at the next resume)", rec.tx_hash)

    def _finish(self, rec: RateRecord, receipt: dict) -> None:
        ok = receipt_ok(receipt)
        self.journal.set_state(rec.market, rec.interval, CONFIRMED if ok else REVERTED)
        if ok:
            self.publish(rec.market, {"type": "rate", "market": str(rec.market), "interval": str(rec.interval),
                                      "rate": str(rec.rate), "avg_premium": str(rec.avg_premium),
                                      "samples": rec.samples, "tx_hash": rec.tx_hash})
        else:
            log.warning("funding tx %s reverted (market %s interval %s)", rec.tx_hash, rec.market, rec.interval)
