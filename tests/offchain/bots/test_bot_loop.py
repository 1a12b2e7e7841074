"""The bot's I/O half against a scripted fake keeper client: events, rejections, 429
back-off, cancel-before-place, fills to the engine, cancel-all on stop, signals."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from offchain.bots import BotConfig, GridSpec, MarketMakerBot
from offchain.client import KeeperError
from offchain.order import Order
from offchain.strategies import QuoteConfig, RiskLimits

ME = "0x00000000000000000000000000000000000000aa"
OTHER = "0x00000000000000000000000000000000000000bb"
SIZE = 5 * 10**16
KEY = "0x" + "11" * 32
pytestmark = pytest.mark.anyio  # async tests (anyio's pytest plugin, tests/conftest.py anyio_backend)
INFO = {"chain_id": 1, "exchange": "0x" + "00" * 20,
        "markets": {"1": {"tick": "10000", "lot": str(10**15), "min_size": str(10**15), "mark": "2000000000"}}}


class FakeClient:
    """Records every call; place results and errors are scripted."""

    def __init__(self):
        self.account = self.signer = ME
        self.calls: list[tuple] = []
        self.events: asyncio.Queue = asyncio.Queue()
        self.place_errors: list[Exception] = []
        self.cancel_errors: list[Exception] = []
        self.reject: dict[int, str] = {}  # price -> reason
        self.book = {"channel": "book", "type": "book", "market": "1", "bids": [], "asks": [], "seq": 0}
        self.n = 0
        self.account_view = {"positions": {}, "equity_estimate": "1000000000"}

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.calls.append(("close",))

    async def info(self):
        return INFO

    async def open_orders(self):
        self.calls.append(("open_orders",))
        return []

    async def account_state(self):
        self.calls.append(("account_state",))
        return self.account_view

    def order(self, market, is_buy, price, size, *, expiry=None, flags=0):
        self.n += 1
        return Order(ME, market, is_buy, price, size, self.n, expiry or 2**40, flags)

    async def place_batch(self, orders):
        orders = [o[0] if isinstance(o, tuple) else o for o in orders]  # (Order, Signature, tif) items
        self.calls.append(("place", list(orders)))
        if self.place_errors:
            raise self.place_errors.pop(0)
        out = []
        for o in orders:
            if o.price in self.reject:
                out.append({"status": "rejected", "reason": self.reject[o.price]})
            else:
                out.append({"status": "accepted", "hash": f"0x{o.nonce:064x}", "open": str(o.size),
                            "order_status": "open", "fills": 0})
        return out

    async def cancel(self, hashes, market=0):
        self.calls.append(("cancel", list(hashes), market))
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)
        return {"status": "ok", "cancelled": list(hashes)}

    async def cancel_all(self, market=0):
        self.calls.append(("cancel_all", market))
        return {"status": "ok", "cancelled": []}

    async def stream(self, *, fills=True, orders=False, book=None, account=None):
        yield self.book
        while True:
            yield await self.events.get()


def config(**kw):
    base = dict(quote=QuoteConfig(1, 20, SIZE, levels=1), tick_ms=20, min_step_ms=1, account_refresh_ms=10_000,
                backoff_ms=200, max_backoff_ms=1_000)
    return BotConfig("http://fake", "env:UNUSED", **({"market": 1} | base | kw))


class Clock:
    def __init__(self):
        self.t = 1_000_000

    def __call__(self):
        return self.t


def make(cfg=None, clock=None):
    fake = FakeClient()
    bot = MarketMakerBot(cfg or config(), private_key=KEY, client_factory=lambda c, k: fake,
                         **({"clock": clock} if clock else {}))
    return bot, fake


def kinds(fake):
    return [c[0] for c in fake.calls]


async def eventually(predicate, timeout=30.0):
    """Wait until `predicate()` holds (a deadline, not an iteration count: on a loaded
    machine the bot's task may need more than a few hundred event-loop turns)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)


async def start(bot, fake, until):
    task = asyncio.create_task(bot.run())
    await eventually(until)
    return task


async def stop(bot, task):
    bot.stop()
    await asyncio.wait_for(task, 60)


async def test_bot__quotes_both_sides_then_cancel_all_on_stop():
    bot, fake = make()
    task = await start(bot, fake, lambda: len(bot.tracker) == 2)
    placed = next(c[1] for c in fake.calls if c[0] == "place")
    assert sorted(o.is_buy for o in placed) == [False, True]
    assert all(o.flags == 1 and o.price % 10_000 == 0 for o in placed)
    await stop(bot, task)
    assert kinds(fake)[-2:] == ["cancel_all", "close"] and fake.calls[-2] == ("cancel_all", 1)
    assert len(bot.tracker) == 0


async def test_bot__rejected_order__logged_counted_and_keeps_running(caplog):
    bot, fake = make()
    fake.reject[1_998_000_000] = "margin"
    with caplog.at_level(logging.INFO, "mmx.bot"):
        task = await start(bot, fake, lambda: bot.stats["rejected"] >= 2)
        await stop(bot, task)
    assert bot.rejections["margin"] >= 2 and len(bot.tracker) == 0
    assert "order rejected: margin" in caplog.text
    assert not task.exception()


async def test_bot__429__backs_off_before_retrying():
    clock = Clock()
    bot, fake = make(clock=clock)
    fake.place_errors = [KeeperError(429, "rate limited")]
    task = await start(bot, fake, lambda: bot.stats["rate_limited"] == 1)
    await asyncio.sleep(0.15)
    assert kinds(fake).count("place") == 1  # the clock has not moved: still backing off
    clock.t += 200
    await eventually(lambda: kinds(fake).count("place") == 2)
    assert kinds(fake).count("place") == 2 and len(bot.tracker) == 2
    await stop(bot, task)


async def test_bot__4xx__logged_and_goes_on():
    bot, fake = make()
    fake.place_errors = [KeeperError(400, "bad signature")]
    task = await start(bot, fake, lambda: len(bot.tracker) == 2)
    assert bot.rejections["bad signature"] == 1 and bot.stats["errors_4xx"] == 1
    await stop(bot, task)


async def test_bot__failed_cancel__no_places_until_resynced():
    bot, fake = make()
    task = await start(bot, fake, lambda: len(bot.tracker) == 2)
    fake.cancel_errors = [KeeperError(400, "stale")]
    places_before = kinds(fake).count("place")
    # the mark moves: the quotes must move, so the old ones are cancelled first
    fake.events.put_nowait({"channel": "book", "type": "mark", "market": "1", "price": "2100000000"})
    await eventually(lambda: bot.tracker.live() and all(o.price > 2_050_000_000 for o in bot.tracker.live()))
    calls = fake.calls
    first_cancel = next(i for i, c in enumerate(calls) if c[0] == "cancel")
    assert kinds(fake)[:first_cancel].count("place") == places_before
    assert calls[first_cancel + 1][0] == "open_orders"  # resync after the refused cancel
    assert all(o.price > 2_050_000_000 for o in bot.tracker.live())
    await stop(bot, task)


async def test_bot__own_fill__engine_told__account_reread__order_event_sets_open():
    bot, fake = make()
    task = await start(bot, fake, lambda: len(bot.tracker) == 2)
    ask = next(o for o in bot.tracker.live() if not o.is_buy)
    reads = kinds(fake).count("account_state")
    fake.account_view = {"positions": {"1": {"size": str(-2 * 10**16)}}, "equity_estimate": "1000000000"}
    fake.events.put_nowait({"channel": "orders", "type": "order", "order": {
        "hash": ask.order_id, "market": "1", "is_buy": False, "price": str(ask.price), "open": str(3 * 10**16),
        "status": "open", "flags": "1"}})
    fake.events.put_nowait({"channel": "fills", "type": "fill", "fill": {
        "id": 1, "market": "1", "price": str(ask.price), "size": str(2 * 10**16), "maker_hash": ask.order_id,
        "taker_hash": "0xbb", "maker": ME, "taker": OTHER, "taker_is_buy": True, "state": "matched", "ts": 0}})
    await eventually(lambda: bot.position == -2 * 10**16 and sum(o.size for o in bot.tracker.live() if not o.is_buy) == SIZE)
    assert bot.stats["fills"] == 1 and kinds(fake).count("account_state") > reads
    assert bot.position == -2 * 10**16
    # re-quoted: the 0.03 left keeps its place and 0.02 more goes next to it
    asks = [o for o in bot.tracker.live() if not o.is_buy]
    assert sorted(o.size for o in asks) == [2 * 10**16, 3 * 10**16]
    await stop(bot, task)


async def test_bot__grid_strategy__centred_on_mark():
    cfg = config(strategy="grid", quote=None, grid=GridSpec(step_bps=50, levels_per_side=2, size_per_level=SIZE))
    bot, fake = make(cfg)
    task = await start(bot, fake, lambda: len(bot.tracker) == 4)
    prices = sorted(o.price for o in bot.tracker.live())
    assert len(prices) == 4 and prices[1] < 2_000_000_000 < prices[2]
    await stop(bot, task)


async def test_bot__kill_switch__pulls_quotes():
    bot, fake = make(config(risk=RiskLimits(max_drawdown_bps=1_000), account_refresh_ms=10))
    task = await start(bot, fake, lambda: len(bot.tracker) == 2)
    fake.account_view = {"positions": {}, "equity_estimate": "800000000"}
    await eventually(lambda: bot.gate.killed and len(bot.tracker) == 0)
    assert bot.gate.killed and len(bot.tracker) == 0 and "cancel" in kinds(fake)
    await stop(bot, task)


async def test_bot__sigterm__stops_with_cancel_all():
    bot, fake = make()
    task = asyncio.create_task(bot.run(handle_signals=True))
    await eventually(lambda: len(bot.tracker) == 2)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 60)
    assert "cancel_all" in kinds(fake)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


async def test_bot__duration__returns_on_its_own():
    bot, fake = make()
    await asyncio.wait_for(bot.run(duration_s=0.3), 60)
    assert "cancel_all" in kinds(fake)


async def test_bot__unknown_market__refused():
    bot, _ = make(config(market=2, quote=QuoteConfig(2, 20, SIZE)))
    with pytest.raises(ValueError, match="market 2"):
        await bot.run()
