"""Snapshots the keeper feeds to the engines. Engines never read clocks or the chain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from offchain.strategies.orders import LiveOrder


@dataclass(frozen=True, slots=True)
class MarketState:
    """One market as the keeper sees it at one moment.

    best_bid/best_ask are None when that side of the book is empty. mark_ts is in ms
    (the Oracle's `updated_at` is seconds: the keeper multiplies by 1000).
    """

    market: int
    best_bid: int | None
    best_ask: int | None
    mark_price: int
    mark_ts: int
    halted: bool
    tick: int
    lot: int
    min_size: int
    # the running interval's predicted funding rate (offchain.funding, RATE_ONE = 1e12;
    # positive = longs pay); 0 when the keeper does not run funding
    funding_rate: int = 0

    def __post_init__(self) -> None:
        if self.tick <= 0 or self.lot <= 0 or self.min_size < 0:
            raise ValueError("tick and lot must be positive, min_size non-negative")

    @property
    def reference_price(self) -> int:
        """Book mid when both sides exist and are uncrossed, else the oracle mark."""
        bid, ask = self.best_bid, self.best_ask
        if bid is not None and ask is not None and bid < ask:
            return (bid + ask) // 2
        return self.mark_price


@dataclass(frozen=True, slots=True)
class AccountState:
    """The trading account (vault, pool or MM wallet) for one market.

    position: signed size in base units (long > 0). equity: USDC units, valued at mark
    (Exchange.equity). open_orders: our live orders in this market, oldest first.
    """

    position: int
    equity: int
    open_orders: tuple[LiveOrder, ...] = ()


def book_top_excluding(bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]],
                       own: Iterable[LiveOrder]) -> tuple[int | None, int | None]:
    """Best bid and ask once our own resting size is taken out of each price level (an
    engine anchored on a mid made of its own quotes would never follow the market)."""
    own_bid: dict[int, int] = {}
    own_ask: dict[int, int] = {}
    for o in own:
        side = own_bid if o.is_buy else own_ask
        side[o.price] = side.get(o.price, 0) + o.size
    best_bid = next((p for p, s in bids if s > own_bid.get(p, 0)), None)
    best_ask = next((p for p, s in asks if s > own_ask.get(p, 0)), None)
    return best_bid, best_ask
