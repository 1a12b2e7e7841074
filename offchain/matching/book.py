"""Per-market order book storage: price levels in dicts, prices in sorted lists.

Layout and why:
- A level is a deque of RestingOrder in time priority. Cancel is O(1) and lazy: the order
  is marked dead (size 0) and stays in the deque until it reaches the head, where the
  matcher drops it; a level whose dead entries outnumber its live ones is compacted.
  (A list read from a head index measured -146 instr/msg in the compiled build, whose
  deque operations are generic method calls, but the keeper reinstates an order at the
  front of its level with `level.orders.appendleft`: the deque stays.)
  (An insertion-ordered dict looks ideal but degrades: CPython dicts leave holes at the
  front when the head is deleted, and `next(iter(d))` scans them, so a busy best level
  became O(n) per fill: 3.3 us per one-order take at 1,600 orders a level.)
- Each side keeps a dict price -> Level plus a plain sorted list of keys with the best
  price LAST: bids keep prices ascending, asks keep negated prices ascending. Best bid is
  `bid_prices[-1]`, best ask `-ask_keys[-1]` (O(1)); taking out the best level is a
  pop() from the end. A level inserted or emptied elsewhere costs a bisect and a memmove
  of the pointers behind it: near the touch (where the flow is) that is a few, and even
  across a 60-70 level book it is cheaper than any tree or heap driven from Python.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from operator import attrgetter
from typing import Any, Final, Hashable, Iterator

import msgspec


from .protection import Breaker
from .types import ONE, MarketConfig, Place

# Prices and times are Python int objects (annotated `Obj`, i.e. Any) everywhere they are
# only compared and handed on to events: the compiled build would keep an `int` unboxed
# (a C integer) and allocate a new int object each time it goes into an event, a dict or
# a list. Sizes, which the matcher does arithmetic on, are native `int`.
Obj = Any

INF: Final = 1 << 256  # above any uint256 price: "no upper limit"
SIZE_LIMITS_CACHED: Final = 4096  # distinct order sizes remembered per market
_open_size: Final = attrgetter("size")


class RestingOrder:
    """A live limit order on the book. `cmd` keeps every field the hot loop never reads.

    It points at its level and at its account's order index so that a cancel needs no
    look-ups; the only cycle (level -> deque -> order -> level) is broken by Level.drop().
    A plain class so that the compiled build makes it a native class (book.pxd), whose
    attributes are C struct fields; interpreted, the msgspec struct below replaces it
    (cheaper to build there, 95 ns against 270 ns)."""

    __slots__ = ("id", "account", "price", "size", "cmd", "level", "owner")

    def __init__(self, id: Hashable, account: str, price: Obj, size: int, cmd: Any,
                 level: "Level", owner: dict[Any, Any]) -> None:
        self.id = id
        self.account = account
        self.price = price
        self.size = size    # open size; 0 = dead (cancelled or filled)
        self.cmd = cmd      # the Place it came from
        self.level = level
        self.owner = owner  # the account's {order id: order} index


class _StructRestingOrder(msgspec.Struct, gc=False):
    """RestingOrder for the interpreted build: a mutable msgspec struct, built in C (95 ns
    against 270 ns for the plain class) with slot reads as fast from CPython's inline
    caches. The compiled build keeps the native class (its fields are C struct members
    there). Same
    fields, same meaning (tests/offchain/matching/test_build.py checks they agree)."""

    id: Hashable
    account: str
    price: Obj
    size: int
    cmd: Any
    level: Any
    owner: dict[Any, Any]


def new_order(id: Hashable, account: str, price: Obj, size: int, cmd: Any, level: "Level",
              owner: dict[Any, Any]) -> RestingOrder:
    """A RestingOrder, built for the hot path: compiled, the native object's fields are set
    directly (no call through the type and its argument parsing, ~120 instructions less);
    interpreted, this name is the msgspec struct type itself (no Python frame)."""
    order = RestingOrder.__new__(RestingOrder)
    order.id = id
    order.account = account
    order.price = price
    order.size = size
    order.cmd = cmd
    order.level = level
    order.owner = owner
    return order


if __file__.endswith(".py"):  # interpreted (a compiled module's __file__ is its .so)
    globals()["RestingOrder"] = _StructRestingOrder
    globals()["new_order"] = _StructRestingOrder


class PendingTrigger:
    """A stop / take-profit / trailing order waiting for the mark to reach it."""

    __slots__ = ("id", "account", "cmd", "extreme")

    def __init__(self, id: Hashable, account: str, cmd: Any, extreme: int) -> None:
        self.id = id
        self.account = account
        self.cmd = cmd
        self.extreme = extreme  # trailing stops: best mark seen since placement (0 = none yet)


class Level:
    __slots__ = ("price", "key", "orders", "size", "dead", "levels", "keys", "market")

    def __init__(self, price: Obj, key: Obj, levels: dict[Any, "Level"],
                 keys: list[Any], market: int) -> None:
        self.price = price
        self.key = key  # position in the side's sorted key list (price, or -price for asks)
        self.orders: deque[RestingOrder] = deque()  # time priority; may hold dead entries
        # sum of live open sizes (O(1) depth per level). Live orders have size > 0, so
        # size 0 also means "no live order left": the level is gone (no separate count).
        self.size: int = 0
        self.dead = 0   # dead entries still in the deque (live ones: len(orders) - dead)
        self.levels = levels  # the side this level belongs to: price -> Level
        self.keys = keys      # and its sorted key list
        self.market = market  # for events of a cancel, which reaches the order by id only

    def live(self) -> Iterator[RestingOrder]:
        return (o for o in self.orders if o.size)

    def compact(self) -> None:
        self.orders = deque(filter(_open_size, self.orders))  # C-level loop
        self.dead = 0

    def drop(self) -> None:
        """Remove this (now empty) level from its side."""
        keys = self.keys
        del self.levels[self.price]
        del keys[bisect_left(keys, self.key)]
        self.orders.clear()  # dead orders point back at the level: break the cycle

    def cancel(self, order: RestingOrder) -> int:
        """Take a live order off (lazily: it becomes dead). Returns its open size."""
        size = order.size
        order.size = 0
        self.size -= size
        if self.size:
            self.dead += 1
            if self.dead > 16 and self.dead * 2 > len(self.orders):  # more dead than live
                self.compact()
        else:
            self.drop()
        return size


class Book:
    """State of one market. The engine owns the logic; this holds data and small helpers."""

    __slots__ = (
        "config", "market", "tick", "lot", "min_size", "max_size", "max_notional",
        "band_bps", "default_stp", "size_floor", "size_cap", "notional_cap", "size_limits",
        "wake_at",
        "bids", "asks", "bid_prices", "ask_keys",
        "mark", "band_lo", "band_hi", "breaker", "halted_until",
        "expiries", "next_expiry", "triggers",
    )

    def __init__(self, config: MarketConfig) -> None:
        self.config = config
        self.market = config.market
        self.tick: Obj = config.tick
        self.lot: Obj = config.lot
        self.min_size: Obj = config.min_size
        self.max_size: Obj = config.max_size
        self.max_notional: Obj = config.max_notional
        self.band_bps: int = config.band_bps
        self.default_stp = config.default_stp
        # limits as single comparisons: size > size_cap, price * size >= notional_cap
        # (floor(price * size / ONE) > max_notional  <=>  price * size >= (max_notional + 1) * ONE)
        self.size_floor: Obj = max(config.min_size, config.lot)  # a valid size is >= one lot
        self.size_cap: Obj = config.max_size or INF
        self.notional_cap: Obj = (config.max_notional + 1) * ONE if config.max_notional else INF * INF
        # size -> highest price an order of that size may have (-1: the size is invalid).
        # One dict probe replaces the lot division, the min / max compares and the notional
        # product on multi-digit ints, which CPython runs on its slow paths (~100 ns).
        self.size_limits: dict[Any, Obj] = {}
        self.bids: dict[Any, Level] = {}
        self.asks: dict[Any, Level] = {}
        self.bid_prices: list[Obj] = []  # ascending; best bid last
        self.ask_keys: list[Obj] = []    # -price, ascending; best ask last
        self.mark: Obj = 0               # 0 = no mark yet
        self.band_lo: Obj = 0            # aggressive sells below are rejected (0 = off)
        self.band_hi: Obj = INF          # aggressive buys above are rejected (INF = off)
        self.breaker = Breaker(config.breaker) if config.breaker is not None else None
        self.halted_until: Obj = 0       # 0 = not halted
        # heap of (expiry, seq, id, order)
        self.expiries: list[tuple[Obj, int, Any, RestingOrder | PendingTrigger]] = []
        self.next_expiry: Obj = INF
        self.triggers: dict[Hashable, PendingTrigger] = {}  # insertion order = placement order
        self.wake_at: Obj = INF  # earliest ts at which an expiry or the end of a halt is due

    def size_limit(self, size: Obj) -> Obj:
        """The highest price allowed for an order of `size` (an int), or -1 when the size
        itself is invalid; cached in `size_limits` (bounded: cleared when full)."""
        if size < self.size_floor or size % self.lot or size > self.size_cap:
            limit = -1
        else:  # price * size >= notional_cap  <=>  price > (notional_cap - 1) // size
            limit = (self.notional_cap - 1) // size
        limits = self.size_limits
        if len(limits) >= SIZE_LIMITS_CACHED:
            limits.clear()
        limits[size] = limit
        return limit

    def rewake(self) -> None:
        self.wake_at = min(self.next_expiry, self.halted_until or INF)

    def best_bid(self) -> Obj:
        return self.bid_prices[-1] if self.bid_prices else None

    def best_ask(self) -> Obj:
        return -self.ask_keys[-1] if self.ask_keys else None

    def level_for(self, price: Obj, is_buy: bool) -> Level:
        """The level at `price`, created (and its price inserted) when missing."""
        levels = self.bids if is_buy else self.asks
        level = levels.get(price)
        if level is None:
            keys = self.bid_prices if is_buy else self.ask_keys
            key = price if is_buy else -price
            level = levels[price] = Level(price, key, levels, keys, self.market)
            insort(keys, key)
        return level

    def set_mark(self, price: Obj) -> None:
        self.mark = price
        bps = self.band_bps
        if bps:
            self.band_hi = price * (10_000 + bps) // 10_000
            self.band_lo = -(-price * (10_000 - bps) // 10_000) if bps < 10_000 else 0

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids, asks = self.bids, self.asks
        return (
            [(p, bids[p].size) for p in self.bid_prices[: -n - 1 : -1]] if n > 0 else [],
            [(-k, asks[-k].size) for k in self.ask_keys[: -n - 1 : -1]] if n > 0 else [],
        )
