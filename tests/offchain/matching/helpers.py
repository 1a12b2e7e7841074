"""Small builders shared by the matching unit tests."""
from __future__ import annotations

from typing import Any

from offchain.matching import BreakerConfig, Engine, MarketConfig, OrderKind, Place

M = 1           # market id used by the unit tests
TICK = 10
LOT = 100


def engine(**overrides: Any) -> Engine:
    cfg = dict(market=M, tick=TICK, lot=LOT, min_size=LOT)
    cfg.update(overrides)
    return Engine([MarketConfig(**cfg)])


def breaker(move_bps: int = 500, window: int = 10, cooldown: int = 5) -> BreakerConfig:
    return BreakerConfig(move_bps, window, cooldown)


def buy(oid: Any, price: int, size: int = 100, account: str = "0xtaker", ts: int = 1, **kw: Any) -> Place:
    return Place(oid, account, kw.pop("market", M), True, size, price, ts, **kw)


def sell(oid: Any, price: int, size: int = 100, account: str = "0xmaker", ts: int = 1, **kw: Any) -> Place:
    return Place(oid, account, kw.pop("market", M), False, size, price, ts, **kw)


def market_buy(oid: Any, size: int, account: str = "0xtaker", ts: int = 1, **kw: Any) -> Place:
    return Place(oid, account, M, True, size, kw.pop("price", 0), ts, OrderKind.MARKET, **kw)


def market_sell(oid: Any, size: int, account: str = "0xtaker", ts: int = 1, **kw: Any) -> Place:
    return Place(oid, account, M, False, size, kw.pop("price", 0), ts, OrderKind.MARKET, **kw)


def kinds(events: list) -> list[type]:
    """The event classes of `events`, in order (compare with [Accepted, Fill], not by name)."""
    return [type(e) for e in events]


def only(events: list, cls: type) -> list:
    return [e for e in events if isinstance(e, cls)]
