"""Snapshot and restore of a whole engine as plain Python data.

The snapshot holds builtins plus the caller's own ids and tags, so it can be pickled or
encoded with msgspec msgpack (ids should then be bytes, str or int). Priority is kept by
listing resting orders level by level, each level's queue in its order.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import msgspec

from .book import PendingTrigger, RestingOrder
from .types import BreakerConfig, MarketConfig, Place

if TYPE_CHECKING:
    from .engine import Engine

VERSION = 1


def take_snapshot(engine: "Engine") -> dict[str, Any]:
    live = engine._orders
    books = []
    for book in engine._books.values():
        breaker = book.breaker
        books.append({
            "market": book.market,
            "mark": book.mark,
            "halted_until": book.halted_until,
            "breaker_mins": [list(x) for x in breaker.mins] if breaker else [],
            "breaker_maxs": [list(x) for x in breaker.maxs] if breaker else [],
            "expiries": sorted([e, s, i] for e, s, i, o in book.expiries if live.get(i) is o),
        })
    return {
        "version": VERSION,
        "markets": [dataclasses.asdict(b.config) for b in engine._books.values()],
        "books": books,
        # each level's queue in time priority (walked level by level, not in id-index
        # order: an amend that re-keys an order or a reinstated fill keeps or moves its
        # place in the queue without moving it in the id index)
        "orders": [[o.price, o.size, list(msgspec.structs.astuple(o.cmd))]
                   for book in engine._books.values()
                   for level in (*book.bids.values(), *book.asks.values())
                   for o in level.orders if o.size and live.get(o.id) is o],
        "triggers": [[t.extreme, list(msgspec.structs.astuple(t.cmd))]
                     for t in live.values() if t.__class__ is PendingTrigger],
        "order_ids": list(live),  # engine-wide insertion order
        "accounts": [[a, list(ids)] for a, ids in engine._by_account.items() if ids],
        "positions": [[a, m, s] for (a, m), s in engine._positions.items()],
        "track_positions": engine._track_positions,
        "seq": engine._seq,
    }


def restore_snapshot(cls: type["Engine"], snap: dict[str, Any]) -> "Engine":
    if snap.get("version") != VERSION:
        raise ValueError(f"unsupported snapshot version {snap.get('version')}")
    configs = []
    for m in snap["markets"]:
        m = dict(m)
        if m.get("breaker") is not None:
            m["breaker"] = BreakerConfig(**m["breaker"])
        configs.append(MarketConfig(**m))
    engine = cls(configs)
    objects: dict[Any, Any] = {}
    owners: dict[str, dict] = {}
    for price, size, fields in snap["orders"]:
        cmd = Place(*fields)
        book = engine._books[cmd.market]
        level = book.level_for(price, cmd.is_buy)
        owner = owners.setdefault(cmd.account, {})
        order = RestingOrder(cmd.id, cmd.account, price, size, cmd, level, owner)
        level.orders.append(order)
        level.size += size
        objects[cmd.id] = order
    for extreme, fields in snap["triggers"]:
        cmd = Place(*fields)
        pending = PendingTrigger(cmd.id, cmd.account, cmd, extreme)
        engine._books[cmd.market].triggers[cmd.id] = pending
        objects[cmd.id] = pending
    engine._orders = {i: objects[i] for i in snap["order_ids"]}
    for account, ids in snap["accounts"]:
        owner = owners.setdefault(account, {})
        owner.update((i, objects[i]) for i in ids)
        engine._by_account[account] = owner
    for b in snap["books"]:
        book = engine._books[b["market"]]
        book.set_mark(b["mark"]) if b["mark"] else None
        book.halted_until = b["halted_until"]
        if book.breaker is not None:
            book.breaker.mins.extend(tuple(x) for x in b["breaker_mins"])
            book.breaker.maxs.extend(tuple(x) for x in b["breaker_maxs"])
        book.expiries = [(e, s, i, objects[i]) for e, s, i in b["expiries"]]  # sorted = a heap
        book.next_expiry = book.expiries[0][0] if book.expiries else book.next_expiry
        book.rewake()
    engine._positions = {(a, m): s for a, m, s in snap["positions"]}
    engine._track_positions = snap["track_positions"]
    engine._seq = snap["seq"]
    return engine
