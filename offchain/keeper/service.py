"""The keeper service: wires journal, chain, matching, settlement, watcher, oracle feed and
API on one asyncio loop, recovers from the journal at start, shuts down gracefully.

Start-up order (the recovery procedure, docs/keeper.md):
 1. open the journal; connect to the chain; read the market registry;
 2. replay every journaled command in sequence order into a fresh Engine (books, orders,
    fills with their ids, account views are rebuilt exactly);
 3. overwrite each fill's state from the journal's fills table;
 4. rebuild agent sets from AgentSet logs; read the Oracle's max_age and each market's
    halted state (a change from the replayed state is journaled); load the chain snapshot
    of every known account;
 5. resolve every `submitted` batch against the chain (receipt, identical re-broadcast,
    FillSettled logs) BEFORE any new batch takes a nonce;
 6. queue every `matched` fill for settlement; start watcher, feed, settlement, API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from offchain.devnet import listen_socket
from offchain.matching import Engine
from offchain.order import Domain

from .admission import AdmissionContext
from .chain import Chain
from .config import ApiConfig, KeeperConfig
from .core import Core, Outbox, market_config
from .gateway import Gateway, GroupCommitter, Hub, RecoveryThread
from .http_server import HttpBounds, protocol_class
from .journal import B_SUBMITTED, MATCHED, REJECTED, SETTLED, SUBMITTED, Journal, WriteSet, make_engine, normalize_url
from .leader import Leadership, NotLeader
from .keys import Key, load_key
from .oracle_feed import CsvReplaySource, OracleFeed, RandomWalkSource
from .preflight import StartupError, preflight
from .ratelimit import RateLimiter
from .settlement import Settlement
from .snapshotter import ForkedSnapshot, SnapshotFailed, can_fork
from .watcher import Watcher, refresh_accounts

log = logging.getLogger("mmx.keeper")

def uvicorn_options(api: ApiConfig | None = None) -> dict:
    """The API server's uvicorn settings (tests serve the API with the same ones).

    - WebSocket: no permessage-deflate, as the keeper's messages are a few hundred bytes and
      compressing each ack cost ~15 us of the event loop per order in the open-loop bench
      (docs/performance.md);
    - HTTP: h11 with the deadlines and per-IP count of http_server (slow and idle clients,
      docs/api.md), a request head of at most 16 KiB (h11's default, stated: over it 400),
      an idle keep-alive connection closed after 5 s (uvicorn's default, stated).
      `limit_concurrency` stays off: it counts open connections, idle ones too, so with it
      a client's idle sockets would get everyone else's requests answered 503."""
    api = api or ApiConfig()
    bounds = HttpBounds(head_timeout_s=api.head_timeout_s, body_timeout_s=api.body_timeout_s,
                        send_stall_s=api.send_stall_s, max_connections_per_ip=api.http_max_connections)
    return {"ws": "websockets-sansio", "ws_per_message_deflate": False,
            "http": protocol_class(bounds), "h11_max_incomplete_event_size": 16 * 1024,
            "timeout_keep_alive": 5}


UVICORN_OPTIONS = uvicorn_options()


class Runner(Protocol):
    """Hook for strategy runners (pool grid, vault quoting) living inside the keeper.

    The service calls these on its loop; a runner places orders through
    `keeper.gateway.place_batch([(Order, Signature, tif), ...])` signed with an agent key
    from `keeper.agent_keys`. Exceptions are logged and do not stop the keeper.

    Optional: `async def on_fill_rejected(self, fill)`: a fill `on_fill` reported was
    skipped by the chain and undone in the keeper (its orders' remainders left the book);
    called after the `fill_rejected` command is committed. A runner without it is not
    told. `on_chain_log` gets the pool's, the factory's and every watched vault's logs,
    plus the Exchange's account-config logs (AgentSet, CloseOnlySet, LeverageCapSet,
    PositionCapSet).
    """

    async def on_start(self, keeper: "Keeper") -> None: ...
    async def on_mark(self, market: int, price: int) -> None: ...
    async def on_fill(self, fill: Any) -> None: ...
    async def on_timer(self, now: float) -> None: ...
    async def on_chain_log(self, log: dict) -> None: ...
    async def on_stop(self) -> None: ...


def configured_runners(config: KeeperConfig) -> list[Runner]:
    """The strategy runners the config's [runners] section asks for."""
    from .runners import PoolGridRunner, VaultRunner

    runners: list[Runner] = []
    if config.runners.pool:
        runners.append(PoolGridRunner())
    if config.runners.vaults:
        runners.append(VaultRunner())
    if config.runners.liquidation:
        from .runners.liquidation import LiquidationRunner

        liq = config.liquidation
        runners.append(LiquidationRunner(liq.params(), near_bps=liq.near_bps, full_scan_s=liq.full_scan_s,
                                         book=liq.book))
    if config.runners.backstop_unwind:
        from .runners.backstop import BackstopUnwindRunner

        runners.append(BackstopUnwindRunner())
    if config.funding.enabled:
        from offchain.funding.keeper import FundingKeeperRunner

        runners.append(FundingKeeperRunner(config.funding.params()))
    return runners


@dataclass
class RecoveryReport:
    snapshot_seq: int = 0  # the snapshot restored (0: none); `commands` replayed after it
    commands: int = 0
    fills: int = 0
    batches_resolved: int = 0
    requeued: int = 0
    seconds: float = 0.0  # from winning leadership (PostgreSQL) or from start, to serving
    standby_s: float = 0.0  # time spent as a standby, waiting for the leader lock


class Keeper:
    def __init__(self, config: KeeperConfig, *, operator: Key | None = None, reporter: Key | None = None,
                 agents: list[Key] | None = None, runners: list[Runner] | None = None,
                 serve_api: bool = True, crash_point=None) -> None:
        self.config = config
        self.operator = operator or load_key(config.keys.operator)
        self.reporter = reporter or (load_key(config.keys.reporter) if config.keys.reporter else self.operator)
        self.agent_keys = agents if agents is not None else [load_key(s) for s in config.keys.agents]
        self.runners = list(runners) if runners is not None else configured_runners(config)
        self.serve_api = serve_api
        self.crash_point = crash_point  # test hook for Settlement (settlement.stall_at)
        self.recovery = RecoveryReport()
        self.stopped = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.server = None
        self.api_port = 0  # the port the API is bound to, once it started (config port 0: the OS's pick)
        self.feed: OracleFeed | None = None
        self.funding = None  # offchain.funding.keeper.FundingKeeperRunner sets itself here
        self.leadership: Leadership | None = None  # PostgreSQL journal: the leader lock
        self.role = "starting"  # starting | standby | leader
        self._stopping = False
        self._start_failed: BaseException | None = None
        self._snapshotting: asyncio.Task | None = None  # the snapshot being written (one at a time)
        self.snapshot_stats: dict = {}  # fork_ms (the loop's share, worst), written, last_seq

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> "Keeper":
        cfg = self.config
        t0 = time.monotonic()
        self.chain = Chain(cfg.chain.rpc_url, cfg.contracts, self.operator, self.reporter)
        await self.chain.connect()
        try:  # before the journal is opened: a refused start leaves nothing behind
            await preflight(self.chain, cfg.contracts,
                            reporter_needed=cfg.oracle.source != "none" and bool(cfg.contracts.oracle))
        except StartupError:
            await self.chain.close()
            raise
        if normalize_url(cfg.journal.url).startswith("postgresql"):
            await self._lead()  # a standby waits here until the leader's lock is free
            t0 = time.monotonic()
        self.journal = Journal(cfg.journal.url, leadership=self.leadership)
        await self._warn_automine_lag()
        markets = await self.chain.markets()
        from offchain.risk.tiers_chain import markets_with_tiers  # margin tiers (docs/exchange.md)

        markets = await markets_with_tiers(self.chain, markets, cfg.chain.start_block)
        self.engine = Engine([market_config(info) for info in markets.values()])
        self.core = core = Core(self.engine, markets)
        self.domain = Domain(self.chain.chain_id, self.chain.exchange.address)
        self.hub = Hub(max_queue=cfg.api.ws_max_queue)
        self.committer = GroupCommitter(self.journal)
        self.committer.on_fatal = self._fatal
        ctx = AdmissionContext(self.domain, markets, core.marks, oracle=core.oracle, crosses=core.crosses,
                               chain_orders=core.chain_orders)
        self.gateway = Gateway(core, ctx, self.committer, self.hub,
                               RateLimiter(cfg.api.rate, cfg.api.burst), max_batch=cfg.api.max_batch,
                               cancel_window_ms=cfg.api.cancel_window_s * 1000, clock=self.clock,
                               recovery=self._recovery_thread() if cfg.api.recovery_thread else None)
        self.gateway.account_loader = self._load_accounts
        self.gateway.on_fatal = self._fatal
        s = cfg.settlement
        self.settlement = Settlement(core, self.chain, self.committer, self.gateway.publish, self.hub,
                                     max_fills=s.max_fills, max_wait_ms=s.max_wait_ms, max_inflight=s.max_inflight,
                                     max_retries=s.max_retries, gas_base=cfg.chain.gas_limit_base,
                                     gas_per_fill=cfg.chain.gas_limit_per_fill,
                                     receipt_timeout=cfg.chain.receipt_timeout)
        self.settlement.clock = self.clock
        self.settlement.crash_point = self.crash_point
        self.replay()
        self.committer.start()
        if core.seq == 0:  # a fresh journal: its first commands are the registry it starts from
            await self.gateway.run_command(lambda ws, out: core.journal_registry(int(self.clock() * 1000), ws, out))
        self.watcher = Watcher(core, self.chain, self.committer, self.gateway.publish,
                               self.journal.cursor("watcher"), confirmations=cfg.chain.confirmations,
                               poll_interval=cfg.chain.poll_interval, start_block=cfg.chain.start_block,
                               extra_addresses=[cfg.contracts.pool], factory=cfg.contracts.factory,
                               on_log=self._on_chain_log, clock=self.clock)
        await self.watcher.load_agents()
        await self.watcher.load_chain_orders()
        await self.watcher.load_watched()
        await self.watcher.load_oracle()
        await self._load_accounts(set(core.accounts), force=True)
        await self.watcher.poll()
        await self.recover_batches()
        # the batches are resolved and settlement has not started: the engine's positions
        # (reduce-only) from the chain wherever no fill is in flight
        self.watcher.position_dirty |= await self.sync_positions(set(core.accounts))
        self.watcher.position_sync = self.sync_positions
        matched = [f for f in core.fills.values() if f.state == MATCHED]
        self.recovery.requeued = len(matched)
        self.gateway.fill_sinks.append(self.settlement.add)
        self.gateway.fill_sinks.append(self._fills_to_runners)
        self.gateway.mark_sinks.append(self._mark_to_runners)
        self.gateway.rejected_sinks.append(self._rejected_to_runners)
        self.settlement.add(matched)
        self.settlement.start()
        self.watcher.start()
        if cfg.oracle.source != "none" and cfg.contracts.oracle:
            self.feed = OracleFeed(self.chain, await self._price_source(), cfg.oracle.interval)
            self.feed.start()
        self._tasks.append(asyncio.get_running_loop().create_task(self._timer(), name="timer"))
        for runner in self.runners:
            await runner.on_start(self)
        if self.serve_api:
            await self._start_api()
        if self._start_failed is not None:
            raise self._start_failed
        self.recovery.seconds = time.monotonic() - t0
        self.role = "leader"
        log.info("keeper up: %s", self.recovery)
        return self

    async def _lead(self) -> None:
        """Take the journal's leader lock (leader.py), waiting as a standby while another
        keeper holds it. Then the normal restart path runs (snapshot + replay, submitted
        batches resolved against the chain, matched fills re-queued): the journal a standby
        reads after winning the lock is final, because every write of the old leader was
        fenced by that lock."""
        cfg = self.config.journal
        lead = self.leadership = Leadership(make_engine(cfg.url), lease_s=cfg.lease_s)
        waited = time.monotonic()

        def standby() -> None:
            self.role = "standby"
            log.warning("standby: another keeper leads journal %s; waiting for its lock", cfg.url.split("@")[-1])

        try:
            await lead.acquire(cfg.standby_poll_s, on_wait=standby)
        except BaseException:  # cancelled (stopped while standby)
            lead.close()
            lead.engine.dispose()
            await self.chain.close()
            raise
        self.recovery.standby_s = time.monotonic() - waited
        loop = asyncio.get_running_loop()
        lead.start_heartbeat(lambda exc: loop.call_soon_threadsafe(self._fatal, exc))
        self.chain.fence = lead.afence
        if self.role == "standby":
            log.warning("standby won the leader lock after %.1f s: recovering from the journal",
                        self.recovery.standby_s)
            await self.chain.nonces.sync()  # the old leader's txs since our connect
            await self.chain.refresh_gas_price()

    async def stop(self, drain: float = 5.0) -> None:
        """Graceful: stop the API, settle what is queued (up to `drain` s), close everything
        (last: the leader lock, so a standby takes over only after the final journal write)."""
        self._stopping = True
        if self.server is not None:
            self.server.should_exit = True
            await asyncio.gather(*[t for t in self._tasks if t.get_name() == "api"], return_exceptions=True)
        for runner in self.runners:
            try:
                await runner.on_stop()
            except Exception:  # noqa: BLE001
                log.exception("runner stop failed")
        if self.feed is not None:
            await self.feed.stop()
        await self.settlement.stop(drain=drain)
        await self.watcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._snapshotting is not None:  # a snapshot on its way: written if it arrives in time
            await asyncio.wait({self._snapshotting}, timeout=max(drain, 0.1))
            if self._snapshotting is not None:
                self._snapshotting.cancel()  # not in time: not written (the child exits alone)
        await self.committer.stop()
        if self.gateway.recovery is not None:
            self.gateway.recovery.close()
        executor = getattr(self, "analytics_executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        await self.chain.close()
        self.journal.close()
        if self.leadership is not None:
            self.leadership.close()
            self.leadership.engine.dispose()
        self.stopped.set()

    async def _warn_automine_lag(self) -> None:
        """On an automine devnet a block is mined only per tx: with confirmations > 0 the
        watcher sees a price report only after that many more txs, so marks look stale."""
        if self.config.chain.confirmations <= 0:
            return
        try:
            automine = await self.chain.rpc.call("anvil_getAutomine")
        except Exception:  # noqa: BLE001 - not anvil
            return
        if automine is True:
            log.warning("automine devnet with chain.confirmations = %d: oracle reports and on-chain cancels "
                        "are seen only after %d more blocks; use confirmations = 0 on a devnet",
                        self.config.chain.confirmations, self.config.chain.confirmations)

    @staticmethod
    def _recovery_thread() -> RecoveryThread:
        from .runtime import recovery_inline_max

        inline = recovery_inline_max()
        return RecoveryThread() if inline is None else RecoveryThread(inline)

    def clock(self) -> float:
        """The keeper's clock for expiry (admission, the engine's GTD expiries, journaled ts):
        chain time, never behind it. The Exchange skips a fill whose order expired before the
        settle block's timestamp, which is at least the latest block's and, on a live chain,
        about the wall clock; so max(host clock, latest block timestamp seen). A chain whose
        time jumped ahead (evm_increaseTime, a skewed node) no longer gets fills the chain
        would skip as `expired`. Cancel timestamps are checked against the host clock."""
        core = getattr(self, "core", None)
        return max(time.time(), float(core.oracle.block_time) if core is not None else 0.0)

    def _fatal(self, exc: BaseException) -> None:
        """The journal failed, or the sequencer did: in-memory state may be ahead of the
        journal, which is the truth at restart. Stop."""
        committer = getattr(self, "committer", None)
        if isinstance(exc, NotLeader) and committer is not None and committer.failed is None:
            committer.failed = exc  # nothing more is written, not even at stop
        if self.role != "leader":  # still starting: start() raises it before serving
            self._start_failed = exc
            return
        if self._stopping:
            return
        self._stopping = True
        log.critical("fatal, stopping: %r", exc)
        asyncio.get_running_loop().create_task(self.stop(drain=0))

    # -- recovery ------------------------------------------------------------------------------
    def replay(self) -> None:
        """Rebuild books, orders and fills from the journal (steps 2-3)."""
        core = self.core
        out = Outbox.new()
        n = 0
        after = 0
        snap = self.journal.snapshot()
        held: list[int] = []  # the fills the snapshot held pending
        if snap is not None:
            try:
                core.restore(snap[1])
            except ValueError as exc:  # an older snapshot format: replay everything
                log.warning("snapshot at %d not used (%s): replaying the whole journal", snap[0], exc)
            else:
                after = snap[0]
                held = list(core.fills)
                self.engine = core.engine
                self.recovery.snapshot_seq = after
        fill_base = core.fill_seq
        undone: set[int] = set()  # fills a replayed fill_rejected undid (and dropped)
        for row in self.journal.commands(after=after):
            core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
            n += 1
            if len(out.fills) > 10_000 or len(out.order_updates) > 10_000:
                undone.update(f.id for f in out.rejected)
                out = Outbox.new()
        undone.update(f.id for f in out.rejected)
        self.recovery.commands = n
        self.last_snapshot = core.seq
        # every order ever journaled, for the duplicate check (the snapshot holds the live ones)
        core.seen |= self.journal.order_hashes()
        core.one_fill_nonces |= self.journal.one_fill_nonces()
        # the fills the replay made (id > fill_base) and the ones the snapshot held: each
        # must be in the fills table as replay made it; the table gives its state
        rows = self.journal.fills_after(fill_base, held)
        made = 0
        final = []
        for row in rows:
            fill = core.fills.get(row.id)
            if fill is None:
                if row.id in undone:
                    made += row.id > fill_base
                    continue
                raise RuntimeError(f"journal fill {row.id} was not reproduced by replay: journal corrupt")
            if fill.maker_hash.hex() != row.maker_hash[2:] or fill.size != row.size:
                raise RuntimeError(f"replay diverged at fill {row.id}")
            made += row.id > fill_base
            fill.state, fill.batch_id, fill.reason, fill.tx_hash = row.state, row.batch_id, row.reason, row.tx_hash
            if row.state == SETTLED:
                core.account(fill.maker_account).settle_fill(fill.market, fill.maker_is_buy, fill.price, fill.size)
                core.account(fill.taker_account).settle_fill(fill.market, not fill.maker_is_buy, fill.price, fill.size)
            if row.state in (SETTLED, REJECTED):
                final.append(fill)
        if made != core.fill_seq - fill_base:
            raise RuntimeError("replay produced fills the journal does not have")
        for fill in final:  # settled since: out of the live state (as the live run did)
            core.fill_final(fill, None)
        core.final_counts = {s: c for s, c in self.journal.fill_counts().items() if s in (SETTLED, REJECTED)}
        self.recovery.fills = len(rows)
        _, _, last_batch = self.journal.max_ids()
        self.settlement.batch_seq = last_batch

    async def recover_batches(self) -> None:
        """Step 5: every batch left `submitted` by a crash is resolved against the chain."""
        batches = self.journal.batches(B_SUBMITTED)
        for row in sorted(batches, key=lambda b: b.nonce):
            ids = [i for i in json.loads(row.fill_ids)
                   if (f := self.core.fills.get(i)) is not None and f.state == SUBMITTED]
            if not ids:
                continue
            await self.settlement.resolve_unknown(row.id, ids, row.tx_hash, row.raw_tx)
            self.recovery.batches_resolved += 1
        await self.chain.nonces.sync()

    # -- helpers -------------------------------------------------------------------------------
    async def _load_accounts(self, accounts: set[str], force: bool = False) -> None:
        todo = sorted(a for a in accounts if a != "?" and (
            force or a not in self.core.accounts or not self.core.accounts[a].loaded))
        if not todo:
            return
        try:
            retry = await self.sync_positions(set(todo))
        except Exception as exc:  # noqa: BLE001 - admission will see unloaded accounts
            log.warning("account load failed: %s", exc)
            return
        watcher = getattr(self, "watcher", None)
        if retry and watcher is not None:
            watcher.position_dirty |= retry

    async def sync_positions(self, accounts: set[str]) -> set[str]:
        """Re-read the accounts' chain snapshots at the latest block and journal a `position`
        command wherever the engine's position (reduce-only checks) differs from the chain's,
        in markets with no unsettled fill of the account before or after the read. Returns the
        accounts with such a market (their sync is retried by the watcher)."""
        core = self.core
        todo = sorted(a for a in accounts if a != "?")
        if not todo:
            return set()
        busy = {a: core.unsettled_markets(a) for a in todo}
        await refresh_accounts(core, self.chain, todo)
        ws, out = WriteSet(), Outbox.new()
        ts = int(self.clock() * 1000)
        retry = set()
        for account in todo:
            skip = busy[account] | core.unsettled_markets(account)
            if skip:
                retry.add(account)
            for market, size in core.position_drift(account, skip):
                core.set_position(core.next_seq(), ts, account, market, size, ws, out)
        if ws:
            await self.committer.commit(ws, lambda: self.gateway.publish(out))
        return retry

    async def _price_source(self):
        cfg = self.config.oracle
        if cfg.source == "csv":
            return CsvReplaySource(cfg.csv_path, loop=True)
        start = {}
        for market in cfg.markets:
            price, _, _ = await self.chain.call(self.chain.oracle, "price_info", market)
            start[market] = price or 2_000_000_000
        ticks = {m: i.tick for m, i in self.core.markets.items()}
        return RandomWalkSource(start, seed=cfg.seed, max_step_bps=cfg.max_step_bps, ticks=ticks)

    def maybe_snapshot(self) -> bool:
        """Every `journal.snapshot_every` commands: a snapshot of the sequencer after
        `core.seq`, written after every row queued before it. The loop only forks
        (snapshotter.py): the child serialises the copy-on-write image of this moment (the
        state after `core.seq`, between two commands) while the loop goes on; the bytes are
        committed when they arrive (a snapshot's seq is below rows committed meanwhile, which
        the tail replay covers). One at a time. A snapshot whose commands are not all in the
        journal is ignored at load."""
        every = self.config.journal.snapshot_every
        if not every or self.core.seq - self.last_snapshot < every or self._snapshotting is not None:
            return False
        seq = self.last_snapshot = self.core.seq
        if not can_fork():  # inline, on the loop
            ws = WriteSet()
            ws.snapshot = (seq, self.core.snapshot())
            self.committer.commit(ws)
            return True
        t0 = time.perf_counter()
        child = ForkedSnapshot.start(self.core.snapshot)
        self.snapshot_stats["fork_ms"] = max(self.snapshot_stats.get("fork_ms", 0.0), (time.perf_counter() - t0) * 1e3)
        self._snapshotting = asyncio.get_running_loop().create_task(self._finish_snapshot(seq, child), name="snapshot")
        return True

    async def _finish_snapshot(self, seq: int, child: ForkedSnapshot) -> None:
        try:
            body = await asyncio.to_thread(child.result)
            ws = WriteSet()
            ws.snapshot = (seq, body)
            await self.committer.commit(ws)
            self.snapshot_stats["written"] = self.snapshot_stats.get("written", 0) + 1
            self.snapshot_stats["last_seq"] = seq
        except SnapshotFailed as exc:
            log.warning("snapshot at %d not written: %s", seq, exc)
        except Exception as exc:  # noqa: BLE001 - the journal failed: _fatal handles that path
            log.warning("snapshot at %d not written: %r", seq, exc)
        finally:
            self._snapshotting = None

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = self.clock()
            try:
                self.maybe_snapshot()
                if any(self.core.by_nonce_account.values()):
                    seq = self.core.next_seq()
                    await self.gateway.run_command(
                        lambda ws, out: self.core.expire(seq, int(now * 1000), ws, out))
                for runner in self.runners:
                    await runner.on_timer(now)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("timer failed")

    def _fills_to_runners(self, fills: list) -> None:
        for runner in self.runners:
            for fill in fills:
                asyncio.get_running_loop().create_task(runner.on_fill(fill))

    def _rejected_to_runners(self, fills: list) -> None:
        for runner in self.runners:
            hook = getattr(runner, "on_fill_rejected", None)
            if hook is None:
                continue
            for fill in fills:
                asyncio.get_running_loop().create_task(hook(fill))

    def _mark_to_runners(self, market: int, price: int) -> None:
        for runner in self.runners:
            asyncio.get_running_loop().create_task(runner.on_mark(market, price))

    def _on_chain_log(self, entry: dict) -> None:
        for runner in self.runners:
            asyncio.get_running_loop().create_task(runner.on_chain_log(entry))

    async def _start_api(self) -> None:
        import uvicorn

        from .api import create_app

        self.app = create_app(self)
        # the socket is bound here and handed to uvicorn: with port 0 the OS picks a free
        # port at bind time (self.api_port), so no other process can take it in between
        sock = listen_socket(self.config.api.host, self.config.api.port)
        self.api_port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host=self.config.api.host, port=self.api_port,
                                log_level="warning", lifespan="off",
                                ws_max_size=self.config.api.max_body_bytes,
                                **uvicorn_options(self.config.api))
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # the cli owns signals

        async def serve() -> None:
            try:
                await self.server.serve(sockets=[sock])
            finally:
                sock.close()

        task = asyncio.get_running_loop().create_task(serve(), name="api")
        self._tasks.append(task)
        while not self.server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)

    # -- views for the API ---------------------------------------------------------------------
    def info(self) -> dict:
        oracle = self.core.oracle
        return {
            "chain_id": self.chain.chain_id,
            "exchange": self.chain.exchange.address,
            "oracle": self.chain.oracle.address if self.chain.oracle else "",
            "operator": self.operator.address,
            "domain": {"name": "MMX Exchange", "version": "1", "chainId": self.chain.chain_id,
                       "verifyingContract": self.chain.exchange.address},
            "markets": {str(m): {"tick": str(i.tick), "lot": str(i.lot), "min_size": str(i.min_size),
                                 "initial_margin_bps": i.initial_margin_bps, "band_bps": i.band_bps,
                                 "mark": str(self.core.marks.get(m, 0)),
                                 "mark_updated_at": str(oracle.updated_at.get(m, 0)),
                                 "halted": m in oracle.halted, "halt_reason": oracle.halted.get(m, ""),
                                 "stale": oracle.stale(m)}
                        for m, i in self.core.markets.items()},
            "oracle_max_age": str(oracle.max_age),
            "block_time": str(oracle.block_time),
        }

    def account_view(self, address: str) -> dict:
        state = self.core.accounts.get(address)
        if state is None:
            return {"account": address, "known": False}
        marks = self.core.marks
        return {
            "account": address, "known": True,
            "collateral": str(state.collateral),
            "positions": {str(m): {"size": str(state.position(m)),
                                   "chain_size": str(state.positions.get(m, [0, 0])[0]),
                                   "pending_size": str(state.pending.get(m, [0, 0])[0])}
                          for m in sorted(set(state.positions) | set(state.pending))},
            "equity_estimate": str(state.equity(marks)),
            "margin_requirement": str(state.requirement(self.core.markets, marks)),
            "min_nonce": str(state.min_nonce),
            "agents": sorted(state.agents),
            "open_orders": len(self.core.by_nonce_account.get(address, ())),
        }

    def settlement_stats(self) -> dict:
        states: dict[str, int] = dict(self.core.final_counts)  # fills out of the live state
        for fill in self.core.fills.values():
            states[fill.state] = states.get(fill.state, 0) + 1
        lat = sorted(self.settlement.latencies)

        def pct(q: float) -> float:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 3) if lat else 0.0

        phases = {f"batch_{name}_p50_ms": round(sorted(xs)[len(xs) // 2] * 1000, 3)
                  for name, xs in self.settlement.phases.items() if xs}
        return {"fill_states": states, **self.settlement.stats, **phases,
                "settle_latency_p50_ms": pct(0.5), "settle_latency_p99_ms": pct(0.99)}

    @property
    def url(self) -> str:
        """The API's base URL: the port it is bound to (the configured one, or the OS's
        pick for port 0) once the API started."""
        return f"http://{self.config.api.host}:{self.api_port or self.config.api.port}"
