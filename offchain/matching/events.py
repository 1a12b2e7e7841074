"""Engine output: one immutable struct per event kind.

msgspec structs (frozen, untracked by the cyclic GC) because the engine builds one or
more per message and a frozen dataclass costs several times as much to construct.
Field order is part of the API (journals may encode them as arrays).
"""
from __future__ import annotations

from typing import Hashable, Union

import msgspec

from .types import Reason


class Accepted(msgspec.Struct, frozen=True, gc=False):
    order_id: Hashable
    market: int
    account: str
    is_buy: bool
    price: int      # limit price after any post-only slide; market orders: worst price or 0
    size: int       # accepted size (reduce-only may have clipped it)
    ts: int


class Rejected(msgspec.Struct, frozen=True, gc=False):
    """A place, cancel or amend that changed nothing."""

    order_id: Hashable
    market: int     # -1 when not known (unknown order on cancel)
    reason: Reason
    ts: int


class Fill(msgspec.Struct, frozen=True, gc=False):
    market: int
    price: int              # always the maker's (resting) price
    size: int
    maker_id: Hashable
    taker_id: Hashable
    maker_account: str
    taker_account: str
    maker_is_buy: bool      # the taker is on the other side
    maker_remaining: int    # open size left after this fill (0 = done)
    taker_remaining: int
    ts: int


class Cancelled(msgspec.Struct, frozen=True, gc=False):
    order_id: Hashable
    market: int
    account: str
    size: int               # size removed by this event
    remaining: int          # open size left (non-zero only for STP decrement)
    reason: Reason
    ts: int


class Amended(msgspec.Struct, frozen=True, gc=False):
    order_id: Hashable
    market: int
    account: str
    price: int
    old_size: int           # open size before
    size: int               # open size after (before any matching the new price causes)
    kept_priority: bool
    ts: int


class Triggered(msgspec.Struct, frozen=True, gc=False):
    order_id: Hashable
    market: int
    account: str
    mark: int
    ts: int


class Expired(msgspec.Struct, frozen=True, gc=False):
    order_id: Hashable
    market: int
    account: str
    size: int               # open size removed
    ts: int


class Halted(msgspec.Struct, frozen=True, gc=False):
    """Circuit breaker tripped: crossing orders rejected until ts >= until."""

    market: int
    price: int              # the price that would have exceeded the move
    ts: int
    until: int


Event = Union[Accepted, Rejected, Fill, Cancelled, Amended, Triggered, Expired, Halted]
