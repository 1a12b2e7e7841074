"""A small, obviously correct reference order book for property tests.

One market, a flat list of resting orders, and every match re-sorts that list by
(price priority, arrival). Slow on purpose: no indexes, no lazy deletion, no caches.
It covers limit (GTC / IOC / FOK / GTD), post-only reject and slide, market orders with
a worst price or bps slippage from the best price, the four STP modes, cancel and amend.
It emits the same event structs as the engine so that streams compare with ==.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offchain.matching import (
    Accepted, Amended, Cancelled, Expired, Fill, MarketConfig, OrderKind, Place, PostOnly,
    Reason, Rejected, STPMode, TimeInForce,
)

ONE = 10**18
INF = 1 << 256


@dataclass
class RefOrder:
    id: Any
    account: str
    is_buy: bool
    price: int
    size: int
    arrival: int  # priority: lower first among equal prices
    tif: int
    expiry: int
    post_only: int
    stp: Any


class ReferenceBook:
    def __init__(self, config: MarketConfig) -> None:
        self.c = config
        self.resting: list[RefOrder] = []
        self.clock = 0

    # -- helpers
    def _find(self, oid: Any) -> RefOrder | None:
        return next((o for o in self.resting if o.id == oid), None)

    def _opposite(self, is_buy: bool) -> list[RefOrder]:
        side = [o for o in self.resting if o.is_buy != is_buy]
        return sorted(side, key=lambda o: (o.price if is_buy else -o.price, o.arrival))

    def _best_opposite(self, is_buy: bool) -> int | None:
        opp = self._opposite(is_buy)
        return opp[0].price if opp else None

    def bids(self) -> list[tuple]:
        side = sorted((o for o in self.resting if o.is_buy), key=lambda o: (-o.price, o.arrival))
        return [(o.id, o.price, o.size) for o in side]

    def asks(self) -> list[tuple]:
        side = sorted((o for o in self.resting if not o.is_buy), key=lambda o: (o.price, o.arrival))
        return [(o.id, o.price, o.size) for o in side]

    def _size_reason(self, size: Any) -> Reason | None:
        c = self.c
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return Reason.INVALID_SIZE
        if size % c.lot:
            return Reason.SIZE_OFF_LOT
        if size < c.min_size:
            return Reason.SIZE_BELOW_MIN
        if c.max_size and size > c.max_size:
            return Reason.SIZE_ABOVE_MAX
        return None

    def _crosses(self, is_buy: bool, limit: int, price: int) -> bool:
        return price <= limit if is_buy else price >= limit

    def _fillable(self, is_buy, limit, size, account, stp) -> bool:
        need = size
        for m in self._opposite(is_buy):
            if not self._crosses(is_buy, limit, m.price):
                return False
            if m.account == account:
                if stp == STPMode.EXPIRE_MAKER:
                    continue
                return False
            need -= m.size
            if need <= 0:
                return True
        return False

    def _match(self, is_buy, limit, size, oid, account, stp, ts, ev) -> tuple[int, Reason | None]:
        market = self.c.market
        for m in self._opposite(is_buy):
            if not size or not self._crosses(is_buy, limit, m.price):
                break
            if m.account == account:
                if stp in (STPMode.EXPIRE_MAKER, STPMode.EXPIRE_BOTH):
                    self.resting.remove(m)
                    ev.append(Cancelled(m.id, market, m.account, m.size, 0, Reason.SELF_TRADE, ts))
                    if stp == STPMode.EXPIRE_MAKER:
                        continue
                    return size, Reason.SELF_TRADE
                if stp == STPMode.EXPIRE_TAKER:
                    return size, Reason.SELF_TRADE
                q = min(size, m.size)  # decrement
                m.size -= q
                size -= q
                ev.append(Cancelled(m.id, market, m.account, q, m.size, Reason.SELF_TRADE, ts))
                ev.append(Cancelled(oid, market, account, q, size, Reason.SELF_TRADE, ts))
                if not m.size:
                    self.resting.remove(m)
                continue
            q = min(size, m.size)
            m.size -= q
            size -= q
            ev.append(Fill(market, m.price, q, m.id, oid, m.account, account, m.is_buy,
                           m.size, size, ts))
            if not m.size:
                self.resting.remove(m)
        return size, None

    def _expire(self, ts: int) -> list:
        """GTD orders with expiry <= ts leave, earliest expiry (then arrival) first."""
        expired = sorted((o for o in self.resting if o.tif == TimeInForce.GTD and o.expiry <= ts),
                         key=lambda o: (o.expiry, o.arrival))
        for o in expired:
            self.resting.remove(o)
        return [Expired(o.id, self.c.market, o.account, o.size, ts) for o in expired]

    # -- commands
    def place(self, cmd: Place) -> list:
        ts = cmd.ts
        ev = self._expire(ts)
        if cmd.market != self.c.market:
            return [Rejected(cmd.id, cmd.market, Reason.UNKNOWN_MARKET, ts)]
        if self._find(cmd.id) is not None:
            reason = Reason.DUPLICATE_ORDER_ID
        elif cmd.kind == OrderKind.LIMIT:
            reason = self._limit(cmd, cmd.price, cmd.size, ev, announce=True, dry=False)
        else:
            reason = self._market(cmd, ev)
        if reason is not None:
            ev.append(Rejected(cmd.id, cmd.market, reason, ts))
        return ev

    def _limit(self, cmd: Place, price: Any, size: Any, ev: list, announce: bool, dry: bool):
        c = self.c
        if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
            return Reason.INVALID_PRICE
        if price % c.tick:
            return Reason.PRICE_OFF_TICK
        reason = self._size_reason(size)
        if reason:
            return reason
        if c.max_notional and price * size // ONE > c.max_notional:
            return Reason.NOTIONAL_ABOVE_MAX
        if cmd.tif == TimeInForce.GTD and cmd.expiry <= cmd.ts:
            return Reason.EXPIRED
        if cmd.tif in (TimeInForce.IOC, TimeInForce.FOK) and cmd.post_only:
            return Reason.INVALID_ORDER
        is_buy = cmd.is_buy
        stp = c.default_stp if cmd.stp is None else cmd.stp
        best = self._best_opposite(is_buy)
        crosses = best is not None and self._crosses(is_buy, price, best)
        if crosses:
            if cmd.post_only == PostOnly.REJECT:
                return Reason.POST_ONLY_WOULD_CROSS
            if cmd.post_only == PostOnly.SLIDE:
                price = best - c.tick if is_buy else best + c.tick
                if price <= 0:
                    return Reason.POST_ONLY_WOULD_CROSS
                crosses = False
            elif cmd.tif == TimeInForce.FOK and not self._fillable(is_buy, price, size, cmd.account, stp):
                return Reason.FOK_UNFILLABLE
        elif cmd.tif == TimeInForce.FOK:
            return Reason.FOK_UNFILLABLE
        if dry:
            return None
        if announce:
            ev.append(Accepted(cmd.id, c.market, cmd.account, is_buy, price, size, cmd.ts))
        stop = None
        if crosses:
            size, stop = self._match(is_buy, price, size, cmd.id, cmd.account, stp, cmd.ts, ev)
        if size:
            if stop is not None or cmd.tif in (TimeInForce.IOC, TimeInForce.FOK):
                ev.append(Cancelled(cmd.id, c.market, cmd.account, size, 0,
                                    stop or Reason.IOC_REMAINDER, cmd.ts))
            else:
                self.clock += 1
                self.resting.append(RefOrder(cmd.id, cmd.account, is_buy, price, size, self.clock,
                                             cmd.tif, cmd.expiry, cmd.post_only, cmd.stp))
        return None

    def _market(self, cmd: Place, ev: list):
        c = self.c
        reason = self._size_reason(cmd.size)
        if reason:
            return reason
        if cmd.post_only:
            return Reason.INVALID_ORDER
        is_buy = cmd.is_buy
        worst = cmd.price
        if cmd.slippage_bps:
            best = self._best_opposite(is_buy)
            if best is not None:
                if is_buy:
                    w = best * (10_000 + cmd.slippage_bps) // 10_000
                else:  # ceil for sells: the bound never goes past the allowed slippage
                    w = -(-best * (10_000 - cmd.slippage_bps) // 10_000)
                worst = w if not worst else (min(worst, w) if is_buy else max(worst, w))
        limit = worst or (INF if is_buy else 0)
        stp = c.default_stp if cmd.stp is None else cmd.stp
        if cmd.tif == TimeInForce.FOK and not self._fillable(is_buy, limit, cmd.size, cmd.account, stp):
            return Reason.FOK_UNFILLABLE
        ev.append(Accepted(cmd.id, c.market, cmd.account, is_buy, worst, cmd.size, cmd.ts))
        size, stop = self._match(is_buy, limit, cmd.size, cmd.id, cmd.account, stp, cmd.ts, ev)
        if size:
            ev.append(Cancelled(cmd.id, c.market, cmd.account, size, 0,
                                stop or Reason.IOC_REMAINDER, cmd.ts))
        return None

    def cancel(self, oid: Any, ts: int) -> list:
        o = self._find(oid)
        if o is None:
            return [Rejected(oid, -1, Reason.UNKNOWN_ORDER, ts)]
        self.resting.remove(o)
        return [Cancelled(oid, self.c.market, o.account, o.size, 0, Reason.USER, ts)]

    def amend(self, oid: Any, ts: int, size: int | None = None, price: int | None = None) -> list:
        o = self._find(oid)
        if o is None:
            return [Rejected(oid, -1, Reason.UNKNOWN_ORDER, ts)]
        woken = self._expire(ts)
        if o not in self.resting:
            return woken + [Rejected(oid, self.c.market, Reason.EXPIRED, ts)]
        new_size = o.size if size is None else size
        new_price = o.price if price is None else price
        cmd = Place(oid, o.account, self.c.market, o.is_buy, new_size, new_price, ts,
                    tif=o.tif, expiry=o.expiry, post_only=o.post_only, stp=o.stp)
        reason = self._limit(cmd, new_price, new_size, [], announce=False, dry=True)
        if reason is not None:
            return woken + [Rejected(oid, self.c.market, reason, ts)]
        old = o.size
        if new_price == o.price and new_size <= old:
            o.size = new_size
            return woken + [Amended(oid, self.c.market, o.account, new_price, old, new_size, True, ts)]
        self.resting.remove(o)
        ev: list = woken + [Amended(oid, self.c.market, o.account, new_price, old, new_size, False, ts)]
        self._limit(cmd, new_price, new_size, ev, announce=False, dry=False)
        return ev
