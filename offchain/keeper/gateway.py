"""The keeper's front door: admission, rate limits, sequencing, group commit, publication.

`place_batch` / `cancel` run admission and the matching engine synchronously on the event
loop (so a command sees exactly the state its predecessors left), collect the journal rows
of the whole tick, and await the group commit. Only after the rows are durable are
acknowledgements returned, stream events published and fills handed to settlement:
"journaled before acknowledged". A journal write error is fatal (the service stops and
recovers from the journal on restart: in-memory state may be ahead of the disk).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from offchain.matching import events as ev
from offchain.stats import percentile
from offchain.order import LIQUIDATION, REDUCE_ONLY, InvalidSignature, Order, Signature, order_hash
from offchain.intent import recover_intent_signer
from offchain.order import ONE_FILL, InvalidSignature
from offchain.wire import (TIFS, AmendRequest, Cancel, CancelByClientId, ScheduleCancel, PlaceRequest, WireError,
                           parse_place)

from . import stages
from .admission import AdmissionContext, Reason, Rejection, check_order, check_signer, recover_all, verify_signer
from .core import Core, OrderStatus, Outbox, SignedOrder
from .journal import Journal, WriteSet
from .ratelimit import RateLimiter


log = logging.getLogger("mmx.keeper.gateway")

# A liquidation order has no signature (the Exchange ignores the field for flag 4); this
# placeholder is what the journal and settlement carry (v 27 survives Signature.from_bytes)
LIQUIDATION_SIGNATURE = Signature(27, 0, 0)
LIQUIDATOR = "liquidation"  # the `signer` of a liquidation order in the keeper's records


class Hub:
    """Publish/subscribe for the streams. A subscriber is an asyncio.Queue of dicts."""

    def __init__(self, max_queue: int = 10_000) -> None:
        self.subs: dict[tuple, set[asyncio.Queue]] = {}
        self.per_channel: dict[str, int] = {}  # channel -> subscriptions
        self.max_queue = max_queue

    def subscribe(self, key: tuple, queue: asyncio.Queue) -> None:
        subs = self.subs.setdefault(key, set())
        if queue not in subs:
            subs.add(queue)
            self.per_channel[key[0]] = self.per_channel.get(key[0], 0) + 1

    def unsubscribe_all(self, queue: asyncio.Queue) -> None:
        # a key whose last subscriber left goes too: clients choose the keys (a fresh
        # account per connection), so kept empty sets would grow without bound
        emptied = []
        for key, subs in self.subs.items():
            if queue in subs:
                subs.discard(queue)
                self.per_channel[key[0]] -= 1
                if not subs:
                    emptied.append(key)
        for key in emptied:
            del self.subs[key]

    def any(self, channel: str) -> bool:
        """Has the channel any subscriber (of any account / market)?"""
        return self.per_channel.get(channel, 0) > 0

    def has(self, key: tuple) -> bool:
        return bool(self.subs.get(key))

    def publish(self, key: tuple, message: dict) -> None:
        subs = self.subs.get(key)
        if not subs:
            return
        message = {"channel": key[0], **message}
        for queue in subs:
            if queue.qsize() < self.max_queue:
                queue.put_nowait(message)
            else:  # a lagging subscriber loses messages rather than the keeper's memory;
                overflow = getattr(queue, "overflow", None)  # a stalled one is shed
                if overflow is not None:                     # (api.Outgoing)
                    overflow()


class GroupCommitter:
    """Collects the WriteSets of one loop iteration and writes them in one transaction on
    a worker thread; a commit's futures resolve (and its `after` callbacks run) only once
    `Journal.write` returned: "journaled before acknowledged".

    No task of its own: `commit` schedules the hand-off for the end of the iteration (so
    the iteration's commits share one transaction), and the journal thread hands the
    result straight back with call_soon_threadsafe, where the waiters are resolved and the
    rows queued meanwhile go to the thread at once. A commit that waited on an asyncio
    task cost its waiters two more loop iterations (the executor future's callback, then
    the task's wake-up), each milliseconds under load (docs/performance.md, "Session 5").
    One transaction at a time, in queue order: the journal stays a prefix of the sequence."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.pending = WriteSet()
        self.waiters: list[tuple[asyncio.Future, Callable[[], None] | None]] = []
        self.stage_records: list[dict] = []  # the waiters' stage records (stages.enabled only)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writing = False  # a transaction is on the journal thread
        self.scheduled = False  # a hand-off is queued on the loop
        self._idle: asyncio.Future | None = None  # stop() waits on it
        self.failed: BaseException | None = None
        self.on_fatal: Callable[[BaseException], None] | None = None
        self.closing = False
        # the last commits' (wall s from hand-off to the loop seeing it done, s inside
        # Journal.write on the thread, of which the thread's CPU s, waiters): /stats
        self.timings: collections.deque = collections.deque(maxlen=4096)

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Flush what is queued, then end the writer (never cancelled mid-write)."""
        self.closing = True
        while self.writing or self.scheduled:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle
        if (self.pending or self.waiters) and self.failed is None:
            self._flush_sync()
        self.executor.shutdown(wait=True)

    def commit(self, ws: WriteSet, after: Callable[[], None] | None = None) -> asyncio.Future:
        """Queue `ws`; the future resolves once it is durable (then `after` runs, in order)."""
        if self.failed is not None:
            raise RuntimeError("journal failed") from self.failed
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()  # lazily, on the loop that uses it
        fut = loop.create_future()
        self.pending.extend(ws)
        self.waiters.append((fut, after))
        if stages.enabled and (rec := stages.current.get()) is not None:
            rec["queued"] = time.perf_counter()
            self.stage_records.append(rec)
        if not self.writing and not self.scheduled:
            self.scheduled = True
            loop.call_soon(self._hand_off)  # after this iteration's other callbacks queued theirs
        return fut

    def _hand_off(self) -> None:
        self.scheduled = False
        if self.writing:
            return
        if self.failed is not None:  # failed from outside (the service lost leadership): write nothing
            self._fail_waiting(self.failed)
        elif self.waiters or self.pending:
            ws, waiters, recs = self.pending, self.waiters, self.stage_records
            self.pending, self.waiters, self.stage_records = WriteSet(), [], []
            self.writing = True
            self.executor.submit(self._on_thread, ws, waiters, recs, time.perf_counter())
            return
        self._wake_stop()

    def _on_thread(self, ws: WriteSet, waiters: list, recs: list, handed: float) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            self.journal.write(ws)
            exc = None
        except BaseException as error:  # noqa: BLE001 - fatal, reported to the service on the loop
            exc = error  # (whatever it is: a write that never reports back would hang stop())
        inside, cpu = time.perf_counter() - started, time.thread_time() - cpu
        try:
            self.loop.call_soon_threadsafe(self._written, waiters, recs, handed, started, inside, cpu, exc)
        except RuntimeError:  # the loop is closed: nobody waits for these any more
            pass

    def _written(self, waiters: list, recs: list, handed: float, started: float, inside: float, cpu: float,
                 exc: BaseException | None) -> None:
        self.writing = False
        resumed = time.perf_counter()
        if exc is not None:
            self.failed = exc
            for fut, _ in waiters:
                if not fut.done():
                    fut.set_exception(RuntimeError(f"journal write failed: {exc}"))
            self._fail_waiting(exc)
            if self.on_fatal is not None:
                self.on_fatal(exc)
            self._wake_stop()
            return
        self.timings.append((resumed - handed, inside, cpu, len(waiters)))
        if recs:
            stages.stamp(recs, "picked", handed)
            stages.stamp(recs, "write_start", started)
            stages.stamp(recs, "written", started + inside)
            stages.stamp(recs, "resumed", resumed)
        for fut, after in waiters:
            if after is not None:
                try:
                    after()
                except Exception:  # noqa: BLE001 - a publisher must not stop commits
                    pass
            if not fut.done():
                fut.set_result(None)
        self._hand_off()  # what was queued meanwhile goes to the thread now

    def _fail_waiting(self, exc: BaseException) -> None:
        waiters, self.waiters, self.pending, self.stage_records = self.waiters, [], WriteSet(), []
        for fut, _ in waiters:
            if not fut.done():
                fut.set_exception(RuntimeError(f"journal failed: {exc}"))

    def _wake_stop(self) -> None:
        if self._idle is not None and not self._idle.done() and not self.writing and not self.scheduled:
            self._idle.set_result(None)

    def _flush_sync(self) -> None:
        ws, waiters = self.pending, self.waiters
        self.pending, self.waiters = WriteSet(), []
        self.journal.write(ws)
        for fut, after in waiters:
            if after is not None:
                after()
            if not fut.done():
                fut.set_result(None)

    def stats(self) -> dict:
        """Percentiles of the recent group commits: `commit` from the hand-off to the journal
        thread until the loop resumes after it (what an ack waits, past the commit in
        progress), `write` inside Journal.write (rows + fsync) and the thread's CPU in it,
        and waiters per commit."""
        if not self.timings:
            return {}
        walls, writes, cpus, waiters = zip(*self.timings)
        return {"journal_commit_p50_ms": percentile(walls, 0.5) * 1000,
                "journal_commit_p99_ms": percentile(walls, 0.99) * 1000,
                "journal_write_p50_ms": percentile(writes, 0.5) * 1000,
                "journal_write_p99_ms": percentile(writes, 0.99) * 1000,
                "journal_write_cpu_p50_ms": percentile(cpus, 0.5) * 1000,
                "journal_write_cpu_p99_ms": percentile(cpus, 0.99) * 1000,
                "journal_waiters_per_commit": sum(waiters) / len(waiters)}


class RecoveryThread:
    """Signature recovery off the event loop's thread (~40-60 us of libsecp256k1 per
    order, the largest single cost of a place) when a loop iteration brings many. The
    requests of one loop iteration form one job: one hand-off and one wake-up per
    iteration, not per order. libsecp256k1 releases the GIL while it recovers, so with a
    free core the loop keeps parsing, sequencing and acking meanwhile. One thread, and a
    job is recovered on the loop only while no earlier job is on the thread: jobs finish
    in the order they were queued and their requests resume in that order, so requests
    are still sequenced in arrival order. Only the recovery moves: the hash before it and
    the signer check after it (agents are live state) stay on the loop.

    Optionally (`inline_max` > 0, MMX_RECOVERY_INLINE_MAX) small work is recovered on
    the loop: a request of at most `inline_max` signatures while no earlier one is
    waiting (`inline`: the gateway recovers it without an await), and a job of at most
    `inline_max` in the callback that would have handed it over. That saves the job's
    requests loop iterations (the flush, the thread's completion, the tasks' wake-up)
    but adds ~40 us a signature to the loop's CPU, and on this project's shared 2-core
    machine the loop's CPU share, not the hops, bounded the latency: in 3 A/B pairs
    inline (32) gave p50 489 / 3,105 / 219 ms against 152 / 411 / 622 ms on the thread,
    the loop's CPU per order 321 / 360 / 275 us against 307 / 253 / 246
    (docs/performance.md, "Session 5"). So the default is 0: always the thread."""

    INLINE_MAX = 32  # the size the A/B tried (a batch message's hundreds still go to the thread)

    def __init__(self, inline_max: int = 0) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recover")
        self.queued: list[tuple[list, asyncio.Future]] = []
        self.inline_max = inline_max
        self.on_thread = 0  # jobs handed to the thread and not yet resolved on the loop
        self.waiting = 0  # requests between recover() and resuming after it (the gateway counts)
        # the last jobs' (s from hand-off to the thread starting it, s recovering, of which
        # CPU s, requests, on the loop?): /stats, where a verification's wait goes
        self.timings: collections.deque = collections.deque(maxlen=4096)

    def inline(self, n: int) -> bool:
        """Should a request of `n` signatures be recovered on the loop right now, without
        an await? Only when it is small and no earlier request is still waiting for (or
        resuming after) a recovery: it is then sequenced now, after all of them, as it
        would be through the queue, and saves the hand-off's loop iterations."""
        return n <= self.inline_max and not self.waiting

    def recover(self, items: list[tuple[bytes, Signature]]) -> asyncio.Future:
        """A future of `recover_all(items)` (signer or None per item)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        if not self.queued:
            loop.call_soon(self._flush, loop)  # after this iteration's other callbacks queued theirs
        self.queued.append((items, fut))
        return fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs, self.queued = self.queued, []
        items = [item for job, _ in jobs for item in job]
        if len(items) <= self.inline_max and not self.on_thread:
            self._resolve(jobs, *self._timed(items, None))
            return
        self.on_thread += 1
        self.executor.submit(self._on_thread, loop, jobs, items, time.perf_counter())

    def _on_thread(self, loop: asyncio.AbstractEventLoop, jobs: list, items: list, handed: float) -> None:
        signers, exc = self._timed(items, handed)
        try:  # straight to the loop: no executor future and no done-callback hop in between
            loop.call_soon_threadsafe(self._thread_done, jobs, signers, exc)
        except RuntimeError:  # the loop is closed: nobody waits for these any more
            pass

    def _thread_done(self, jobs: list, signers: list | None, exc: BaseException | None) -> None:
        self.on_thread -= 1
        self._resolve(jobs, signers, exc)

    def _timed(self, items: list, handed: float | None) -> tuple[list | None, BaseException | None]:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            signers, exc = recover_all(items), None
        except Exception as error:  # noqa: BLE001 - handed to every waiting request
            signers, exc = None, error
        self.timings.append((0.0 if handed is None else started - handed, time.perf_counter() - started,
                             time.thread_time() - cpu, len(items), handed is None))
        return signers, exc

    def stats(self) -> dict:
        """Percentiles of the recent recovery jobs: the wait for the thread, the time
        recovering and the CPU in it (the difference: waiting for the GIL or a core), and
        the share of jobs recovered on the loop."""
        if not self.timings:
            return {}
        waits, walls, cpus, items, inline = zip(*self.timings)
        return {"recovery_wait_p50_ms": percentile(waits, 0.5) * 1000,
                "recovery_job_p50_ms": percentile(walls, 0.5) * 1000,
                "recovery_job_p99_ms": percentile(walls, 0.99) * 1000,
                "recovery_job_cpu_p50_ms": percentile(cpus, 0.5) * 1000,
                "recovery_items_per_job": sum(items) / len(items),
                "recovery_on_loop_share": sum(inline) / len(inline)}

    @staticmethod
    def _resolve(jobs: list[tuple[list, asyncio.Future]], signers: list | None, exc: BaseException | None) -> None:
        at = 0
        for job, fut in jobs:
            mine, at = slice(at, at + len(job)), at + len(job)  # advanced for every job, also a cancelled one
            if fut.done():  # its request was cancelled while waiting
                continue
            if signers is None:
                fut.set_exception(exc or RuntimeError("signature recovery failed"))
            else:
                fut.set_result(signers[mine])

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class Gateway:
    def __init__(self, core: Core, ctx: AdmissionContext, committer: GroupCommitter, hub: Hub,
                 limiter: RateLimiter, *, max_batch: int = 1000, cancel_window_ms: int = 60_000,
                 clock: Callable[[], float] = time.time, recovery: RecoveryThread | None = None) -> None:
        self.core = core
        self.ctx = ctx
        self.committer = committer
        self.hub = hub
        self.limiter = limiter
        self.max_batch = max_batch
        self.cancel_window_ms = cancel_window_ms
        self.clock = clock
        self.recovery = recovery  # None: signatures are recovered on the loop (tests, runners)
        self.fill_sinks: list[Callable[[list], None]] = []
        self.l2_feeds: dict[int, list] = {}  # market -> [seq, bids, asks] (see _l2_feed)
        self.mark_sinks: list[Callable[[int, int], None]] = []
        # called (after the commit) with the fills undone because the chain skipped them
        self.rejected_sinks: list[Callable[[list], None]] = []
        # async loader of accounts' chain snapshots (set by the service); called before
        # admission for accounts seen for the first time.
        self.account_loader: Callable[[set[str]], Any] | None = None
        self.stats = {"accepted": 0, "rejected": 0, "fills": 0}
        self.slice = 256  # orders processed between two yields to the event loop
        # called when the sequencer itself fails (a bug, not client input): the service stops
        self.on_fatal: Callable[[BaseException], None] | None = None

    # -- publication ------------------------------------------------------------------------
    def publish(self, out: Outbox) -> None:
        hub = self.hub
        for account, message in out.order_updates:
            if hub.has(("orders", account)):
                if not isinstance(message, dict):
                    message = {"type": "order", "order": message.to_json()}
                hub.publish(("orders", account), message)
        if out.fills:
            for sink in self.fill_sinks:
                sink(out.fills)
            for fill in out.fills:
                message = {"type": "fill", "fill": fill.to_json()}
                hub.publish(("fills", fill.maker_account), message)
                if fill.taker_account != fill.maker_account:
                    hub.publish(("fills", fill.taker_account), message)
        if out.rejected:
            for sink in self.rejected_sinks:
                sink(out.rejected)
        for market, price, updated_at, moved in out.marks:
            if moved:  # the runners hear of a new price, not of a refresh of the same one
                for sink in self.mark_sinks:
                    sink(market, price)
            hub.publish(("book", market), {"type": "mark", "market": str(market), "price": str(price),
                                           "updated_at": str(updated_at)})
        for market, halted, reason in out.halts:
            hub.publish(("book", market), halt_event(market, halted, reason))
        for market in out.markets:
            if hub.has(("book", market)):
                hub.publish(("book", market), {"type": "book", **self.depth(market, 20)})
        self.publish_channels(out)

    # -- the l2 / trades / user channels (docs/api.md "WebSocket channels") ------------------
    L2_DEPTH = 50  # levels per side an l2 feed tracks

    def l2_subscribe(self, market: int, queue: asyncio.Queue) -> dict:
        """Subscribe `queue` to the market's l2 feed; returns the snapshot to send it first.
        No await between the two: the next delta the queue gets continues this snapshot."""
        feed = self._l2_feed(market)
        self.hub.subscribe(("l2", market), queue)
        return {"channel": "l2", "type": "snapshot", "market": str(market), "seq": feed[0],
                "depth": self.L2_DEPTH, "bids": [[str(p), str(q)] for p, q in feed[1].items()],
                "asks": [[str(p), str(q)] for p, q in feed[2].items()]}

    def _l2_feed(self, market: int) -> list:
        """[seq, bids {price: size} best first, asks]: what the feed's subscribers hold.
        Rebuilt from the book when nobody followed the market (its seq keeps counting)."""
        feed = self.l2_feeds.get(market)
        if feed is None or feed[1] is None:
            bids, asks = self.core.engine.depth(market, self.L2_DEPTH)
            seq = (feed[0] if feed is not None else 0) + 1
            feed = self.l2_feeds[market] = [seq, dict(bids), dict(asks)]
        return feed

    def publish_channels(self, out: Outbox) -> None:
        hub = self.hub
        for market in out.markets:
            if not hub.has(("l2", market)):
                feed = self.l2_feeds.get(market)
                if feed is not None:
                    feed[1] = feed[2] = None  # stale from now on: rebuilt at the next subscribe
                continue
            feed = self._l2_feed(market)
            bids, asks = self.core.engine.depth(market, self.L2_DEPTH)
            new_bids, new_asks = dict(bids), dict(asks)
            d_bids, d_asks = _level_delta(feed[1], new_bids), _level_delta(feed[2], new_asks)
            if d_bids or d_asks:
                feed[0] += 1
                feed[1], feed[2] = new_bids, new_asks
                hub.publish(("l2", market), {"type": "delta", "market": str(market), "seq": feed[0],
                                             "bids": d_bids, "asks": d_asks})
        for fill in out.fills:
            if hub.has(("trades", fill.market)):
                hub.publish(("trades", fill.market), {
                    "type": "trade", "market": str(fill.market), "id": fill.id, "price": str(fill.price),
                    "size": str(fill.size), "taker_side": "sell" if fill.maker_is_buy else "buy", "ts": fill.ts})
        for fill in out.rejected:
            if hub.has(("trades", fill.market)):
                hub.publish(("trades", fill.market), {"type": "trade_undone", "market": str(fill.market),
                                                      "id": fill.id, "reason": fill.reason})
        if not hub.any("user"):
            return
        events: dict[bytes, list] = {}
        for h, name, reason, size, price in out.order_events:
            item = {"event": name}
            if reason:
                item["reason"] = reason
            if size:
                item["size"] = size
            if price:
                item["price"] = price
            events.setdefault(h, []).append(item)
        orders = self.core.orders
        # an order that finished in this step may have left the live state already
        finished = {m.hash: m for _, m in out.order_updates if isinstance(m, SignedOrder)}
        for h, items in events.items():
            signed = orders.get(h) or finished.get(h)
            if signed is None:
                continue
            account = signed.order.account
            if hub.has(("user", account)):
                hub.publish(("user", account), {"type": "order", "account": account, "events": items,
                                                "order": signed.to_json()})
        for fill in out.fills:
            publish_user_fill(hub, fill, "fill")

    def depth(self, market: int, n: int) -> dict:
        bids, asks = self.core.engine.depth(market, n)
        return {
            "market": str(market),
            "bids": [[str(p), str(s)] for p, s in bids],
            "asks": [[str(p), str(s)] for p, s in asks],
            "seq": self.core.seq,
        }

    async def run_command(self, fn: Callable[[WriteSet, Outbox], Any]) -> Any:
        """Run a journaled command built by `fn(ws, out)`, commit, publish, return its result."""
        ws, out = WriteSet(), Outbox.new()
        result = fn(ws, out)
        await self.committer.commit(ws, lambda: self.publish(out))
        return result

    # -- orders -----------------------------------------------------------------------------
    def parse(self, items: Any) -> list[PlaceRequest]:
        """A whole place request as typed values (`offchain.wire` rules), or Rejection(422)
        naming the first bad field: nothing of a request is sequenced unless all of it parses.
        Items are API dicts, `PlaceRequest`s or (Order, Signature, tif) tuples (runners)."""
        if not isinstance(items, list):
            raise Rejection("orders must be a list", 422)
        if len(items) > self.max_batch:
            raise Rejection(f"batch larger than {self.max_batch}", 413)
        requests = []
        for n, item in enumerate(items):
            if isinstance(item, PlaceRequest):
                requests.append(item)
            elif isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], Order) \
                    and isinstance(item[1], Signature) and item[2] in TIFS:
                requests.append(PlaceRequest(item[0], item[1], item[2]))
            else:
                try:
                    requests.append(parse_place(item, f"orders[{n}]" if len(items) > 1 else ""))
                except WireError as exc:
                    raise Rejection(str(exc), 422) from None
        return requests

    async def _load_signed(self, requests: list[PlaceRequest], verified: list) -> list:
        """Load (read from chain) the accounts of the validly signed requests that are not
        loaded yet, and only those: a signature needs no account snapshot (the agent sets
        come from the watcher's AgentSet scan), so a forged order naming a random address
        costs no RPC read and leaves no account state behind. After the load's await the
        signers are checked again against the agents as they are then (a revocation may
        have landed meanwhile)."""
        accounts = self.core.accounts
        missing = {req.order.account for req, v in zip(requests, verified) if not isinstance(v, Rejection)
                   and (req.order.account not in accounts or not accounts[req.order.account].loaded)}
        if not missing:
            return verified
        await self.account_loader(missing)
        out: list = []
        for req, v in zip(requests, verified):
            if not isinstance(v, Rejection):
                try:
                    check_signer(req.order, v[1], accounts.get(req.order.account))
                except Rejection as exc:
                    v = exc
            out.append(v)
        return out

    def _verify(self, requests: list[PlaceRequest]) -> list:
        """Each request's (hash, signer), or the Rejection its signature earned."""
        accounts, ctx = self.core.accounts, self.ctx
        out: list = []
        for req in requests:
            try:
                out.append(verify_signer(req.order, req.signature, accounts.get(req.order.account), ctx))
            except Rejection as exc:
                out.append(exc)
        return out

    async def _verify_off_loop(self, requests: list[PlaceRequest]) -> list:
        """`_verify`'s results, with the recoveries done on the recovery thread."""
        domain = self.ctx.domain
        digests = [order_hash(req.order, domain) for req in requests]
        recovery = self.recovery
        recovery.waiting += len(requests)
        try:
            signers = await recovery.recover([(d, req.signature) for d, req in zip(digests, requests)])
        finally:
            recovery.waiting -= len(requests)
        accounts = self.core.accounts  # read after the await: the agents as they are now
        out: list = []
        for req, digest, signer in zip(requests, digests, signers):
            try:
                out.append((digest, check_signer(req.order, signer, accounts.get(req.order.account))))
            except Rejection as exc:
                out.append(exc)
        return out

    def _admit_one(self, req: PlaceRequest, verified, now_s: int, ts: int, ws: WriteSet, out: Outbox) -> dict:
        order = req.order
        try:
            admitted = check_order(order, req.signature, self.core.accounts.get(order.account), self.ctx, now_s,
                                   verified)
        except Rejection as exc:
            return {"status": "rejected", "reason": exc.reason}
        if admitted.hash in self.core.seen:
            return {"status": "rejected", "reason": Reason.DUPLICATE, "hash": "0x" + admitted.hash.hex()}
        if req.intent is not None:
            try:  # the intent must be the order signer's own (offchain/intent.py)
                intent_signer = recover_intent_signer(admitted.hash, req.intent, self.ctx.domain,
                                                      req.intent_signature)
            except InvalidSignature:
                intent_signer = None
            if intent_signer != admitted.signer:
                return {"status": "rejected", "reason": Reason.BAD_INTENT_SIGNATURE}
        if req.client_id and (order.account, req.client_id) in self.core.client_ids:
            return {"status": "rejected", "reason": Reason.DUPLICATE_CLIENT_ID}
        if order.flags & ONE_FILL and (refusal := self.core.one_fill_refusal(order, req.tif, req.intent)):
            return {"status": "rejected", "reason": refusal}
        signed = SignedOrder(admitted.hash, order, req.signature, admitted.signer, self.core.next_seq(), req.tif,
                             req.intent, req.intent_signature, req.client_id or "")
        n_fills = len(out.fills)
        self.core.place(signed, ts, ws, out)
        if signed.status == OrderStatus.REJECTED:
            reason = next((m["reason"] for a, m in reversed(out.order_updates)
                           if isinstance(m, dict) and m.get("type") == "rejected" and m.get("hash") == signed.hex),
                          "rejected")
            return {"status": "rejected", "reason": reason, "hash": signed.hex}
        ack = {"status": "accepted", "hash": signed.hex, "seq": signed.seq, "fills": len(out.fills) - n_fills,
               "open": str(signed.open), "order_status": signed.status}
        if signed.client_id:
            ack["client_id"] = signed.client_id  # echoed (docs/api.md)
        return ack

    async def place_batch(self, items: list) -> list[dict]:
        """Place signed orders; each item is an API dict, a PlaceRequest or an
        (Order, Signature, tif) tuple. One result per item, in order.

        1. the whole request is parsed (a bad item refuses the request: Rejection 422/413);
        2. the accounts named are loaded; every signature is verified;
        3. the rate limit is charged per account for its orders with a valid signature
           (a forged order naming a victim costs the victim nothing), all or nothing;
        4. admission and matching, item by item, in slices; each slice's rows are queued
           for commit before the loop yields.
        Nothing raises past step 1 except a fault inside the sequencer itself, which is
        fatal: the keeper stops without journaling the faulty command, so the journal stays
        a gap-free prefix and a restart rebuilds the state before it."""
        requests = self.parse(items)
        stages.mark("parsed")
        if self.recovery is None or self.recovery.inline(len(requests)):
            verified = self._verify(requests)  # no await: sequenced now, nobody earlier is still recovering
        else:
            verified = await self._verify_off_loop(requests)
        stages.mark("verified")
        if self.account_loader is not None:
            verified = await self._load_signed(requests, verified)
        mono = time.monotonic()
        counts: dict[str, int] = {}
        for req, v in zip(requests, verified):
            if not isinstance(v, Rejection):
                counts[req.order.account] = counts.get(req.order.account, 0) + 1
        limited = {a for a, n in counts.items() if not self.limiter.take(a, n, mono)}
        now = self.clock()
        now_s, ts = int(now), int(now * 1000)
        ws, out = WriteSet(), Outbox.new()
        results: list[dict] = []
        slices: list[asyncio.Future] = []
        try:
            for n, req in enumerate(requests):
                if n and n % self.slice == 0:
                    # Let settlement, the watcher and other requests run between slices of a big
                    # batch. The slice's rows are queued for commit FIRST: commands that run in
                    # the gap get later sequence numbers and must not reach the journal before
                    # ours (the journal must always be a prefix of the sequence).
                    if ws:
                        slices.append(self.committer.commit(ws))
                        ws = WriteSet()
                    await asyncio.sleep(0)
                    now = self.clock()
                    now_s, ts = int(now), int(now * 1000)
                if req.order.account in limited and not isinstance(verified[n], Rejection):
                    results.append({"status": "rejected", "reason": Reason.RATE_LIMITED})
                    continue
                results.append(self._admit_one(req, verified[n], now_s, ts, ws, out))
        except Exception as exc:
            # A fault in the sequencer (not client input: that was parsed and admitted).
            # The faulty command's rows are dropped, the rows before it are committed.
            self._sequencer_fault(exc, ws)
            await asyncio.gather(*slices, return_exceptions=True)
            raise Rejection(Reason.INTERNAL, 500) from exc
        accepted = sum(1 for r in results if r["status"] == "accepted")
        self.stats["accepted"] += accepted
        self.stats["rejected"] += len(results) - accepted
        self.stats["fills"] += len(out.fills)
        if ws or slices:
            slices.append(self.committer.commit(ws, lambda: self.publish(out)))
            # one commit (every small request): its future, without gather's wrapper future
            await (slices[0] if len(slices) == 1 else asyncio.gather(*slices))
        return results

    def _sequencer_fault(self, exc: BaseException, ws: WriteSet) -> None:
        """In-memory state may be ahead of what can be journaled: stop (fatal), after
        committing the complete commands of `ws` (those before the faulty sequence number)."""
        log.critical("sequencer fault at seq %d, stopping: %r", self.core.seq, exc)
        bad = self.core.seq
        keep = WriteSet()
        keep.commands = [c for c in ws.commands if c["seq"] < bad]
        keep.orders = [o for o in ws.orders if o["seq"] < bad]
        keep.fills = [f for f in ws.fills if f["seq"] < bad]
        if keep:
            self.committer.commit(keep)
        if self.on_fatal is not None:
            self.on_fatal(exc)

    async def place(self, item: Any) -> dict:
        results = await self.place_batch([item])
        result = results[0]
        if result["status"] == "rejected" and result["reason"] == Reason.RATE_LIMITED:
            raise Rejection(Reason.RATE_LIMITED, 429)
        return result

    # -- liquidation orders -----------------------------------------------------------------
    async def place_liquidation(self, order: Order) -> dict:
        """Place the liquidation runner's unsigned order as a reduce-only IOC (docs/liquidation.md,
        "Book liquidations"). The Exchange settles an order flagged LIQUIDATION without the
        account's signature, only while the account is liquidatable. It is journaled like any
        place (signature LIQUIDATION_SIGNATURE, signer LIQUIDATOR), so replay rebuilds it. It
        is reachable only from the runner: admission refuses the flag from clients.
        Returns {status, hash, fills: [fill ids], reason?}."""
        core = self.core
        info = core.markets.get(order.market)
        h = order_hash(order, self.ctx.domain)
        if order.flags != LIQUIDATION | REDUCE_ONLY or info is None or order.size <= 0 \
                or order.size % info.lot or order.price <= 0 or order.price % info.tick:
            return {"status": "rejected", "reason": Reason.INVALID_SIZE if info else Reason.UNKNOWN_MARKET,
                    "hash": "0x" + h.hex(), "fills": []}
        if core.is_halted(order.market):
            return {"status": "rejected", "reason": Reason.HALTED, "hash": "0x" + h.hex(), "fills": []}
        if h in core.seen:
            return {"status": "rejected", "reason": Reason.DUPLICATE, "hash": "0x" + h.hex(), "fills": []}
        ts = int(self.clock() * 1000)

        def run(ws: WriteSet, out: Outbox) -> dict:
            signed = SignedOrder(h, order, LIQUIDATION_SIGNATURE, LIQUIDATOR, core.next_seq(), "IOC")
            n = len(out.fills)
            core.place(signed, ts, ws, out)
            fills = [f.id for f in out.fills[n:]]
            if signed.status == OrderStatus.REJECTED:
                reason = next((m["reason"] for a, m in reversed(out.order_updates)
                               if isinstance(m, dict) and m.get("type") == "rejected"), "rejected")
                return {"status": "rejected", "reason": reason, "hash": signed.hex, "fills": []}
            return {"status": "accepted", "hash": signed.hex, "fills": fills}

        return await self.run_command(run)

    # -- cancels ----------------------------------------------------------------------------
    async def cancel(self, cancel: Cancel, signature: Signature) -> dict:
        now_ms = int(self.clock() * 1000)
        self._check_signed(cancel, signature)
        if not self.limiter.take(cancel.account, max(1, len(cancel.hashes)), time.monotonic()):
            raise Rejection(Reason.RATE_LIMITED, 429)
        state = self.core.account(cancel.account)
        if not cancel.hashes:
            if cancel.timestamp <= state.last_cancel_all:
                raise Rejection(Reason.REPLAYED_CANCEL)
            state.last_cancel_all = cancel.timestamp
        hashes = list(cancel.hashes)

        def run(ws: WriteSet, out: Outbox):
            events = self.core.cancel(self.core.next_seq(), now_ms, cancel.account, hashes, cancel.market, ws, out,
                                      timestamp=0 if hashes else cancel.timestamp)
            return sorted({"0x" + e.order_id.hex() for e in events if type(e) is ev.Cancelled})

        cancelled = await self.run_command(run)
        return {"status": "ok", "cancelled": cancelled}


    # -- amend ------------------------------------------------------------------------------
    async def amend(self, req: AmendRequest) -> dict:
        """Replace a live order by a new signed order in one sequenced command (docs/api.md
        "Amend"). Everything is checked before anything is sequenced: the replacement as
        any new order (its margin without the old order's open size), the Amend binding's
        signer, and that the old order is the same account's, live, in the same market and
        side; a refusal changes nothing."""
        place = req.place
        order = place.order
        (verified,) = self._verify([place])  # before any load: as place_batch (_load_signed)
        if isinstance(verified, Rejection):
            raise verified
        if self.account_loader is not None:
            (verified,) = await self._load_signed([place], [verified])
            if isinstance(verified, Rejection):
                raise verified
        core = self.core
        accounts = core.accounts
        try:
            amend_signer = req.signer(self.ctx.domain)
        except InvalidSignature:
            amend_signer = None
        state = accounts.get(order.account)
        if amend_signer != order.account and (state is None or amend_signer not in state.agents):
            raise Rejection(Reason.BAD_SIGNATURE)
        if not self.limiter.take(order.account, 1, time.monotonic()):
            raise Rejection(Reason.RATE_LIMITED, 429)
        old = core.orders.get(req.replaces)
        if old is None and req.replaces in core.seen:
            # finished, so out of the live state: its final status is in the journal
            found = await asyncio.to_thread(self.committer.journal.order, "0x" + req.replaces.hex())
            if found is not None and found[0].account != order.account:
                raise Rejection(Reason.NOT_YOUR_ORDER)
            if found is not None and found[1] is not None and found[1].status == OrderStatus.FILLED:
                raise Rejection(Reason.ORDER_FILLED)
            raise Rejection(Reason.ORDER_CLOSED)
        if old is None:
            raise Rejection(Reason.UNKNOWN_ORDER, 404)
        if old.order.account != order.account:
            raise Rejection(Reason.NOT_YOUR_ORDER)
        if old.status == OrderStatus.FILLED:
            raise Rejection(Reason.ORDER_FILLED)
        if old.status not in (OrderStatus.OPEN, OrderStatus.WAITING):
            raise Rejection(Reason.ORDER_CLOSED)
        if old.order.market != order.market or old.order.is_buy != order.is_buy:
            raise Rejection(Reason.AMEND_MISMATCH)
        if place.intent is not None and place.intent.kind == "market":
            raise Rejection(Reason.NOT_AMENDABLE)
        now = self.clock()
        now_s, ts = int(now), int(now * 1000)
        # margin as after the amend: the old order's open size is not counted twice
        state = core.account(order.account)
        side = state.open_buy if old.order.is_buy else state.open_sell
        market = old.order.market
        side[market] = side.get(market, 0) - old.open
        try:
            admitted = check_order(order, place.signature, state, self.ctx, now_s, verified)
        finally:
            side[market] += old.open
        if order.flags & ONE_FILL:  # a replacement rests or keeps a queue place: never single-fill
            raise Rejection(Reason.ONE_FILL)
        if admitted.hash in core.seen:
            raise Rejection(Reason.DUPLICATE, 409)
        if place.intent is not None:
            try:
                intent_signer = recover_intent_signer(admitted.hash, place.intent, self.ctx.domain,
                                                      place.intent_signature)
            except InvalidSignature:
                intent_signer = None
            if intent_signer != admitted.signer:
                raise Rejection(Reason.BAD_INTENT_SIGNATURE)
        cid = place.client_id
        if cid and core.client_ids.get((order.account, cid), old.hash) != old.hash:
            raise Rejection(Reason.DUPLICATE_CLIENT_ID, 409)

        def run(ws: WriteSet, out: Outbox) -> dict:
            new = SignedOrder(admitted.hash, order, place.signature, admitted.signer, core.next_seq(), place.tif,
                              place.intent, place.intent_signature, place.client_id or "")
            n_fills = len(out.fills)
            priority, reason = core.amend(old, new, ts, ws, out)
            if reason is not None:
                return {"status": "rejected", "reason": reason, "hash": new.hex, "replaces": old.hex}
            ack = {"status": "accepted", "hash": new.hex, "replaces": old.hex, "priority": priority,
                   "seq": new.seq, "fills": len(out.fills) - n_fills, "open": str(new.open),
                   "order_status": new.status}
            if new.client_id:
                ack["client_id"] = new.client_id
            return ack

        return await self.run_command(run)

    def _check_signed(self, message, signature: Signature) -> None:
        """A timestamped message (Cancel, CancelByClientId, ScheduleCancel) is fresh (within the cancel
        window of our wall clock: the client's timestamp is its wall clock, not chain time)
        and signed by its account or one of its agents; else Rejection."""
        if abs(int(time.time() * 1000) - message.timestamp) > self.cancel_window_ms:
            raise Rejection(Reason.STALE_TIMESTAMP)
        try:
            signer = message.signer(self.ctx.domain, signature)
        except InvalidSignature:
            raise Rejection(Reason.BAD_SIGNATURE) from None
        state = self.core.accounts.get(message.account)
        if signer != message.account and (state is None or signer not in state.agents):
            raise Rejection(Reason.BAD_SIGNATURE)

    # -- cancel by client id --------------------------------------------------------------
    async def cancel_by_client_id(self, message: CancelByClientId, signature: Signature) -> dict:
        """Signed cancel of the account's orders named by client id. Replay-protected: the
        timestamp must be within the cancel window and above the account's previous
        cancel-by-client-id (journaled, so a restart keeps the floor)."""
        now_ms = int(self.clock() * 1000)
        self._check_signed(message, signature)
        if message.timestamp <= self.core.cid_cancel_ts.get(message.account, 0):
            raise Rejection(Reason.REPLAYED_CANCEL)
        if not self.limiter.take(message.account, len(message.client_ids), time.monotonic()):
            raise Rejection(Reason.RATE_LIMITED, 429)
        core = self.core
        found = {c: core.client_ids.get((message.account, c)) for c in message.client_ids}
        hashes = list(dict.fromkeys(h for h in found.values() if h is not None))

        def run(ws: WriteSet, out: Outbox):
            events = core.cancel(core.next_seq(), now_ms, message.account, hashes, 0, ws, out,
                                 timestamp=message.timestamp, client_ids=list(message.client_ids))
            return sorted({"0x" + e.order_id.hex() for e in events if type(e) is ev.Cancelled})

        cancelled = await self.run_command(run)
        return {"status": "ok", "cancelled": cancelled,
                "unknown": [c for c, h in found.items() if h is None]}

    # minimum distance of a schedule-cancel deadline from now (a switch that fires at once is a mistake)
    MIN_SCHEDULE_MS = 5_000

    async def schedule_cancel(self, message: ScheduleCancel, signature: Signature) -> dict:
        """Set or clear the account's dead-man's switch (docs/api.md "Schedule-cancel")."""
        now_ms = int(self.clock() * 1000)
        self._check_signed(message, signature)
        if message.timestamp <= self.core.schedule_ts.get(message.account, 0):
            raise Rejection(Reason.REPLAYED_CANCEL)
        if message.deadline and message.deadline < now_ms + self.MIN_SCHEDULE_MS:
            raise Rejection(Reason.DEADLINE_TOO_SOON)
        if not self.limiter.take(message.account, 1, time.monotonic()):
            raise Rejection(Reason.RATE_LIMITED, 429)

        def run(ws: WriteSet, out: Outbox):
            self.core.schedule_cancel(self.core.next_seq(), now_ms, message.account, message.deadline,
                                      message.timestamp, ws, out)

        await self.run_command(run)
        return {"status": "ok", "deadline": str(message.deadline)}


def _level_delta(old: dict, new: dict) -> list:
    """[[price, size]] of the levels that changed from `old` to `new` (size 0: gone)."""
    changed = [[str(p), str(q)] for p, q in new.items() if old.get(p) != q]
    changed += [[str(p), "0"] for p in old if p not in new]
    return changed


def publish_user_fill(hub: Hub, fill, kind: str) -> None:
    """A fill (`fill`: matched) or its settlement state (`fill_state`) on both sides' user
    channels (once when both sides are one account)."""
    message = {"type": kind, "fill": fill.to_json()}
    for account in {fill.maker_account, fill.taker_account}:
        if hub.has(("user", account)):
            hub.publish(("user", account), {**message, "account": account})


def halt_event(market: int, halted: bool, reason: str) -> dict:
    """The book channel's `halt` event (a market halted or resumed by the Oracle)."""
    return {"type": "halt", "market": str(market), "halted": halted, "reason": reason}
