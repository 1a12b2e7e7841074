"""Settlement: batch matched fills into Exchange.settle, follow each tx to its receipt.

Fill state machine (journal.FILL_STATES):
    matched --batch journaled--> submitted --receipt: FillSettled--> settled
                                           --receipt: FillSkipped--> rejected (chain's reason)
                                           --tx reverted / dropped--> matched (re-batched;
                                             after max_retries: rejected "reverted")
A batch is cut when `max_fills` fills wait or the oldest waited `max_wait_ms`; up to
`max_inflight` batches are in flight at once, each with its own operator nonce.

Order of effects per batch (the recovery argument rests on it):
 1. nonce allocated, tx signed locally -> tx hash known;
 2. batch row (fill ids, nonce, tx hash, raw tx) + fills -> submitted: ONE journal commit;
 3. raw tx broadcast; 4. receipt; 5. outcomes + fill states: ONE journal commit.
A crash between 2 and 5 leaves a `submitted` batch that recovery resolves by receipt, by
re-broadcasting the identical raw tx (idempotent: same nonce, same hash), or else by the
chain's FillSettled logs for the batch's (maker_hash, taker_hash) pairs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from typing import Awaitable, Callable

from .blame import BOTH, blame
from .chain import Chain, RpcError, SettleOutcome, encode_settle
from .core import Core, FillRecord, Outbox
from .gateway import publish_user_fill
from .periodic import cancel_and_wait
from .journal import (
    B_CONFIRMED,
    B_FAILED,
    B_SUBMITTED,
    MATCHED,
    REJECTED,
    SETTLED,
    SUBMITTED,
    WriteSet,
)

log = logging.getLogger("mmx.keeper.settlement")


class Settlement:
    def __init__(self, core: Core, chain: Chain, committer, publish: Callable[[Outbox], None], hub,
                 *, max_fills: int = 64, max_wait_ms: float = 20.0, max_inflight: int = 4,
                 max_retries: int = 5, gas_base: int = 200_000, gas_per_fill: int = 400_000,
                 receipt_timeout: float = 60.0) -> None:
        self.core = core
        self.chain = chain
        self.committer = committer
        self.publish = publish
        self.hub = hub
        self.max_fills = max_fills
        self.max_wait = max_wait_ms / 1000
        self.max_inflight = max_inflight
        self.max_retries = max_retries
        self.gas_base = gas_base
        self.gas_per_fill = gas_per_fill
        self.receipt_timeout = receipt_timeout
        self.queue: deque[int] = deque()
        self.first_wait: float | None = None
        self.wake = asyncio.Event()
        self.slots = asyncio.Semaphore(max_inflight)
        self.tasks: set[asyncio.Task] = set()
        self.batch_seq = 0
        self.attempts: dict[int, int] = {}
        self.stats = {"batches": 0, "settled": 0, "skipped": 0, "reverted": 0,
                      "first_submit_at": 0.0, "last_settled_at": 0.0}  # unix seconds
        self.latencies: list[float] = []
        self.phases: dict[str, list[float]] = {}  # match -> settled seconds, per fill
        self.matched_at: dict[int, float] = {}
        self._runner: asyncio.Task | None = None
        # test hook: awaited at each named point ("after_journal", "after_send"); the crash
        # test passes one that stalls, so it can SIGKILL the keeper there (see stall_at)
        self.crash_point: Callable[[str], Awaitable[None]] | None = None
        self.clock: Callable[[], float] = time.time  # the service gives it chain time

    # -- intake ------------------------------------------------------------------------------
    def add(self, fills: list[FillRecord]) -> None:
        now = time.monotonic()
        for fill in fills:
            if fill.state == MATCHED:
                self.queue.append(fill.id)
                self.matched_at.setdefault(fill.id, now)
        if self.queue:
            if self.first_wait is None:
                self.first_wait = now
            self.wake.set()

    def pending(self) -> int:
        return len(self.queue) + sum(1 for f in self.core.fills.values() if f.state == SUBMITTED)

    # -- loop --------------------------------------------------------------------------------
    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="settlement")

    async def stop(self, drain: float = 0.0) -> None:
        if drain:
            deadline = time.monotonic() + drain
            while (self.queue or self.tasks) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        if self._runner is not None:
            await cancel_and_wait(self._runner)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            if not self.queue:
                self.wake.clear()
                await self.wake.wait()
                continue
            if len(self.queue) < self.max_fills:
                waited = time.monotonic() - (self.first_wait or time.monotonic())
                if waited < self.max_wait:
                    self.wake.clear()
                    try:
                        await asyncio.wait_for(self.wake.wait(), self.max_wait - waited)
                    except asyncio.TimeoutError:
                        pass
                    if len(self.queue) < self.max_fills and time.monotonic() - (self.first_wait or 0) < self.max_wait:
                        continue
            await self.slots.acquire()
            ids = []
            while self.queue and len(ids) < self.max_fills:
                fid = self.queue.popleft()
                fill = self.core.fills.get(fid)  # None: final since it was queued
                if fill is not None and fill.state == MATCHED:
                    ids.append(fid)
            self.first_wait = time.monotonic() if self.queue else None
            if not ids:
                self.slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._submit(ids))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    # -- one batch ---------------------------------------------------------------------------
    async def _submit(self, ids: list[int]) -> None:
        try:
            core, chain = self.core, self.chain
            fills = [core.fills[i] for i in ids]
            calldata = encode_settle(
                (core.orders[f.maker_hash].order, core.orders[f.maker_hash].signature,
                 core.orders[f.taker_hash].order, core.orders[f.taker_hash].signature, f.size)
                for f in fills
            )
            nonce = await chain.nonces.allocate()
            gas = self.gas_base + self.gas_per_fill * len(fills)
            raw, tx_hash = chain.sign(chain.operator, chain.exchange.address, calldata, nonce, gas)
            self.batch_seq += 1
            batch_id = self.batch_seq
            ws = WriteSet()
            ws.batches.append({"id": batch_id, "ts": int(time.time() * 1000), "nonce": nonce, "tx_hash": tx_hash,
                               "raw_tx": raw, "fill_ids": json.dumps(ids), "state": B_SUBMITTED, "attempts": 1})
            for f in fills:
                core.mark_fill(f.id, SUBMITTED, batch_id=batch_id, tx_hash=tx_hash)
                ws.fill_updates.append({"id": f.id, "state": SUBMITTED, "batch_id": batch_id, "tx_hash": tx_hash})
            t_journal = time.perf_counter()
            await self.committer.commit(ws)
            self.phase("journal", t_journal)
            self.stats["batches"] += 1
            if not self.stats["first_submit_at"]:
                self.stats["first_submit_at"] = time.time()
            await self._crash_point("after_journal")
            t_send = time.perf_counter()
            chain.receipts.expect(tx_hash)  # before the broadcast: the node may mine at once
            try:
                await chain.send_raw(raw)
            except RpcError as exc:
                if "already" not in exc.message.lower() and "known" not in exc.message.lower():
                    receipt = await chain.receipt(tx_hash)
                    if receipt is None:
                        chain.receipts.forget(tx_hash)
                        if await chain.tx_unknown(tx_hash):
                            chain.nonces.release(nonce)  # reused by the next tx: no hole
                        await chain.nonces.sync()
                        await self.fail_batch(batch_id, ids, f"send: {exc.message}")
                        return
            self.phase("send", t_send)
            await self._crash_point("after_send")
            t_receipt = time.perf_counter()
            receipt = await chain.receipts.wait(tx_hash, self.receipt_timeout)
            self.phase("receipt", t_receipt)
            if receipt is None:
                # Not mined in time: leave it submitted; recovery/the watchdog resolves it.
                await self.resolve_unknown(batch_id, ids, tx_hash, raw)
                return
            t_finish = time.perf_counter()
            await self.finish(batch_id, ids, receipt)
            self.phase("finish", t_finish)
        finally:
            self.slots.release()

    def phase(self, name: str, started: float) -> None:
        """Seconds spent per batch in each step (journal, send, receipt, finish), for /stats."""
        samples = self.phases.setdefault(name, [])
        if len(samples) < 100_000:
            samples.append(time.perf_counter() - started)

    async def _crash_point(self, name: str) -> None:
        if self.crash_point is not None:
            await self.crash_point(name)

    async def finish(self, batch_id: int, ids: list[int], receipt: dict) -> None:
        core = self.core
        if int(receipt.get("status", "0x1"), 16) == 0:
            self.stats["reverted"] += 1
            reason = await self.revert_reason(receipt)
            log.warning("settle batch %s (%d fills, tx %s) reverted: %s", batch_id, len(ids),
                        receipt.get("transactionHash"), reason)
            await self.fail_batch(batch_id, ids, f"reverted: {reason}")
            return
        outcomes = self.chain.decode_settle_logs(receipt)
        fills = [f for i in ids if (f := core.fills.get(i)) is not None]
        results = _match_outcomes(fills, outcomes)
        ws, out = WriteSet(), Outbox.new()
        now = time.monotonic()
        block = int(receipt["blockNumber"], 16)
        ws.batch_updates.append({"id": batch_id, "state": B_CONFIRMED, "block": block})
        blamed: dict[int, tuple[str, ...]] = {}
        earlier: dict[bytes, int] = {}  # size settled per order hash by this batch so far
        for fill, outcome in zip(fills, results):
            if outcome is None or outcome.settled:
                earlier[fill.maker_hash] = earlier.get(fill.maker_hash, 0) + fill.size
                earlier[fill.taker_hash] = earlier.get(fill.taker_hash, 0) + fill.size
            elif fill.state not in (REJECTED, SETTLED):
                info = core.markets.get(fill.market)
                blamed[fill.id] = await blame(self.chain, outcome.reason, fill, core.orders[fill.maker_hash],
                                              core.orders[fill.taker_hash], block, dict(earlier),
                                              info.initial_margin_bps if info else 0)
                log.warning("fill %s skipped by the chain: %s (blamed: %s)", fill.id, outcome.reason,
                            ", ".join(blamed[fill.id]))
        for fill, outcome in zip(fills, results):
            if outcome is None or outcome.settled:
                # outcome None: no log for it (should not happen): count it settled only if
                # the chain's filled() agrees, checked by recovery; here trust the event set.
                self._settled(fill, ws, out, now)
            else:
                self._rejected(fill, outcome.reason, ws, out, blamed.get(fill.id, BOTH))
        await self.committer.commit(ws, lambda: self._publish_states(fills, out))

    async def revert_reason(self, receipt: dict) -> str:
        """Why a mined tx reverted: the same call replayed at the block before, whose error
        carries the reason string ("exchange: not operator", "exchange: paused", ...)."""
        try:
            tx = await self.chain.rpc.call("eth_getTransactionByHash", [receipt["transactionHash"]])
            block = int(receipt["blockNumber"], 16)
            await self.chain.rpc.call("eth_call", [{"from": tx["from"], "to": tx["to"], "data": tx["input"],
                                                    "gas": tx["gas"]}, hex(max(0, block - 1))])
        except RpcError as exc:
            return exc.message.removeprefix("execution reverted: ")[:200]
        except Exception as exc:  # noqa: BLE001 - the reason is for the log only
            return f"unknown ({exc})"[:200]
        return "unknown (the call succeeds when replayed)"

    def _settled(self, fill: FillRecord, ws: WriteSet, out: Outbox, now: float) -> None:
        core = self.core
        if fill.state == SETTLED:
            return
        core.mark_fill(fill.id, SETTLED)
        ws.fill_updates.append({"id": fill.id, "state": SETTLED})
        core.account(fill.maker_account).settle_fill(fill.market, fill.maker_is_buy, fill.price, fill.size)
        core.account(fill.taker_account).settle_fill(fill.market, not fill.maker_is_buy, fill.price, fill.size)
        core.fill_final(fill, ws)  # out of the live state (the fills table has it)
        self.stats["settled"] += 1
        self.stats["last_settled_at"] = time.time()
        started = self.matched_at.pop(fill.id, None)
        if started is not None:
            self.latencies.append(now - started)

    def _rejected(self, fill: FillRecord, reason: str, ws: WriteSet, out: Outbox,
                  blamed: tuple[str, ...] = BOTH) -> None:
        core = self.core
        if fill.state in (REJECTED, SETTLED):
            return
        core.fill_rejected(core.next_seq(), int(self.clock() * 1000), fill.id, reason, ws, out, blamed)
        ws.fill_updates.append({"id": fill.id, "state": REJECTED, "reason": reason})
        self.stats["skipped"] += 1
        self.matched_at.pop(fill.id, None)

    def _publish_states(self, fills: list[FillRecord], out: Outbox) -> None:
        self.publish(out)
        for fill in fills:
            message = {"type": "fill_state", "fill": fill.to_json()}
            self.hub.publish(("fills", fill.maker_account), message)
            if fill.taker_account != fill.maker_account:
                self.hub.publish(("fills", fill.taker_account), message)
            publish_user_fill(self.hub, fill, "fill_state")  # the authenticated user channel

    async def fail_batch(self, batch_id: int, ids: list[int], error: str) -> None:
        """The batch's tx did not execute (reverted / dropped / unsendable): re-batch its fills."""
        if not error.startswith("reverted"):
            log.warning("settle batch %s (%d fills) failed: %s", batch_id, len(ids), error)
        ws, out = WriteSet(), Outbox.new()
        ws.batch_updates.append({"id": batch_id, "state": B_FAILED, "error": error[:500]})
        requeue = []
        for fid in ids:
            fill = self.core.fills.get(fid)
            if fill is None or fill.state != SUBMITTED:
                continue
            n = self.attempts[fid] = self.attempts.get(fid, 0) + 1
            if n > self.max_retries:
                self._rejected(fill, "reverted", ws, out)
            else:
                self.core.mark_fill(fid, MATCHED)
                ws.fill_updates.append({"id": fid, "state": MATCHED})
                requeue.append(fill)
        await self.committer.commit(ws, lambda: self.publish(out))
        self.add(requeue)

    async def resolve_unknown(self, batch_id: int, ids: list[int], tx_hash: str, raw: str) -> None:
        """A submitted batch without a receipt (after a crash, or a timeout): settle it from chain truth."""
        chain = self.chain
        receipt = await chain.receipt(tx_hash)
        if receipt is None:
            try:
                await chain.send_raw(raw)  # identical tx: mined at most once
            except RpcError:
                pass
            receipt = await chain.wait_receipt(tx_hash, min(self.receipt_timeout, 10.0))
        if receipt is not None:
            await self.finish(batch_id, ids, receipt)
            return
        # The tx is gone and its nonce was used otherwise: whatever the chain settled for these
        # pairs counts, the rest is re-batched.
        fills = [f for i in ids if (f := self.core.fills.get(i)) is not None]
        settled_pairs = await self.settled_pairs(fills)
        ws, out = WriteSet(), Outbox.new()
        now = time.monotonic()
        for fill in fills:
            if (fill.maker_hash, fill.taker_hash) in settled_pairs:
                self._settled(fill, ws, out, now)
        await self.committer.commit(ws, lambda: self.publish(out))
        await self.fail_batch(batch_id, [f.id for f in fills if f.state == SUBMITTED], "dropped")

    async def settled_pairs(self, fills: list[FillRecord]) -> set[tuple[bytes, bytes]]:
        chain = self.chain
        head = await chain.block_number()
        makers = sorted({"0x" + f.maker_hash.hex() for f in fills})
        logs = await chain.get_logs(chain.exchange.address, 0, head, [chain.topics["FillSettled"], makers])
        return {(bytes.fromhex(l["topics"][1][2:]), bytes.fromhex(l["topics"][2][2:])) for l in logs}


def stall_at(spec: str) -> Callable[[str], Awaitable[None]] | None:
    """A crash point from "name:seconds" (the crash test's MMX_TEST_CRASH_POINT, read by the
    command line, not here): stall that long at that point. Empty spec: None."""
    if not spec:
        return None
    name, seconds = spec.split(":")

    async def stall(point: str) -> None:
        if point == name:
            await asyncio.sleep(float(seconds))

    return stall


def _match_outcomes(fills: list[FillRecord], outcomes: list[SettleOutcome]) -> list[SettleOutcome | None]:
    """Pair each fill with its log: logs come in fill order, one per fill, keyed by hashes."""
    results: list[SettleOutcome | None] = []
    j = 0
    for fill in fills:
        found = None
        for k in range(j, len(outcomes)):
            o = outcomes[k]
            if o.maker_hash == fill.maker_hash and o.taker_hash == fill.taker_hash:
                found = o
                j = k + 1
                break
        results.append(found)
    return results
