"""The bot's decisions, without I/O and without a clock (time comes in as integer ms).

- `MarketInfo`: a market's tick / lot / min size / mark as GET /info gives them;
- `OrderTracker`: our live orders, kept from place acks, order events, fill events,
  cancel answers and full resyncs, in any arrival order (see its doc);
- `book_top_excluding`: the best bid / ask once our own size is taken out of the book;
- `our_fill`: a keeper fill event as our side of the trade (`strategies.Fill`);
- `Backoff`: exponential back-off after 429s and transport errors.
The decision itself is the keeper runners' `MarketMaker` over `venue.BotVenue`
(strategies.decide: engine -> RiskGate -> reconcile), the same step as in the keeper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from offchain.order import REDUCE_ONLY
from offchain.strategies import Fill, LiveOrder, MarketState, book_top_excluding

from .config import BotConfig


# -- market -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarketInfo:
    market: int
    tick: int
    lot: int
    min_size: int
    mark: int

    @classmethod
    def from_info(cls, info: Mapping[str, Any], market: int) -> MarketInfo:
        markets = info.get("markets") or {}
        m = markets.get(str(market))
        if m is None:
            raise ValueError(f"market {market} is not listed by the keeper (has {sorted(markets)})")
        return cls(market, int(m["tick"]), int(m["lot"]), int(m["min_size"]), int(m.get("mark") or 0))


def check_sizes(config: BotConfig, info: MarketInfo) -> None:
    """Refuse a config whose orders the keeper would reject for size."""
    size = config.order_size
    if size < info.min_size:
        raise ValueError(f"order size {size} is below the market's min size {info.min_size}")
    if size % info.lot:
        raise ValueError(f"order size {size} is not a multiple of the lot {info.lot}")


def book_levels(side: Iterable[Iterable[Any]]) -> tuple[tuple[int, int], ...]:
    return tuple((int(p), int(s)) for p, s in side)


def market_state(info: MarketInfo, bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]],
                 own: Iterable[LiveOrder], mark: int, mark_ts: int, halted: bool = False) -> MarketState:
    best_bid, best_ask = book_top_excluding(bids, asks, own)
    return MarketState(info.market, best_bid, best_ask, mark, mark_ts, halted, info.tick, info.lot, info.min_size)


# -- our orders ---------------------------------------------------------------------------------
class OrderTracker:
    """Our live orders in one market, oldest first.

    Updates arrive on two connections (HTTP answers and the WebSocket), so in any order.
    Every update carries the order's absolute open size (fills are not subtracted here:
    the keeper publishes the order event of a fill in the same commit, sometimes first).
    Two rules make the result independent of that order: an order's open size only ever
    goes down (fills shrink it, and a fill the chain skips pulls the remainder), so every
    update keeps the smaller size; and an order once gone (filled, cancelled, expired,
    rejected) never comes back. `replace` (a full resync from GET /accounts/{a}/orders)
    is the authority and resets both.
    """

    __slots__ = ("market", "_live", "_gone")

    def __init__(self, market: int) -> None:
        self.market = market
        self._live: dict[str, LiveOrder] = {}
        self._gone: set[str] = set()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, order_hash: str) -> bool:
        return order_hash.lower() in self._live

    def live(self) -> tuple[LiveOrder, ...]:
        return tuple(self._live.values())

    def _set(self, h: str, is_buy: bool, price: int, open_size: int, reduce_only: bool) -> None:
        h = h.lower()
        if h in self._gone:
            return
        if open_size <= 0:
            self._drop(h)
            return
        current = self._live.get(h)
        if current is not None:
            if open_size < current.size:
                self._live[h] = LiveOrder(h, self.market, is_buy, price, open_size, reduce_only)
            return
        self._live[h] = LiveOrder(h, self.market, is_buy, price, open_size, reduce_only)

    def _drop(self, h: str) -> None:
        h = h.lower()
        self._live.pop(h, None)
        self._gone.add(h)

    def on_ack(self, order_hash: str, order: Any, result: Mapping[str, Any]) -> None:
        """A place result for `order` (an offchain.order.Order)."""
        if result.get("status") != "accepted":
            return
        status = result.get("order_status", "open")
        open_size = int(result.get("open", order.size))
        if status not in ("open", "new"):
            open_size = 0
        self._set(order_hash, order.is_buy, order.price, open_size, bool(order.flags & REDUCE_ONLY))

    def on_order(self, view: Mapping[str, Any]) -> None:
        """An `orders` channel event's order (SignedOrder.to_json)."""
        if int(view["market"]) != self.market:
            return
        open_size = int(view["open"]) if view.get("status") in ("open", "new") else 0
        self._set(view["hash"], bool(view["is_buy"]), int(view["price"]), open_size,
                  bool(int(view.get("flags", 0)) & REDUCE_ONLY))

    def gone(self, hashes: Iterable[str]) -> None:
        """Cancelled (or otherwise off the book)."""
        for h in hashes:
            self._drop(h)

    def replace(self, views: Iterable[Mapping[str, Any]]) -> None:
        """Full resync from the keeper's open orders (any market; ours are kept in order)."""
        self._live.clear()
        self._gone.clear()
        for view in views:
            self.on_order(view)


# -- fills --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OwnFill:
    fill_id: int | None
    order_hash: str
    maker: bool
    fill: Fill  # our side


def our_fill(view: Mapping[str, Any], account: str, market: int) -> OwnFill | None:
    """A fill event's `fill` (FillRecord.to_json) as our side of it, or None if not ours here."""
    if int(view["market"]) != market:
        return None
    me = account.lower()
    taker_is_buy = bool(view["taker_is_buy"])
    if str(view["maker"]).lower() == me:
        maker, is_buy, h = True, not taker_is_buy, view["maker_hash"]
    elif str(view["taker"]).lower() == me:
        maker, is_buy, h = False, taker_is_buy, view["taker_hash"]
    else:
        return None
    fill = Fill(market, is_buy, int(view["price"]), int(view["size"]), int(view.get("ts") or 0))
    return OwnFill(view.get("id"), str(h).lower(), maker, fill)


def account_numbers(view: Mapping[str, Any], market: int) -> tuple[int, int]:
    """(position in `market`, equity) from GET /accounts/{a}; the position includes fills
    matched but not yet settled, equity is the keeper's estimate at mark."""
    position = int(((view.get("positions") or {}).get(str(market)) or {}).get("size", 0))
    return position, int(view.get("equity_estimate") or 0)


# -- back-off -------------------------------------------------------------------------------------
class Backoff:
    """Exponential back-off: base, 2x base, ... up to cap after consecutive failures."""

    __slots__ = ("base_ms", "cap_ms", "failures", "until")

    def __init__(self, base_ms: int, cap_ms: int) -> None:
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.failures = 0
        self.until = 0

    def fail(self, now: int) -> int:
        """Record a failure at `now`; returns the delay (ms) before the next attempt."""
        delay = min(self.base_ms << min(self.failures, 30), self.cap_ms)
        self.failures += 1
        self.until = now + delay
        return delay

    def ok(self) -> None:
        self.failures = 0
        self.until = 0

    def wait_ms(self, now: int) -> int:
        return max(self.until - now, 0)
