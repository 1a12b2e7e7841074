"""Per-market order book storage: price levels in dicts, prices in sorted lists.

Layout and why:
- A level is an insertion-ordered dict order_id -> RestingOrder. Insertion order is time
  priority, `del` is an O(1) cancel, and the head is `next(iter(...))`.
- Each side keeps a dict price -> Level plus a plain sorted list of its prices. Best bid
  is `bid_prices[-1]`, best ask `ask_prices[0]` (O(1)). A new or emptied level costs a
  bisect and a memmove of a few dozen pointers, which at the 60-70 levels of a busy
  market is cheaper than any tree or heap driven from Python.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any, Hashable

from .protection import Breaker
from .types import MarketConfig, Place

INF = 1 << 256  # above any uint256 price: "no upper limit"


class RestingOrder:
    """A live limit order on the book. `cmd` keeps every field the hot loop never reads."""

    __slots__ = ("id", "account", "price", "size", "cmd")

    def __init__(self, id: Hashable, account: str, price: int, size: int, cmd: Place) -> None:
        self.id = id
        self.account = account
        self.price = price
        self.size = size  # open size
        self.cmd = cmd


class PendingTrigger:
    """A stop / take-profit / trailing order waiting for the mark to reach it."""

    __slots__ = ("id", "account", "cmd", "extreme")

    def __init__(self, id: Hashable, account: str, cmd: Place, extreme: int) -> None:
        self.id = id
        self.account = account
        self.cmd = cmd
        self.extreme = extreme  # trailing stops: best mark seen since placement (0 = none yet)


class Level:
    __slots__ = ("orders", "size")

    def __init__(self) -> None:
        self.orders: dict[Hashable, RestingOrder] = {}
        self.size = 0  # sum of open sizes, kept for O(1) depth per level


class Book:
    """State of one market. The engine owns the logic; this holds data and small helpers."""

    __slots__ = (
        "config", "market", "tick", "lot", "min_size", "max_size", "max_notional",
        "band_bps", "default_stp",
        "bids", "asks", "bid_prices", "ask_prices",
        "mark", "band_lo", "band_hi", "breaker", "halted_until",
        "expiries", "next_expiry", "triggers",
    )

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.market = config.market
        self.tick = config.tick
        self.lot = config.lot
        self.min_size = config.min_size
        self.max_size = config.max_size
        self.max_notional = config.max_notional
        self.band_bps = config.band_bps
        self.default_stp = config.default_stp
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: list[int] = []  # ascending; best bid last
        self.ask_prices: list[int] = []  # ascending; best ask first
        self.mark = 0                    # 0 = no mark yet
        self.band_lo = 0                 # aggressive sells below are rejected (0 = off)
        self.band_hi = INF               # aggressive buys above are rejected (INF = off)
        self.breaker = Breaker(config.breaker) if config.breaker is not None else None
        self.halted_until = 0            # 0 = not halted
        self.expiries: list[tuple[int, int, Hashable, Any]] = []  # heap (expiry, seq, id, order)
        self.next_expiry = INF
        self.triggers: dict[Hashable, PendingTrigger] = {}  # insertion order = placement order

    def best_bid(self) -> int | None:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> int | None:
        return self.ask_prices[0] if self.ask_prices else None

    def add(self, order: RestingOrder, is_buy: bool) -> None:
        price = order.price
        levels = self.bids if is_buy else self.asks
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level()
            insort(self.bid_prices if is_buy else self.ask_prices, price)
        level.orders[order.id] = order
        level.size += order.size

    def remove(self, order: RestingOrder, is_buy: bool) -> None:
        price = order.price
        levels = self.bids if is_buy else self.asks
        level = levels[price]
        del level.orders[order.id]
        level.size -= order.size
        if not level.orders:
            del levels[price]
            prices = self.bid_prices if is_buy else self.ask_prices
            del prices[bisect_left(prices, price)]

    def set_mark(self, price: int) -> None:
        self.mark = price
        bps = self.band_bps
        if bps:
            self.band_hi = price * (10_000 + bps) // 10_000
            self.band_lo = -(-price * (10_000 - bps) // 10_000) if bps < 10_000 else 0

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids, asks = self.bids, self.asks
        return (
            [(p, bids[p].size) for p in self.bid_prices[: -n - 1 : -1]] if n > 0 else [],
            [(p, asks[p].size) for p in self.ask_prices[:n]] if n > 0 else [],
        )
