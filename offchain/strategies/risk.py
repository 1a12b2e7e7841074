"""Market-maker risk controls: a gate between an engine's desired orders and the book.

`RiskGate(limits).filter(desired, account, market, now)` returns the orders that may
rest and a decision naming every limit that removed or trimmed something. The runner
reconciles the *allowed* set against the live orders, so whatever the gate removes is
cancelled if it was resting: the gate can only take risk off, never add it.

Checks, in order:
1. halted market or a mark older than max_mark_age_ms  -> nothing rests;
2. drawdown kill switch: equity falling max_drawdown_bps below its peak trips it; while
   tripped nothing rests. It resumes by `resume(now)` (manual), after resume_after_ms
   (cool-down; the peak is re-based to the equity at resume, or it would trip again at
   once), or when equity recovers to within resume_below_drawdown_bps of the peak;
3. mark distance (a vault's trade guard): orders priced farther than
   max_mark_distance_bps from the mark are dropped (the Exchange would skip their fills);
4. close-only (limits.close_only or set_close_only): only orders that shrink the position,
   at most its size, marked reduce_only;
5. position and notional caps: on each side the orders are kept best price first while
   the position, if they all filled, stays within max_position and max_notional (at mark);
6. max_open_orders: the orders nearest the reference price are kept;
7. order rate: at most max_orders_per_window *new* places (orders not already resting
   with the same side, price and size) per rate_window_ms; places beyond the budget are
   dropped (nearest first kept). Approved places are counted at `now`: the caller is
   expected to send the plan it reconciles from the allowed set. Cancels are never limited.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import msgspec

from offchain.strategies.market import AccountState, MarketState
from offchain.strategies.orders import DesiredOrder
from offchain.strategies.rounding import BPS, WAD


class Reason(str, Enum):
    HALTED = "halted"
    STALE = "stale price"
    KILLED = "drawdown kill switch"
    CLOSE_ONLY = "close only"
    POSITION_LIMIT = "position limit"
    NOTIONAL_LIMIT = "notional limit"
    OPEN_ORDERS = "max open orders"
    ORDER_RATE = "order rate"
    MARK_DISTANCE = "mark distance"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """0 disables a limit. Sizes in base units, notional and equity in USDC units, ms."""

    max_position: int = 0
    max_notional: int = 0
    max_open_orders: int = 0
    max_orders_per_window: int = 0
    rate_window_ms: int = 1_000
    max_drawdown_bps: int = 0
    resume_after_ms: int = 0
    resume_below_drawdown_bps: int = 0
    max_mark_age_ms: int = 0
    close_only: bool = False
    # a vault's on-chain trade guard (Exchange.trade_guard): the Exchange skips its fills
    # priced farther than this from the mark, closing ones included ("mark distance")
    max_mark_distance_bps: int = 0

    def __post_init__(self) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if not isinstance(value, bool) and value < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.rate_window_ms <= 0:
            raise ValueError("rate_window_ms must be > 0")
        if self.resume_below_drawdown_bps and self.resume_below_drawdown_bps >= self.max_drawdown_bps:
            raise ValueError("resume_below_drawdown_bps must be below max_drawdown_bps")


class RiskDecision(msgspec.Struct, frozen=True):
    """Why the allowed set differs from the desired one (empty reasons = untouched)."""

    reasons: tuple[Reason, ...]
    killed: bool
    close_only: bool
    drawdown_bps: int
    peak_equity: int

    @property
    def ok(self) -> bool:
        return not self.reasons


class RiskResult(NamedTuple):
    allowed: list[DesiredOrder]
    decision: RiskDecision


class RiskGate:
    """Stateful (peak equity, kill switch, order-rate window); still no I/O and no clock."""

    __slots__ = ("limits", "_peak", "_killed_at", "_close_only", "_places")

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._peak: int | None = None
        self._killed_at: int | None = None
        self._close_only = limits.close_only
        self._places: deque[int] = deque()

    # -- manual controls --------------------------------------------------------------
    @property
    def killed(self) -> bool:
        return self._killed_at is not None

    def kill(self, now: int) -> None:
        """Trip the kill switch by hand (e.g. an operator command)."""
        if self._killed_at is None:
            self._killed_at = now

    def resume(self, now: int, equity: int | None = None) -> None:
        """Clear the kill switch. The peak is re-based to `equity` when given, so the
        drawdown counts from here (else the next filter would trip it again)."""
        self._killed_at = None
        if equity is not None:
            self._peak = equity

    def set_close_only(self, on: bool) -> None:
        self._close_only = on

    # -- the gate ---------------------------------------------------------------------
    def filter(self, desired: list[DesiredOrder], account: AccountState, market: MarketState,
               now: int) -> RiskResult:
        lim = self.limits
        drawdown = self._watch_equity(account.equity, now)
        reasons: list[Reason] = []
        if market.halted:
            return self._result([], [Reason.HALTED], drawdown)
        if lim.max_mark_age_ms and now - market.mark_ts > lim.max_mark_age_ms:
            return self._result([], [Reason.STALE], drawdown)
        if self._killed_at is not None:
            return self._result([], [Reason.KILLED], drawdown)

        orders = list(desired)
        if lim.max_mark_distance_bps and market.mark_price > 0:
            # never rest an order whose fill the chain would skip: a follower then sees a
            # failed fill (and a resting one left behind by a mark move is cancelled)
            near = [o for o in orders
                    if abs(o.price - market.mark_price) * BPS <= market.mark_price * lim.max_mark_distance_bps]
            if len(near) != len(orders):
                reasons.append(Reason.MARK_DISTANCE)
            orders = near
        position = account.position
        if self._close_only:
            closing = [o for o in orders if (o.is_buy and position < 0) or (not o.is_buy and position > 0)]
            capped = self._cap_side(closing, abs(position), market, [], Reason.CLOSE_ONLY)
            if len(capped) != len(orders) or sum(o.size for o in capped) != sum(o.size for o in orders):
                reasons.append(Reason.CLOSE_ONLY)
            orders = [o if o.reduce_only else DesiredOrder(o.market, o.is_buy, o.price, o.size,
                                                          o.post_only, True) for o in capped]
        else:
            orders = self._cap_position(orders, position, market, reasons)

        ref = market.reference_price
        if lim.max_open_orders and len(orders) > lim.max_open_orders:
            orders = _nearest(orders, ref, lim.max_open_orders)
            reasons.append(Reason.OPEN_ORDERS)
        if lim.max_orders_per_window:
            orders = self._limit_rate(orders, account, ref, now, reasons)
        return self._result(orders, reasons, drawdown)

    # -- internals --------------------------------------------------------------------
    def _watch_equity(self, equity: int, now: int) -> int:
        lim = self.limits
        if self._peak is None or equity > self._peak:
            self._peak = equity
        peak = self._peak
        drawdown = (peak - equity) * BPS // peak if peak > 0 else 0
        if self._killed_at is not None:
            if lim.resume_after_ms and now - self._killed_at >= lim.resume_after_ms:
                self.resume(now, equity)
                drawdown = 0
            elif lim.resume_below_drawdown_bps and drawdown <= lim.resume_below_drawdown_bps:
                self.resume(now)
        elif lim.max_drawdown_bps and drawdown >= lim.max_drawdown_bps:
            self._killed_at = now
        return drawdown

    def _cap_position(self, orders: list[DesiredOrder], position: int, market: MarketState,
                      reasons: list[Reason]) -> list[DesiredOrder]:
        lim = self.limits
        cap, reason = lim.max_position, Reason.POSITION_LIMIT
        if lim.max_notional and market.mark_price > 0:
            by_notional = lim.max_notional * WAD // market.mark_price
            if not cap or by_notional < cap:
                cap, reason = by_notional, Reason.NOTIONAL_LIMIT
        if not cap:
            return orders
        before = len(reasons)
        bids = self._cap_side([o for o in orders if o.is_buy], max(0, cap - position), market, reasons, reason)
        asks = self._cap_side([o for o in orders if not o.is_buy], max(0, cap + position), market, reasons, reason)
        return bids + asks if len(reasons) > before else orders  # untouched: keep the order

    @staticmethod
    def _cap_side(orders: list[DesiredOrder], room: int, market: MarketState,
                  reasons: list[Reason], reason: Reason) -> list[DesiredOrder]:
        """Keep orders best price first while their total fits in `room` (trim the last)."""
        ranked = sorted(orders, key=lambda o: -o.price if o.is_buy else o.price)
        kept: list[DesiredOrder] = []
        trimmed = False
        lot, min_size = market.lot, market.min_size
        for o in ranked:
            if o.size <= room:
                kept.append(o)
                room -= o.size
                continue
            trimmed = True
            size = room // lot * lot
            if size and size >= min_size:
                kept.append(DesiredOrder(o.market, o.is_buy, o.price, size, o.post_only, o.reduce_only))
                room -= size
        if trimmed and reason not in reasons:
            reasons.append(reason)
        return kept

    def _limit_rate(self, orders: list[DesiredOrder], account: AccountState, ref: int, now: int,
                    reasons: list[Reason]) -> list[DesiredOrder]:
        lim = self.limits
        window = self._places
        while window and now - window[0] >= lim.rate_window_ms:
            window.popleft()
        live = {(o.is_buy, o.price, o.size) for o in account.open_orders}
        new = [o for o in orders if (o.is_buy, o.price, o.size) not in live]
        budget = lim.max_orders_per_window - len(window)
        if len(new) > budget:
            allowed_new = set(map(id, _nearest(new, ref, max(budget, 0))))
            orders = [o for o in orders if (o.is_buy, o.price, o.size) in live or id(o) in allowed_new]
            new = [o for o in new if id(o) in allowed_new]
            reasons.append(Reason.ORDER_RATE)
        window.extend([now] * len(new))
        return orders

    def _result(self, orders: list[DesiredOrder], reasons: list[Reason], drawdown: int) -> RiskResult:
        return RiskResult(orders, RiskDecision(tuple(reasons), self._killed_at is not None,
                                               self._close_only, drawdown, self._peak or 0))


def _nearest(orders: list[DesiredOrder], ref: int, n: int) -> list[DesiredOrder]:
    """The n orders nearest `ref`, in their original order."""
    keep = sorted(range(len(orders)), key=lambda j: (abs(orders[j].price - ref), j))[:n]
    return [orders[j] for j in sorted(keep)]
