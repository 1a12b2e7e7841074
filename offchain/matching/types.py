"""Value types shared by the matching core: enums, market config, the place command.

Everything here is immutable and cheap to build. Enums are IntEnum/StrEnum with fixed
values so that journals and snapshots written today decode the same way tomorrow.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Hashable

import msgspec

BPS = 10_000
ONE = 10**18  # base units in one whole base unit: notional = price * size // ONE


class TimeInForce(IntEnum):
    GTC = 0  # good till cancelled
    IOC = 1  # immediate or cancel: remainder cancelled
    FOK = 2  # fill or kill: all of it now, or rejected with no side effects
    GTD = 3  # good till date: rests until ts >= expiry


class OrderKind(IntEnum):
    LIMIT = 0
    MARKET = 1              # price = optional worst price; slippage_bps optional
    STOP_MARKET = 2         # buy fires when mark >= trigger_price, sell when mark <= it
    STOP_LIMIT = 3          # as STOP_MARKET, then a limit order at `price`
    TAKE_PROFIT = 4         # buy fires when mark <= trigger_price, sell when mark >= it
    TAKE_PROFIT_LIMIT = 5   # as TAKE_PROFIT, then a limit order at `price`
    TRAILING_STOP = 6       # market order when mark retraces trail_bps / trail_amount


class PostOnly(IntEnum):
    NONE = 0
    REJECT = 1  # rejected if it would cross
    SLIDE = 2   # re-priced to the best non-crossing price (one tick inside the touch)


class STPMode(IntEnum):
    """Self-trade prevention; the taker's mode decides. The Exchange never settles a
    self trade, so there is deliberately no "allow" mode."""

    EXPIRE_TAKER = 0  # taker remainder cancelled, maker stays
    EXPIRE_MAKER = 1  # maker cancelled, taker keeps matching (the default)
    EXPIRE_BOTH = 2   # both cancelled
    DECREMENT = 3     # both reduced by the overlap; the smaller (or both) leaves the book


class SlippageRef(IntEnum):
    BEST = 0  # best opposite price when the market order arrives
    MARK = 1  # the market's mark price


class Reason(StrEnum):
    """Stable reason codes for Rejected and Cancelled events."""

    # rejections of bad input
    UNKNOWN_MARKET = "unknown market"
    INVALID_ORDER = "invalid order"            # malformed field or impossible combination
    INVALID_PRICE = "invalid price"            # non-positive or not an integer
    PRICE_OFF_TICK = "price off tick"
    INVALID_SIZE = "invalid size"              # non-positive or not an integer
    SIZE_OFF_LOT = "size off lot"
    SIZE_BELOW_MIN = "size below min"
    SIZE_ABOVE_MAX = "size above max"
    NOTIONAL_ABOVE_MAX = "notional above max"
    DUPLICATE_ORDER_ID = "duplicate order id"
    UNKNOWN_ORDER = "unknown order"
    NOT_OWNER = "not owner"
    NOT_AMENDABLE = "not amendable"
    EXPIRED = "expired"
    # rejections by market state
    POST_ONLY_WOULD_CROSS = "post only"
    FOK_UNFILLABLE = "fok unfillable"
    REDUCE_ONLY = "reduce only"                # would increase the position
    PRICE_OUTSIDE_BAND = "band"
    HALTED = "halted"
    NO_REFERENCE_PRICE = "no reference price"  # slippage from mark/best asked, none known
    WOULD_TRIGGER_IMMEDIATELY = "would trigger immediately"
    # cancellations
    USER = "user"                              # cancel, cancel_batch, cancel_all
    IOC_REMAINDER = "ioc remainder"            # unfilled part of IOC / market orders
    SELF_TRADE = "self trade"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Halt matching when trades within `window` move the price more than `move_bps`
    (max minus min, relative to the min); resume `cooldown` later. Same time unit as ts."""

    move_bps: int
    window: int
    cooldown: int


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """One market; the integers are the Exchange's market registry values.

    0 in max_size / max_notional / band_bps means "no limit"; breaker None means off.
    """

    market: int
    tick: int
    lot: int
    min_size: int = 0
    max_size: int = 0
    max_notional: int = 0
    band_bps: int = 0
    breaker: BreakerConfig | None = None
    default_stp: STPMode = STPMode.EXPIRE_MAKER


class Place(msgspec.Struct, frozen=True, gc=False):
    """A place command. A C-level struct: building one costs about as much as a tuple.

    `id` is opaque and hashable (the keeper uses the EIP-712 order hash); `account` is an
    opaque string; `tag` is carried along untouched (never read by the engine) and is
    returned by get_order / open_orders. It must not reference the engine (gc=False).
    """

    id: Hashable
    account: str
    market: int
    is_buy: bool
    size: int
    price: int = 0                  # limit price; for market / stop-market: optional worst price
    ts: int = 0
    kind: OrderKind = OrderKind.LIMIT
    tif: TimeInForce = TimeInForce.GTC
    expiry: int = 0                 # GTD only: expires when ts >= expiry
    post_only: PostOnly = PostOnly.NONE
    reduce_only: bool = False
    stp: STPMode | None = None      # None: the market's default_stp
    slippage_bps: int = 0           # market orders: worst = ref +- bps (0 = no bps limit)
    slippage_ref: SlippageRef = SlippageRef.BEST
    trigger_price: int = 0          # stop / take-profit
    trail_bps: int = 0              # trailing stop distance, one of the two
    trail_amount: int = 0
    tag: Any = None


class OrderInfo(msgspec.Struct, frozen=True, gc=False):
    """Read-only view of a live order (resting, or waiting for its trigger)."""

    id: Hashable
    account: str
    market: int
    is_buy: bool
    price: int
    size: int            # open (remaining) size; the full size while a trigger waits
    kind: OrderKind
    tif: TimeInForce
    expiry: int
    post_only: PostOnly
    reduce_only: bool
    stp: STPMode | None  # None: the market's default applies
    triggered: bool      # False while a stop / take-profit / trailing order waits
    trigger_price: int
    tag: Any = None
