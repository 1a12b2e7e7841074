"""`MarketMakerBot`: a standalone market maker against a keeper's API (the I/O half).

    bot = MarketMakerBot(load_config("bot.toml"))
    asyncio.run(bot.run())            # until SIGINT / SIGTERM (or config.duration_s)

What it does (docs/bots.md):
- start: GET /info (the market's tick, lot, min size and mark; the EIP-712 domain), open
  the WebSocket (book, our orders, our fills), wait for the first book snapshot (the
  subscriptions are then live), read our open orders and account;
- each decision (every tick_ms, and at most every min_step_ms after a fill, a mark or a
  move of the book top outside our own orders): the keeper runners' `MarketMaker.step`
  over `BotVenue` (strategies.decide: engine -> RiskGate -> reconcile), then one signed
  cancel for the cancels and one batch for the places;
- events: book snapshots and marks update the market state, order events and fills keep
  the live orders in sync (logic.OrderTracker), our fills go to the engine and mark the
  account for a re-read (position, equity for the drawdown kill switch);
- errors: a rejected order or a 4xx is logged with the keeper's reason and the bot goes
  on; a 429 or a transport error backs off exponentially; a dropped WebSocket reconnects
  and resyncs;
- stop (SIGINT / SIGTERM / `stop()` / duration): cancel-all in the market, then close.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from offchain.client import AsyncKeeperClient, KeeperError
from offchain.keeper.keys import Key, load_key
from offchain.keeper.periodic import cancel_and_wait
from offchain.keeper.runners.maker import EngineFactory, MarketMaker, VenueRefused
from offchain.keeper.runners.signer import OrderSigner
from offchain.order import Domain, address_of
from offchain.strategies import Decision, GridEngine, QuoteEngine, RiskGate, book_top_excluding

from .config import BotConfig
from .logic import Backoff, MarketInfo, OrderTracker, account_numbers, book_levels, check_sizes, our_fill
from .venue import SEND_ERRORS, BotVenue

log = logging.getLogger("mmx.bot")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MarketMakerBot:
    """One account (its key, or an agent key with `config.account`) making one market."""

    def __init__(self, config: BotConfig, *, private_key: str | None = None,
                 clock: Callable[[], int] = _now_ms,
                 client_factory: Callable[[BotConfig, str], Any] | None = None) -> None:
        """`private_key` defaults to `load_key(config.key)`; `client_factory(config, key)`
        (tests) defaults to an AsyncKeeperClient for config.keeper_url and config.account."""
        self.config = config
        self._private_key = private_key if private_key is not None else load_key(config.key).private_key
        self._client_factory = client_factory or (
            lambda cfg, pk: AsyncKeeperClient(cfg.keeper_url, pk, account=cfg.account or None))
        self.clock = clock
        self.client: AsyncKeeperClient | None = None
        self.info: MarketInfo | None = None
        self.tracker = OrderTracker(config.market)
        self.venue = BotVenue(self)
        self.maker: MarketMaker | None = None  # built once /info gave the domain (run)
        self.bids: tuple[tuple[int, int], ...] = ()
        self.asks: tuple[tuple[int, int], ...] = ()
        self.mark = 0
        self.mark_ts = 0
        self.position = 0
        self.equity = 0
        self.last: Decision | None = None
        self.stats: collections.Counter[str] = collections.Counter()
        self.rejections: collections.Counter[str] = collections.Counter()
        self.fills: list[dict] = []  # our fill events, newest last (bounded)
        self._backoff = Backoff(config.backoff_ms, config.max_backoff_ms)
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._book_ready = asyncio.Event()
        self._account_dirty = True
        self._account_at = 0
        self._orders_at = 0
        self._resync_orders = True
        self._killed = False
        self.running = asyncio.Event()  # set once the bot has quoted for the first time

    # -- control -----------------------------------------------------------------------------------
    @property
    def account(self) -> str:
        assert self.client is not None
        return self.client.account

    @property
    def gate(self) -> RiskGate:
        assert self.maker is not None
        return self.maker.gate

    def stop(self) -> None:
        """Ask the bot to stop (cancel-all, then return from run). Safe from signal handlers."""
        self._stop.set()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.stop)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform
                pass

    # -- the run -----------------------------------------------------------------------------------
    async def run(self, duration_s: float | None = None, *, handle_signals: bool = False) -> None:
        cfg = self.config
        duration_s = cfg.duration_s if duration_s is None else duration_s
        if handle_signals:
            self.install_signal_handlers()
        async with self._client_factory(cfg, self._private_key) as client:
            self.client = client
            info = await client.info()
            self.info = MarketInfo.from_info(info, cfg.market)
            check_sizes(cfg, self.info)
            self.mark, self.mark_ts = self.info.mark, self.clock()
            signer = OrderSigner(Domain(int(info["chain_id"]), info["exchange"]),
                                 Key(address_of(self._private_key), self._private_key), client.account,
                                 first_nonce=time.time_ns() // 1000, ttl_s=cfg.order_ttl_s)
            self.maker = MarketMaker(client.account, cfg.market, signer, limits=cfg.risk,
                                     engine_factory=engine_factory(cfg))
            log.info("bot %s (signer %s) making market %s with %s on %s", client.account, client.signer,
                     cfg.market, cfg.strategy, cfg.keeper_url)
            stream = asyncio.create_task(self._follow(), name="bot-stream")
            deadline = None if not duration_s else time.monotonic() + duration_s
            try:
                await asyncio.wait_for(self._book_ready.wait(), 15)
                await self._loop(deadline)
            finally:
                await cancel_and_wait(stream)  # its failures are already logged
                if cfg.cancel_on_exit:
                    await self._cancel_all()
                log.info("bot stopped: %s", dict(self.stats))

    async def _loop(self, deadline: float | None) -> None:
        cfg = self.config
        last_step = 0
        while not self._stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            now = self.clock()
            wait = self._backoff.wait_ms(now)
            if wait == 0:
                wait = max(cfg.min_step_ms - (now - last_step), 0)
            if wait:
                await self._wait(self._stop, wait / 1000, deadline)  # back-off / min step: only stop ends it
                continue
            self._wake.clear()
            last_step = self.clock()
            await self.step()
            await self._wait(self._wake, cfg.tick_ms / 1000, deadline)

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float, deadline: float | None) -> None:
        """Until `event` is set or `seconds` pass (never past the run's deadline)."""
        if deadline is not None:
            seconds = min(seconds, max(deadline - time.monotonic(), 0))
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass

    # -- one decision ------------------------------------------------------------------------------
    async def step(self) -> Decision | None:
        """Refresh what is due, decide, send. Returns the decision (None if it could not run)."""
        cfg, info = self.config, self.info
        assert info is not None and self.client is not None
        try:
            now = self.clock()
            if self._resync_orders or now - self._orders_at >= cfg.resync_ms:
                self.tracker.replace(await self.client.open_orders())
                self._orders_at, self._resync_orders = now, False
            if self._account_dirty or now - self._account_at >= cfg.account_refresh_ms:
                self.position, self.equity = account_numbers(await self.client.account_state(), cfg.market)
                self._account_at, self._account_dirty = now, False
        except SEND_ERRORS as exc:
            self.failed("refresh", exc)
            return None

        maker = self.maker
        assert maker is not None
        self.venue.limited = False
        try:
            decision = await maker.step(self.venue, self.clock())
            refused = False
        except VenueRefused:  # booked by the venue; the rest of the plan waits for a resync
            decision, refused = maker.last_step, True
        if decision is None:
            return None
        self.last = decision
        self.stats["steps"] += 1
        self._watch_risk(decision)
        if not decision.plan.empty and not refused and not self.venue.limited:
            self._backoff.ok()
        self.running.set()
        return decision

    def _watch_risk(self, decision: Decision) -> None:
        risk = decision.risk
        if risk is None:
            return
        if risk.killed and not self._killed:
            log.warning("drawdown kill switch tripped: drawdown %s bps from peak equity %s; pulling all quotes",
                        risk.drawdown_bps, risk.peak_equity)
        elif self._killed and not risk.killed:
            log.warning("kill switch cleared; quoting again")
        self._killed = risk.killed
        for reason in risk.reasons:
            self.stats[f"risk:{reason.value}"] += 1

    # -- what BotVenue books ----------------------------------------------------------------------
    def resync_orders(self) -> None:
        """Re-read our open orders before the next decision (a send failed or may have half-done)."""
        self._resync_orders = True

    def account_changed(self) -> None:
        self._account_dirty = True

    def rate_limited(self) -> None:
        self._backoff.fail(self.clock())
        self.stats["rate_limited"] += 1

    def failed(self, what: str, exc: Exception) -> None:
        now = self.clock()
        if isinstance(exc, KeeperError):
            self.rejections[str(exc.detail)] += 1
            if exc.status == 429:
                self.stats["rate_limited"] += 1
                delay = self._backoff.fail(now)
                log.warning("%s: rate limited by the keeper; backing off %d ms", what, delay)
                return
            self.stats["errors_4xx" if exc.status < 500 else "errors_5xx"] += 1
            delay = self._backoff.fail(now) if exc.status >= 500 else 0
            log.warning("%s refused by the keeper (%s): %s", what, exc.status, exc.detail)
            if delay:
                log.warning("backing off %d ms", delay)
            return
        self.stats["errors_transport"] += 1
        delay = self._backoff.fail(now)
        log.warning("%s failed (%s: %s); backing off %d ms", what, type(exc).__name__, exc, delay)

    # -- the stream --------------------------------------------------------------------------------
    async def _follow(self) -> None:
        """Follow book, orders and fills; reconnect (and resync) when the socket drops."""
        client, cfg = self.client, self.config
        assert client is not None
        retry = Backoff(cfg.backoff_ms, cfg.max_backoff_ms)
        while not self._stop.is_set():
            try:
                async for event in client.stream(fills=True, orders=True, book=cfg.market):
                    retry.ok()
                    self.on_event(event)
                log.warning("stream closed by the keeper; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - websockets raises several families
                log.warning("stream error (%s: %s); reconnecting", type(exc).__name__, exc)
            self._book_ready.clear()
            self._resync_orders = self._account_dirty = True  # events may have been missed
            self.stats["reconnects"] += 1
            await asyncio.sleep(retry.fail(self.clock()) / 1000)

    def on_event(self, event: dict[str, Any]) -> None:
        """Apply one stream event to the bot's state (no I/O)."""
        channel, kind = event.get("channel"), event.get("type")
        cfg = self.config
        if channel == "book":
            if int(event.get("market", 0)) != cfg.market:
                return
            if kind == "book":
                self.bids, self.asks = book_levels(event["bids"]), book_levels(event["asks"])
                self._book_ready.set()
                if book_top_excluding(self.bids, self.asks, self.tracker.live()) != self.venue.top:
                    self._wake.set()
            elif kind == "mark":
                self.mark, self.mark_ts = int(event["price"]), self.clock()
                self._wake.set()
        elif channel == "orders":
            if kind == "order":
                self.tracker.on_order(event["order"])
            elif kind == "rejected":
                self.tracker.gone([event["hash"]])
                log.info("order %s rejected: %s", event["hash"], event.get("reason"))
            elif kind == "fill_rejected":
                self._on_fill_rejected(event["fill"])
        elif channel == "fills":
            if kind == "fill":
                self._on_fill(event["fill"])
            elif kind == "fill_state":
                fill = event["fill"]
                if our_fill(fill, self.account, cfg.market) is None:
                    return
                if fill.get("state") == "settled":
                    self.stats["fills_settled"] += 1
                elif fill.get("state") == "rejected":
                    self.stats["fills_rejected"] += 1
                    log.warning("fill %s rejected on chain: %s", fill.get("id"), fill.get("reason"))

    def _on_fill(self, view: dict) -> None:
        own = our_fill(view, self.account, self.config.market)
        if own is None:
            return
        self.stats["fills"] += 1
        self.fills.append(view)
        del self.fills[:-1000]
        self._account_dirty = True
        self._wake.set()
        if not own.maker:
            return
        # the order's new open size comes with the order event of the same commit
        if self.maker is not None:
            self.maker.apply_fill(own.fill, own.fill_id, self.clock())
        log.info("filled: %s %s @ %s (fill %s)", "buy" if own.fill.is_buy else "sell", own.fill.size,
                 own.fill.price, own.fill_id)

    def _on_fill_rejected(self, view: dict) -> None:
        """The chain skipped a fill: the keeper undid it and pulled both orders' remainders."""
        self.stats["fills_rejected"] += 1
        self.tracker.gone([view["maker_hash"], view["taker_hash"]])
        self._account_dirty = True
        self._wake.set()
        own = our_fill(view, self.account, self.config.market)
        if own is not None and own.maker and self.maker is not None:
            self.maker.undo_fill(own.fill, own.fill_id)
        log.warning("fill %s skipped on chain: %s", view.get("id"), view.get("reason"))

    # -- exit --------------------------------------------------------------------------------------
    async def _cancel_all(self) -> None:
        client = self.client
        assert client is not None
        for attempt in range(5):
            try:
                result = await client.cancel_all(self.config.market)
                self.tracker.gone(result.get("cancelled", ()))
                self.tracker.replace([])
                self.stats["cancelled"] += len(result.get("cancelled", ()))
                log.info("cancelled all %d orders in market %s", len(result.get("cancelled", ())),
                         self.config.market)
                return
            except SEND_ERRORS as exc:
                log.warning("cancel-all failed (%s); retrying", exc)
                await asyncio.sleep(min(0.2 * 2 ** attempt, 2.0))
        log.error("cancel-all failed: orders may still rest in market %s", self.config.market)


def engine_factory(cfg: BotConfig) -> EngineFactory:
    """The configured engine, built from the first usable mark (a grid is centred on it)."""
    if cfg.strategy == "quote":
        quote = cfg.quote
        assert quote is not None
        return lambda _anchor: QuoteEngine(quote)
    grid = cfg.grid
    assert grid is not None

    def build(anchor: int) -> GridEngine:
        engine = GridEngine(grid.build(cfg.market, anchor))
        log.info("grid levels: %s", list(engine.raw_levels))
        return engine

    return build
