"""The matching engine: many markets, price-time priority, deterministic events.

Every public method returns a list of events and never raises on bad input: each bad
command becomes a Rejected event with a Reason. The engine reads no clock; every
command carries `ts`, so replaying a journal of commands reproduces the same events.

Hot paths (place of a limit order, cancel, the match loop) use locals and few calls on
purpose; the rest favours clarity.
"""
from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Any, Final, Hashable, Iterable

import msgspec

from . import triggers as trig
from .book import INF, Book, Level, Obj, PendingTrigger, RestingOrder, new_order
from . import events as _events
from .events import Event
from .types import (
    BPS, MarketConfig, OrderInfo, OrderKind, Place, PostOnly, Reason, SlippageRef,
    STPMode, TimeInForce,
)

# Module-level names used on hot paths are C statics in the compiled build (declared in
# engine.pxd), where a module global is a dict look-up per use. Interpreted, both are the
# same global load.
Accepted: Final = _events.Accepted
Amended: Final = _events.Amended
Cancelled: Final = _events.Cancelled
Expired: Final = _events.Expired
Fill: Final = _events.Fill
Halted: Final = _events.Halted
Rejected: Final = _events.Rejected
Triggered: Final = _events.Triggered

# Plain ints for comparisons in hot paths (IntEnum members compare equal to them).
_LIMIT: Final = int(OrderKind.LIMIT)
_MARKET: Final = int(OrderKind.MARKET)
_GTC: Final = int(TimeInForce.GTC)
_IOC: Final = int(TimeInForce.IOC)
_FOK: Final = int(TimeInForce.FOK)
_GTD: Final = int(TimeInForce.GTD)
_PO_REJECT: Final = int(PostOnly.REJECT)
_PO_SLIDE: Final = int(PostOnly.SLIDE)
_X_TAKER: Final = int(STPMode.EXPIRE_TAKER)
_X_MAKER: Final = int(STPMode.EXPIRE_MAKER)
_X_BOTH: Final = int(STPMode.EXPIRE_BOTH)
_DECREMENT: Final = int(STPMode.DECREMENT)
_PO_VALUES: Final = frozenset(int(p) for p in PostOnly)
_MARKET_TIFS: Final = frozenset((_GTC, _IOC, _FOK))  # GTC is read as IOC: a market order never rests
_REF_MARK: Final = int(SlippageRef.MARK)
# The members themselves: `kind is _LIMIT_KIND` is one pointer test where `kind != _LIMIT`
# is a generic int-subclass comparison; plain ints (e.g. decoded from a journal) still
# pass through the == test.
_LIMIT_KIND: Final = OrderKind.LIMIT
_MARKET_KIND: Final = OrderKind.MARKET
_GTC_KIND: Final = TimeInForce.GTC
_PO_NONE_KIND: Final = PostOnly.NONE
_STP_VALUES: Final = frozenset(int(s) for s in STPMode)

R: Final = Reason
# `type(x) is _INT`: a plain int (not bool, not an int subclass); a pointer compare when
# compiled.
_INT: Final[Any] = int

# The engine reads a Place's fields as attributes. The compiled build declares Place's
# instance layout (engine.pxd), so each read is a C struct load there; place() makes sure
# that only a Place reaches the code that reads it that way.
# Commands and arguments as received. The engine checks every field itself and answers a
# bad one with a Rejected event naming it, so nothing may be type-checked at the call:
# a compiler that typed arguments from annotations would raise a TypeError for an `int`
# argument holding a float (the Cython build ignores annotations: the .pxd files type).
# Hence Any at the entry points and for a Place's fields until they are checked.
Unchecked = Any
ACCOUNTS_SWEEP_MIN: Final = 1024  # account index entries before empty ones are first swept
_USER: Final = Reason.USER


def _rejected(cmd: Unchecked, reason: Any) -> list[Any]:
    """The answer to a place that changed nothing (`reason`: a Reason, typed Any because
    the callers pass a checker's `Reason | None` known to be set there)."""
    return [Rejected(cmd.id, cmd.market, reason, cmd.ts)]


def _is_pos_int(x: Any) -> bool:
    return type(x) is _INT and x > 0


class Engine:
    """Order books for many markets. See docs/matching.md for the full contract."""

    def __init__(self, markets: Iterable[MarketConfig] = ()) -> None:
        self._books: dict[int, Book] = {}
        # every live order by id: RestingOrder on a book, or PendingTrigger waiting for a mark
        self._orders: dict[Any, RestingOrder | PendingTrigger] = {}
        # account -> {id: order} in placement order; may hold empty entries (see _new_owner)
        self._by_account: dict[str, dict[Any, RestingOrder | PendingTrigger]] = {}
        self._accounts_sweep_at = ACCOUNTS_SWEEP_MIN
        self._positions: dict[tuple[str, int], int] = {}
        self._track_positions = False  # turned on by the first set_position
        self._seq = 0                  # GTD heap tie-break, in placement order
        for config in markets:
            self.add_market(config)

    # ------------------------------------------------------------------ markets
    def add_market(self, config: MarketConfig) -> None:
        """Register a market. Raises ValueError on a bad config (operator error, not input)."""
        if config.market in self._books:
            raise ValueError(f"market {config.market} already exists")
        if config.tick <= 0 or config.lot <= 0 or config.min_size < 0 or config.max_size < 0 \
                or config.max_notional < 0 or not 0 <= config.band_bps <= BPS:  # BPS: the chain's widest
            raise ValueError(f"bad market config {config}")
        self._books[config.market] = Book(config)

    def update_market(self, config: MarketConfig) -> None:
        """Change a market's config in place (the chain's registry changed: tick, lot, min
        size, band). Resting and pending orders stay; the caller removes those the new
        rules void. The band moves at once around the current mark."""
        book = self._books.get(config.market)
        if book is None:
            return self.add_market(config)
        if config.tick <= 0 or config.lot <= 0 or config.min_size < 0 or not 0 <= config.band_bps <= BPS:
            raise ValueError(f"bad market config {config}")
        fresh = Book(config)
        for name in ("config", "tick", "lot", "min_size", "max_size", "max_notional", "band_bps", "default_stp",
                     "size_floor", "size_cap", "notional_cap"):
            setattr(book, name, getattr(fresh, name))
        book.size_limits.clear()
        if config.band_bps:
            if book.mark:
                book.set_mark(book.mark)
        else:
            book.band_lo, book.band_hi = 0, INF

    def markets(self) -> list[MarketConfig]:
        return [b.config for b in self._books.values()]

    # ------------------------------------------------------------------ place
    def place(self, cmd: Unchecked) -> list[Event]:
        """Place one order. Events: Rejected, or Accepted followed by Fills and/or a
        Cancelled for an unfilled IOC / market remainder (plus any Expired / Halted).

        The hot path is inline: a plain GTC limit order (no tif, post-only, reduce-only
        or STP option) that does not cross, about half of a busy market's messages, is
        checked and rested here without another Python call; one that crosses calls only
        the matcher. Every other limit order continues in _place_limit, market orders in
        _place_market, stops in _place_trigger."""
        if isinstance(cmd, Place):
            return self._place(cmd)
        return [Rejected(getattr(cmd, "id", None), getattr(cmd, "market", -1), R.INVALID_ORDER,
                         getattr(cmd, "ts", 0))]

    def _place(self, cmd: Place) -> list[Event]:
        """place() of a Place (the compiled build reads its fields as C struct members)."""
        try:
            oid = cmd.id
            account = cmd.account
            market = cmd.market
            is_buy = cmd.is_buy
            size = cmd.size
            price = cmd.price
            ts = cmd.ts
            kind = cmd.kind
            try:  # subscript, not .get(): no method call on the hot path
                book = self._books[market]
            except (KeyError, TypeError):
                return [Rejected(cmd.id, cmd.market, R.UNKNOWN_MARKET, ts)]
            if type(ts) is not _INT:
                return [Rejected(cmd.id, cmd.market, R.INVALID_ORDER, ts)]
            if ts >= book.wake_at:  # GTD orders to expire or a halt to lift: their events first
                woken: list[Any] = []
                self._wake(book, ts, woken)
                return woken + self._place(cmd)  # wake_at is later than ts now: no second wake
            if oid in self._orders:
                return _rejected(cmd, R.DUPLICATE_ORDER_ID)
            if kind is not _LIMIT_KIND and kind != _LIMIT:
                ev: list[Any] = []
                if kind is _MARKET_KIND or kind == _MARKET:
                    reason = self._place_market(book, cmd, ev, True)
                else:
                    reason = self._place_trigger(book, cmd, ev)
                return ev if reason is None else _rejected(cmd, reason)
            # -- static checks. The size's limits (lot, min, max, and the highest price its
            # notional allows) come from a per-size cache; price >= tick > 0 implies a
            # positive price. _static_reason names the failure.
            if type(price) is not _INT or type(size) is not _INT:
                return _rejected(cmd, self._static_reason(book, price, size))
            pmax = book.size_limits.get(size)
            if pmax is None:
                pmax = book.size_limit(size)
            if price > pmax or price < book.tick or price % book.tick:
                return _rejected(cmd, self._static_reason(book, price, size))
            # the default members by identity first (a truth test of an IntEnum is a
            # generic call); plain ints, e.g. from a journal, take the truth test
            tif = cmd.tif
            post_only = cmd.post_only
            if (tif is not _GTC_KIND and tif) or (post_only is not _PO_NONE_KIND and post_only) \
                    or cmd.reduce_only or cmd.stp is not None:
                return self._place_limit(book, cmd, price, size, True, False)
            # Band: only the aggressive direction is limited; deep passive quotes are fine.
            if is_buy:
                if price > book.band_hi:
                    return _rejected(cmd, R.PRICE_OUTSIDE_BAND)
                opp = book.ask_keys
                crosses = opp and -opp[-1] <= price
                levels = book.bids
            else:
                if price < book.band_lo:
                    return _rejected(cmd, R.PRICE_OUTSIDE_BAND)
                opp = book.bid_prices
                crosses = opp and opp[-1] >= price
                levels = book.asks
            if crosses and book.halted_until:
                return _rejected(cmd, R.HALTED)
            ev = [Accepted(oid, book.market, account, is_buy, price, size, ts)]
            if crosses:  # the taker's STP mode is the market's default (cmd.stp is None)
                size, stop = self._match(book, is_buy, price, size, oid, account,
                                         book.default_stp, ts, ev)
                if size:
                    if stop is None:
                        self._rest(book, cmd, price, size)
                    else:  # stopped early (band, breaker, STP): must not rest crossed
                        ev.append(Cancelled(oid, book.market, account, size, 0, stop, ts))
                return ev
            # _rest() written out: a call here would cost ~4% of the benchmark
            level = levels.get(price)
            if level is None:
                level = book.level_for(price, is_buy)
            owner = self._by_account.get(account)
            if owner is None:
                owner = self._new_owner(account)
            order = new_order(oid, account, price, size, cmd, level, owner)
            level.orders.append(order)
            level.size += size
            self._orders[oid] = order
            owner[oid] = order
            return ev
        except Exception:  # noqa: BLE001 - last line of defence: never kill the keeper
            return [Rejected(getattr(cmd, "id", None), getattr(cmd, "market", -1),
                             R.INVALID_ORDER, getattr(cmd, "ts", 0))]

    def _place_limit(self, book: Book, cmd: Place, price: Obj, size: Obj, announce: bool,
                     dry_run: bool) -> list[Any]:
        """A limit order whose price and size passed the static checks: options (tif,
        post-only, reduce-only, STP), band, matching, then rest or cancel the remainder.
        `announce` False: an amend or a triggered stop-limit re-entering (no Accepted);
        `dry_run`: checks only (an amend's validation)."""
        oid = cmd.id
        ts = cmd.ts
        tif = cmd.tif
        post_only = cmd.post_only
        if tif:  # not GTC
            if tif == _GTD:
                if type(cmd.expiry) is not _INT:
                    return _rejected(cmd, R.INVALID_ORDER)
                if cmd.expiry <= ts:
                    return _rejected(cmd, R.EXPIRED)
            elif tif != _IOC and tif != _FOK:
                return _rejected(cmd, R.INVALID_ORDER)
            elif post_only:  # post-only never takes, so IOC/FOK could only cancel
                return _rejected(cmd, R.INVALID_ORDER)
        # Band: only the aggressive direction is limited; deep passive quotes are fine.
        is_buy = cmd.is_buy
        if is_buy:
            if price > book.band_hi:
                return _rejected(cmd, R.PRICE_OUTSIDE_BAND)
            opp = book.ask_keys
            crosses = opp and -opp[-1] <= price
        else:
            if price < book.band_lo:
                return _rejected(cmd, R.PRICE_OUTSIDE_BAND)
            opp = book.bid_prices
            crosses = opp and opp[-1] >= price
        # -- checks against book state
        account = cmd.account
        if cmd.reduce_only:
            size = self._reduce_only_size(account, book.market, is_buy, size)
            if not size:
                return _rejected(cmd, R.REDUCE_ONLY)
        stp = cmd.stp
        if stp is not None and type(stp) is not STPMode and not 0 <= stp <= _DECREMENT:
            return _rejected(cmd, R.INVALID_ORDER)
        if crosses:
            if post_only:
                if post_only == _PO_REJECT:
                    return _rejected(cmd, R.POST_ONLY_WOULD_CROSS)
                if post_only != _PO_SLIDE:
                    return _rejected(cmd, R.INVALID_ORDER)
                price = -opp[-1] - book.tick if is_buy else opp[-1] + book.tick
                if price <= 0:
                    return _rejected(cmd, R.POST_ONLY_WOULD_CROSS)
                crosses = False
            elif book.halted_until:
                return _rejected(cmd, R.HALTED)
            else:
                if stp is None:  # resolved only for an order that takes
                    stp = book.default_stp
                if tif == _FOK and not self._fillable(book, is_buy, price, size, account,
                                                      stp, ts):
                    return _rejected(cmd, R.FOK_UNFILLABLE)
        elif tif == _FOK:
            return _rejected(cmd, R.FOK_UNFILLABLE)
        elif post_only and post_only != _PO_REJECT and post_only != _PO_SLIDE:
            return _rejected(cmd, R.INVALID_ORDER)
        if dry_run:
            return []

        # -- accepted: match, then rest or cancel the remainder
        ev: list[Any] = [Accepted(oid, book.market, account, is_buy, price, size, ts)] \
            if announce else []
        stop = None
        if crosses:
            size, stop = self._match(book, is_buy, price, size, oid, account, stp, ts, ev)
        if size:
            # tif is one of GTC (0), IOC, FOK, GTD here. GTC / GTD rest unless the matcher
            # stopped early (band, breaker, STP): that must not leave a crossed book either.
            if stop is not None or tif and tif != _GTD:
                ev.append(Cancelled(oid, book.market, account, size, 0,
                                    R.IOC_REMAINDER if stop is None else stop, ts))
            else:
                order = self._rest(book, cmd, price, size)
                if tif == _GTD:
                    self._seq += 1
                    self._push_expiry(book, (cmd.expiry, self._seq, oid, order))
                    book.rewake()
        return ev

    def _rest(self, book: Book, cmd: Place, price: Obj, size: int) -> RestingOrder:
        """Put a (remainder of a) limit order on the book, last in its level's queue."""
        oid, account, is_buy = cmd.id, cmd.account, cmd.is_buy
        level = (book.bids if is_buy else book.asks).get(price)
        if level is None:
            level = book.level_for(price, is_buy)
        owner = self._by_account.get(account)
        if owner is None:
            owner = self._new_owner(account)
        order = new_order(oid, account, price, size, cmd, level, owner)
        level.orders.append(order)
        level.size += size
        self._orders[oid] = order
        owner[oid] = order
        return order

    def _reenter_limit(self, cmd: Unchecked, price: Any, size: Any, dry_run: bool) -> list[Any]:
        """An amend or a triggered stop-limit as a limit order (no Accepted event)."""
        try:
            book = self._books[cmd.market]
            reason = self._static_reason(book, price, size)
            if reason is not None:
                return _rejected(cmd, reason)
            return self._place_limit(book, cmd, price, size, False, dry_run)
        except Exception:  # noqa: BLE001 - never kill the keeper
            return [Rejected(getattr(cmd, "id", None), getattr(cmd, "market", -1),
                             R.INVALID_ORDER, getattr(cmd, "ts", 0))]

    def check_limit(self, cmd: Unchecked) -> Any:
        """Would `cmd`, entered now as a limit order at its price and size, be refused? The
        refusal (static checks, post-only, FOK, band, halt) or None; changes no state. For a
        caller that must know before it takes anything off the book (the keeper's amend)."""
        checked = self._reenter_limit(cmd, cmd.price, cmd.size, True)
        return checked[-1] if checked else None

    def place_batch(self, cmds: Iterable[Place]) -> list[list[Event]]:
        """Each command is answered on its own, in order; one bad item rejects only itself."""
        return [self.place(c) for c in cmds]

    def place_many(self, cmds: Iterable[Place]) -> list[Event]:
        """Place each command in order; all answers in one flat list (events name their
        order ids). Same events as `[e for c in cmds for e in place(c)]`."""
        out: list[Any] = []
        place = self.place
        for cmd in cmds:
            out += place(cmd)
        return out

    def _wake(self, book: Book, ts: Obj, ev: list) -> None:
        """Time-driven state changes, run before any command at or after book.wake_at."""
        if book.next_expiry <= ts:
            self._expire_book(book, ts, ev)
        if book.halted_until and ts >= book.halted_until:
            book.halted_until = 0
            if book.breaker is not None:  # a halt is only ever set by the breaker
                book.breaker.reset()
        book.rewake()

    def _static_reason(self, book: Book, price: Any, size: Any) -> Reason | None:
        """Why a limit price / size pair is invalid (None if it is fine)."""
        if type(price) is not _INT or price <= 0:
            return R.INVALID_PRICE
        if price % book.tick:
            return R.PRICE_OFF_TICK
        reason = self._check_size(book, size)
        if reason is None and price * size >= book.notional_cap:
            return R.NOTIONAL_ABOVE_MAX
        return reason

    def _check_size(self, book: Book, size: Any) -> Reason | None:
        if type(size) is not _INT or size <= 0:
            return R.INVALID_SIZE
        if size % book.lot:
            return R.SIZE_OFF_LOT
        if size < book.min_size:
            return R.SIZE_BELOW_MIN
        if size > book.size_cap:
            return R.SIZE_ABOVE_MAX
        return None

    def _place_market(self, book: Book, cmd: Place, ev: list, announce: bool) -> Reason | None:
        size = cmd.size
        worst = cmd.price
        bps = cmd.slippage_bps
        is_buy = cmd.is_buy
        if type(size) is not _INT:
            return R.INVALID_SIZE
        pmax = book.size_limits.get(size)
        if pmax is None:
            pmax = book.size_limit(size)
        if pmax < 0:
            return self._check_size(book, size)
        if type(worst) is not _INT or worst < 0:
            return R.INVALID_PRICE
        if type(bps) is not _INT or bps < 0 or bps >= BPS:
            return R.INVALID_ORDER
        tif = cmd.tif
        if cmd.post_only or tif not in _MARKET_TIFS:
            return R.INVALID_ORDER
        if bps:
            slippage_ref = cmd.slippage_ref
            if slippage_ref == _REF_MARK:
                ref = book.mark
            elif is_buy:
                ref = -book.ask_keys[-1] if book.ask_keys else 0
            else:
                ref = book.bid_prices[-1] if book.bid_prices else 0
            if ref:
                w = ref * (BPS + bps) // BPS if is_buy else -(-ref * (BPS - bps) // BPS)
                if not worst or (w < worst if is_buy else w > worst):
                    worst = w
            elif slippage_ref == _REF_MARK:
                return R.NO_REFERENCE_PRICE
        # Market orders are capped at the band, never rejected for it.
        if is_buy:
            if book.band_hi != INF and (not worst or worst > book.band_hi):
                worst = book.band_hi
        elif book.band_lo and worst < book.band_lo:
            worst = book.band_lo
        if worst > pmax:  # worst * size >= notional cap
            return R.NOTIONAL_ABOVE_MAX
        if book.halted_until:
            return R.HALTED
        account = cmd.account
        if cmd.reduce_only:
            size = self._reduce_only_size(account, book.market, is_buy, size)
            if not size:
                return R.REDUCE_ONLY
        limit = worst if worst else (INF if is_buy else 0)
        stp = cmd.stp
        ts = cmd.ts
        if stp is None:
            stp = book.default_stp
        elif type(stp) is not STPMode and not 0 <= stp <= _DECREMENT:
            return R.INVALID_ORDER
        if tif == _FOK and not self._fillable(book, is_buy, limit, size, account, stp, ts):
            return R.FOK_UNFILLABLE
        oid = cmd.id
        if announce:
            ev.append(Accepted(oid, book.market, account, is_buy, worst, size, ts))
        size, stop = self._match(book, is_buy, limit, size, oid, account, stp, ts, ev)
        if size:
            ev.append(Cancelled(oid, book.market, account, size, 0,
                                R.IOC_REMAINDER if stop is None else stop, ts))
        return None

    def _place_trigger(self, book: Book, cmd: Unchecked, ev: list) -> Reason | None:
        kind = cmd.kind
        if kind not in trig.TRIGGER_KINDS:
            return R.INVALID_ORDER
        reason = self._check_size(book, cmd.size)
        if reason is not None:
            return reason
        if kind in trig.LIMIT_AFTER_TRIGGER:
            if not _is_pos_int(cmd.price):
                return R.INVALID_PRICE
            if cmd.price % book.tick:
                return R.PRICE_OFF_TICK
        elif type(cmd.price) is not _INT or cmd.price < 0:
            return R.INVALID_PRICE
        if cmd.tif == _GTD:
            if type(cmd.expiry) is not _INT:
                return R.INVALID_ORDER
            if cmd.expiry <= cmd.ts:
                return R.EXPIRED
        elif cmd.tif not in (_GTC, _IOC, _FOK):
            return R.INVALID_ORDER
        if cmd.post_only and kind not in trig.LIMIT_AFTER_TRIGGER:
            return R.INVALID_ORDER
        if cmd.post_only not in _PO_VALUES or (cmd.stp is not None and cmd.stp not in _STP_VALUES):
            return R.INVALID_ORDER  # checked now: a pending order must be describable
        extreme = 0
        if kind == OrderKind.TRAILING_STOP:
            a, b = cmd.trail_amount, cmd.trail_bps
            if type(a) is not _INT or type(b) is not _INT or a < 0 or not 0 <= b < BPS \
                    or (a > 0) == (b > 0):
                return R.INVALID_ORDER  # exactly one of the two distances
            extreme = book.mark
        else:
            if not _is_pos_int(cmd.trigger_price):
                return R.INVALID_PRICE
            if book.mark and trig.fixed_trigger_met(cmd, book.mark):
                return R.WOULD_TRIGGER_IMMEDIATELY
        ref_price = cmd.price or cmd.trigger_price
        if ref_price and ref_price * cmd.size >= book.notional_cap:
            return R.NOTIONAL_ABOVE_MAX
        oid = cmd.id
        pending = PendingTrigger(oid, cmd.account, cmd, extreme)
        book.triggers[oid] = pending
        self._orders[oid] = pending
        owner = self._by_account.get(cmd.account)
        if owner is None:
            owner = self._new_owner(cmd.account)
        owner[oid] = pending
        if cmd.tif == _GTD:
            self._seq += 1
            self._push_expiry(book, (cmd.expiry, self._seq, oid, pending))
            book.rewake()
        ev.append(Accepted(oid, book.market, cmd.account, cmd.is_buy, cmd.price, cmd.size, cmd.ts))
        return None

    # ------------------------------------------------------------------ matching
    def _match(self, book: Book, is_buy: bool, limit: Obj, remaining: int, oid: Hashable,
               account: str, stp: int, ts: Obj, ev: list) -> tuple[int, Reason | None]:
        """Take liquidity up to `limit`. Returns (unfilled size, why it stopped early).
        Sizes are tested with `== 0` / `!= 0`, not for truth: compiled, a compare with a
        constant is a few instructions, a truth test of an int a generic call."""
        if is_buy:
            levels, keys, guard = book.asks, book.ask_keys, book.band_lo
        else:
            levels, keys, guard = book.bids, book.bid_prices, book.band_hi
        orders = self._orders
        track = self._track_positions
        breaker = book.breaker
        market = book.market
        maker_is_buy = not is_buy
        stop = None
        while remaining != 0 and keys:
            if is_buy:
                p = -keys[-1]
                if p > limit:
                    break
                if p < guard:  # maker left outside the band by a mark move: don't trade there
                    stop = R.PRICE_OUTSIDE_BAND
                    break
            else:
                p = keys[-1]
                if p < limit:
                    break
                if p > guard:
                    stop = R.PRICE_OUTSIDE_BAND
                    break
            if breaker is not None and breaker.would_trip(p, ts):
                book.halted_until = ts + breaker.cooldown
                book.rewake()
                ev.append(Halted(market, p, ts, book.halted_until))
                stop = R.HALTED
                break
            level = levels[p]
            queue = level.orders
            traded = False
            while remaining != 0 and level.size != 0:
                m = queue[0]
                msize = m.size
                if msize == 0:  # cancelled earlier (lazy deletion)
                    queue.popleft()
                    level.dead -= 1
                    continue
                macct = m.account
                if macct == account:
                    if stp == _X_MAKER or stp == _X_BOTH:
                        self._drop_head(m, level, ev, R.SELF_TRADE, ts, market)
                        if stp == _X_MAKER:
                            continue
                    elif stp == _DECREMENT:
                        q = msize if msize < remaining else remaining
                        m.size = msize = msize - q
                        level.size -= q
                        remaining -= q
                        ev.append(Cancelled(m.id, market, macct, q, msize, R.SELF_TRADE, ts))
                        ev.append(Cancelled(oid, market, account, q, remaining, R.SELF_TRADE, ts))
                        if msize == 0:
                            queue.popleft()
                            del orders[m.id]
                            del m.owner[m.id]
                        continue
                    stop = R.SELF_TRADE  # expire taker / expire both
                    break
                q = msize if msize < remaining else remaining
                if track and m.cmd.reduce_only:
                    allowed = self._reducible(macct, market, maker_is_buy)
                    if allowed <= 0:
                        self._drop_head(m, level, ev, R.REDUCE_ONLY, ts, market)
                        continue
                    if q > allowed:
                        q = allowed
                m.size = msize = msize - q
                remaining -= q
                level.size -= q
                ev.append(Fill(market, p, q, m.id, oid, macct, account, maker_is_buy,
                               msize, remaining, ts))
                traded = True
                if track:
                    self._apply_fill(account, macct, market, is_buy, q)
                if msize == 0:
                    queue.popleft()
                    mid = m.id
                    del orders[mid]
                    del m.owner[mid]
            if level.size == 0:
                level.drop()
            if traded and breaker is not None:
                breaker.record(p, ts)
            if stop is not None:
                break
        return remaining, stop

    def _drop_head(self, m: RestingOrder, level: Level, ev: list, reason: Reason,
                   ts: Obj, market: int) -> None:
        """Cancel the maker at the head of `level` (STP, reduce-only)."""
        level.orders.popleft()
        level.size -= m.size
        del self._orders[m.id]
        del m.owner[m.id]
        ev.append(Cancelled(m.id, market, m.account, m.size, 0, reason, ts))
        m.size = 0

    def _fillable(self, book: Book, is_buy: bool, limit: Obj, size: int, account: str,
                  stp: int, ts: Obj) -> bool:
        """FOK pre-check: would _match fill all of `size`? Walks the same orders with the
        same rules (STP, band guard, breaker, reduce-only makers) and changes nothing."""
        need = size
        if is_buy:
            levels, guard = book.asks, book.band_lo
            prices: Iterable[Obj] = (-k for k in reversed(book.ask_keys))
        else:
            levels, prices, guard = book.bids, reversed(book.bid_prices), book.band_hi
        breaker = book.breaker
        window = breaker.range(ts) if breaker is not None else None
        track = self._track_positions
        maker_pos: dict[str, int] = {}
        for p in prices:
            if (p > limit or p < guard) if is_buy else (p < limit or p > guard):
                return False
            if breaker is not None:
                if window is not None:
                    if breaker.exceeds(window[0], window[1], p):
                        return False
                    window = (min(window[0], p), max(window[1], p))
                else:
                    window = (p, p)
            for m in levels[p].live():
                if m.account == account:
                    if stp == _X_MAKER:
                        continue
                    return False  # the taker stops or loses size without a trade
                q = m.size
                if track:
                    pos = maker_pos.get(m.account)
                    if pos is None:
                        pos = self._positions.get((m.account, book.market), 0)
                    if m.cmd.reduce_only:
                        allowed = pos if not is_buy else -pos  # maker sells reduce a long
                        if allowed <= 0:
                            continue
                        q = min(q, allowed)
                    maker_pos[m.account] = pos + (q if not is_buy else -q)
                need -= q
                if need <= 0:
                    return True
        return False

    # ------------------------------------------------------------------ positions
    def set_position(self, account: str, market: int, signed_size: int) -> None:
        """The account's position as the Exchange sees it, for reduce-only checks. From the
        first call on, the engine also applies its own fills to all positions."""
        self._track_positions = True
        self._positions[(account, market)] = signed_size

    def position(self, account: str, market: int) -> int:
        return self._positions.get((account, market), 0)

    def track_positions(self) -> None:
        """Apply the engine's own fills to positions from now on (as `set_position` does),
        without setting one: the keeper turns it on before the first command, so its
        positions are every fill it matched plus the chain corrections it journals."""
        self._track_positions = True

    def _reducible(self, account: str, market: int, is_buy: bool) -> int:
        pos = self._positions.get((account, market), 0)
        return -pos if is_buy else pos

    def _reduce_only_size(self, account: str, market: int, is_buy: bool, size: int) -> int:
        allowed = self._reducible(account, market, is_buy)
        if allowed <= 0:
            return 0
        return size if size <= allowed else allowed

    def _apply_fill(self, taker: str, maker: str, market: int, taker_buys: bool, q: int) -> None:
        positions = self._positions
        signed = q if taker_buys else -q
        key = (taker, market)
        positions[key] = positions.get(key, 0) + signed
        key = (maker, market)
        positions[key] = positions.get(key, 0) - signed

    # ------------------------------------------------------------------ cancel / amend
    def cancel(self, order_id: Unchecked, ts: Unchecked = 0, account: Unchecked = None) -> list[Event]:
        """Cancel one order. With `account`, only that account's order (else NOT_OWNER)."""
        if account is not None or type(ts) is not _INT:
            return self._cancel_checked(order_id, ts, account)
        # Common case (no owner check, valid ts): nothing can fail once the id is found,
        # so the order leaves the id index in the same probe that finds it.
        try:
            order = self._orders.pop(order_id)
        except (KeyError, TypeError):  # TypeError: unhashable id
            return [Rejected(order_id, -1, R.UNKNOWN_ORDER, ts)]
        if isinstance(order, PendingTrigger):
            return [self._cancel_popped_trigger(order_id, order, ts)]
        resting = order  # a RestingOrder from here on (typed so in engine.pxd: C fields)
        level = resting.level
        # Level.cancel inlined: lazy removal, the matcher drops dead heads.
        size = resting.size
        resting.size = 0
        level.size -= size
        if level.size:
            level.dead += 1
            if level.dead > 16 and level.dead * 2 > len(level.orders):
                level.compact()
        else:
            level.drop()
        del resting.owner[order_id]
        return [Cancelled(order_id, level.market, resting.account, size, 0, _USER, ts)]

    def _cancel_checked(self, order_id: Unchecked, ts: Unchecked, account: Unchecked) -> list[Event]:
        try:
            order = self._orders[order_id]
        except (KeyError, TypeError):  # TypeError: unhashable id
            return [Rejected(order_id, -1, R.UNKNOWN_ORDER, ts)]
        if type(ts) is not _INT:
            return [Rejected(order_id, -1, R.INVALID_ORDER, ts)]
        if account is not None and order.account is not account and order.account != account:
            return [Rejected(order_id, order.cmd.market, R.NOT_OWNER, ts)]
        return self._cancel_found(order_id, order, ts)

    def _cancel_found(self, order_id: Hashable, order: Any, ts: Obj) -> list[Event]:
        if type(order) is RestingOrder:
            size = order.level.cancel(order)
            del self._orders[order_id]
            del order.owner[order_id]
            return [Cancelled(order_id, order.cmd.market, order.account, size, 0, _USER, ts)]
        self._unlink_trigger(order)
        cmd = order.cmd
        return [Cancelled(order_id, cmd.market, order.account, cmd.size, 0, _USER, ts)]

    def cancel_batch(self, order_ids: Iterable[Any], ts: Unchecked = 0,
                     account: Unchecked = None) -> list[list[Event]]:
        """Each id answered on its own, in order."""
        return [self.cancel(i, ts, account) for i in order_ids]

    def cancel_many(self, order_ids: Iterable[Any], ts: Unchecked = 0,
                    account: Unchecked = None) -> list[Event]:
        """Cancel each id in order; all answers in one flat list. Same events as
        `[e for i in order_ids for e in cancel(i, ts, account)]`, without a method call,
        a list and a concatenation per id (the keeper cancels lists of hashes)."""
        out: list[Any] = []
        if account is not None or type(ts) is not _INT:
            for order_id in order_ids:
                out += self._cancel_checked(order_id, ts, account)
            return out
        append = out.append
        pop = self._orders.pop
        for order_id in order_ids:  # the body of cancel()'s common case
            try:
                order = pop(order_id)
            except (KeyError, TypeError):
                append(Rejected(order_id, -1, R.UNKNOWN_ORDER, ts))
                continue
            if isinstance(order, PendingTrigger):
                append(self._cancel_popped_trigger(order_id, order, ts))
                continue
            resting = order  # a RestingOrder (typed so in engine.pxd)
            level = resting.level
            size = resting.size
            resting.size = 0
            level.size -= size
            if level.size:
                level.dead += 1
                if level.dead > 16 and level.dead * 2 > len(level.orders):
                    level.compact()
            else:
                level.drop()
            del resting.owner[order_id]
            append(Cancelled(order_id, level.market, resting.account, size, 0, _USER, ts))
        return out

    def _cancel_popped_trigger(self, order_id: Hashable, pending: PendingTrigger,
                               ts: Obj) -> Any:  # a Cancelled
        """Finish cancelling a pending trigger already popped from the id index (popped,
        not re-inserted: that would move it to the end of the index)."""
        cmd = pending.cmd
        del self._books[cmd.market].triggers[order_id]
        del self._by_account[pending.account][order_id]
        return Cancelled(order_id, cmd.market, pending.account, cmd.size, 0, _USER, ts)

    def cancel_all(self, account: Unchecked, market: Unchecked = None, ts: Unchecked = 0) -> list[Event]:
        """Cancel every resting and pending order of `account` (in one market, or all),
        in placement order."""
        mine = self._by_account.get(account)
        if not mine:
            return []
        ev: list[Any] = []
        for oid, order in list(mine.items()):
            if market is None or order.cmd.market == market:
                ev.extend(self.cancel(oid, ts))
        return ev

    def _new_owner(self, account: str) -> dict:
        """A new entry in the account index. Entries are not dropped when their last order
        goes (an account that keeps one quote would create and free a dict per message);
        instead the empty ones are swept when the index has doubled since the last sweep,
        so it stays within twice the accounts with live orders (plus a constant)."""
        by_account = self._by_account
        if len(by_account) >= self._accounts_sweep_at:
            for acct in [a for a, mine in by_account.items() if not mine]:
                del by_account[acct]
            self._accounts_sweep_at = max(ACCOUNTS_SWEEP_MIN, 2 * len(by_account))
        owner = by_account[account] = {}
        return owner

    def _unlink_trigger(self, pending: PendingTrigger) -> None:
        oid = pending.id
        del self._books[pending.cmd.market].triggers[oid]
        del self._orders[oid]
        del self._by_account[pending.account][oid]

    def amend(self, order_id: Unchecked, ts: Unchecked = 0, size: Unchecked = None,
              price: Unchecked = None, account: Unchecked = None) -> list[Event]:
        """Change a resting order's open size and/or price. Size down at the same price
        keeps time priority; anything else re-queues it (and matches if it now crosses).
        A rejected amend leaves the order as it was."""
        if type(ts) is not _INT:
            return [Rejected(order_id, -1, R.INVALID_ORDER, ts)]
        try:
            return self._amend(order_id, ts, size, price, account)
        except Exception:  # noqa: BLE001 - never kill the keeper
            return [Rejected(order_id, -1, R.INVALID_ORDER, ts)]

    def _amend(self, order_id: Unchecked, ts: Obj, size: Unchecked, price: Unchecked,
               account: Unchecked) -> list[Event]:
        try:
            order = self._orders.get(order_id)
        except TypeError:
            order = None
        if order is None:
            return [Rejected(order_id, -1, R.UNKNOWN_ORDER, ts)]
        cmd = order.cmd
        market = cmd.market
        if type(order) is not RestingOrder:
            return [Rejected(order_id, market, R.NOT_AMENDABLE, ts)]
        if account is not None and order.account != account:
            return [Rejected(order_id, market, R.NOT_OWNER, ts)]
        book = self._books[market]
        woken: list[Any] = []
        if ts >= book.wake_at:  # expiries due, or a halt that has ended
            self._wake(book, ts, woken)
            if self._orders.get(order_id) is not order:  # it just expired
                return woken + [Rejected(order_id, market, R.EXPIRED, ts)]
        new_size = order.size if size is None else size
        new_price = order.price if price is None else price
        new_cmd = msgspec.structs.replace(cmd, price=new_price, size=new_size, ts=ts)
        checked = self._reenter_limit(new_cmd, new_price, new_size, True)  # checks only
        if checked:
            return woken + [Rejected(order_id, market, checked[-1].reason, ts)]
        old_size = order.size
        if new_price == order.price and new_size <= old_size:
            order.size = new_size
            order.level.size -= old_size - new_size
            order.cmd = new_cmd
            return woken + [Amended(order_id, market, order.account, new_price, old_size,
                                    new_size, True, ts)]
        # Re-queue: take it off, then place the new version without an Accepted event.
        order.level.cancel(order)
        del self._orders[order_id]
        del order.owner[order_id]
        ev: list[Any] = woken + [Amended(order_id, market, order.account, new_price, old_size,
                                           new_size, False, ts)]
        ev.extend(self._reenter_limit(new_cmd, new_price, new_size, False))
        if type(ev[-1]) is Rejected:  # unreachable after the dry run; never lose it silently
            ev[-1] = Cancelled(order_id, market, order.account, new_size, 0, ev[-1].reason, ts)
        return ev

    def rekey(self, order_id: Unchecked, cmd: Unchecked) -> list[Event]:
        """Replace a resting order by `cmd` (a new id, the same market, side and price,
        open size at most the old one's) in its place in the queue: an amend whose
        replacement is a new signed order (the keeper's ids are order hashes). The new
        command's expiry and flags apply from now on. Returns [Amended(cmd.id, ...,
        kept_priority=True)] or a Rejected that changed nothing."""
        ts = cmd.ts
        order = self._orders.get(order_id)
        if order is None:
            return [Rejected(order_id, -1, R.UNKNOWN_ORDER, ts)]
        if type(order) is not RestingOrder:
            return [Rejected(order_id, cmd.market, R.NOT_AMENDABLE, ts)]
        old = order.cmd
        new_id = cmd.id
        if (new_id in self._orders or cmd.market != old.market or cmd.is_buy != old.is_buy
                or cmd.price != order.price or cmd.account != order.account
                or not 0 < cmd.size <= order.size or cmd.kind != _LIMIT or cmd.tif not in (_GTC, _GTD)):
            return [Rejected(order_id, cmd.market, R.NOT_AMENDABLE, ts)]
        book = self._books[cmd.market]
        reason = self._check_size(book, cmd.size)
        if reason is not None:
            return [Rejected(order_id, cmd.market, reason, ts)]
        old_size = order.size
        del self._orders[order_id]
        del order.owner[order_id]
        order.level.size -= old_size - cmd.size
        order.size = cmd.size
        order.id = new_id
        order.cmd = cmd
        self._orders[new_id] = order
        order.owner[new_id] = order
        if cmd.tif == _GTD:  # the old id's expiry entry is skipped from now on (its id is gone)
            self._seq += 1
            self._push_expiry(book, (cmd.expiry, self._seq, new_id, order))
            book.rewake()
        return [Amended(new_id, cmd.market, order.account, order.price, old_size, cmd.size, True, ts)]

    # ------------------------------------------------------------------ mark, triggers, expiry
    def set_mark(self, market: Unchecked, price: Unchecked, ts: Unchecked = 0) -> list[Event]:
        """New mark price: moves the band, then fires triggers in placement order."""
        try:
            book = self._books.get(market)
        except TypeError:
            book = None
        if book is None:
            return [Rejected(None, market, R.UNKNOWN_MARKET, ts)]
        if not _is_pos_int(price):
            return [Rejected(None, market, R.INVALID_PRICE, ts)]
        if type(ts) is not _INT:
            return [Rejected(None, market, R.INVALID_ORDER, ts)]
        ev: list[Any] = []
        if ts >= book.wake_at:
            self._wake(book, ts, ev)
        book.set_mark(price)
        for pending in trig.fired(book.triggers, price):
            self._unlink_trigger(pending)
            cmd = pending.cmd
            ev.append(Triggered(pending.id, market, pending.account, price, ts))
            if cmd.kind in trig.LIMIT_AFTER_TRIGGER:
                child = msgspec.structs.replace(cmd, kind=OrderKind.LIMIT, ts=ts)
                out = self._reenter_limit(child, child.price, child.size, False)
                reason = out.pop().reason if out and type(out[-1]) is Rejected else None
                ev.extend(out)
            else:
                tif = _FOK if cmd.tif == _FOK else _IOC
                child = msgspec.structs.replace(cmd, kind=OrderKind.MARKET, tif=tif, ts=ts)
                reason = self._place_market(book, child, ev, False)
            if reason is not None:  # e.g. reduce-only with no position left, halted, band
                ev.append(Cancelled(pending.id, market, pending.account, cmd.size, 0, reason, ts))
        return ev

    def mark(self, market: int) -> int | None:
        book = self._books.get(market)
        return (book.mark or None) if book is not None else None

    def is_halted(self, market: int, ts: int) -> bool:
        book = self._books.get(market)
        return book is not None and book.halted_until > ts

    def expire(self, ts: Unchecked) -> list[Event]:
        """Remove every GTD order with expiry <= ts (markets in creation order)."""
        if type(ts) is not _INT:
            return [Rejected(None, -1, R.INVALID_ORDER, ts)]
        ev: list[Any] = []
        for book in self._books.values():
            if book.next_expiry <= ts:
                self._expire_book(book, ts, ev)
        return ev

    def _push_expiry(self, book: Book, entry: tuple) -> None:
        """Add a GTD expiry to the book's heap. Entries of orders gone since (filled,
        cancelled, amended) are skipped lazily when due; when they outnumber the live
        orders the heap is compacted, so it (and a snapshot, which scans it) stays
        proportional to the live book, not to every order ever placed. Pop order is by the
        unique (expiry, seq) key, so compaction changes no outcome."""
        heap = book.expiries
        heappush(heap, entry)
        if len(heap) > 2 * len(self._orders) + 1024:
            live = self._orders
            heap[:] = [x for x in heap if live.get(x[2]) is x[3]]
            heapify(heap)
        book.next_expiry = heap[0][0]

    def _expire_book(self, book: Book, ts: Obj, ev: list) -> None:
        heap = book.expiries
        while heap and heap[0][0] <= ts:
            _, _, oid, obj = heappop(heap)
            if self._orders.get(oid) is not obj:
                continue  # already gone (filled, cancelled, amended)
            if isinstance(obj, RestingOrder):
                size = obj.level.cancel(obj)
                del self._orders[oid]
                del obj.owner[oid]
            else:
                size = obj.cmd.size
                self._unlink_trigger(obj)
            ev.append(Expired(oid, book.market, obj.account, size, ts))
        book.next_expiry = heap[0][0] if heap else INF
        book.rewake()

    # ------------------------------------------------------------------ queries
    def best_bid(self, market: int) -> int | None:
        book = self._books.get(market)
        return book.best_bid() if book is not None else None

    def best_ask(self, market: int) -> int | None:
        book = self._books.get(market)
        return book.best_ask() if book is not None else None

    def best_order(self, market: int, bids: bool) -> tuple[str, int, int] | None:
        """(account, open size, price) of the first live order at the best bid (`bids`) or
        ask: the order a taker meets first (the keeper's single-fill check)."""
        book = self._books.get(market)
        if book is None:
            return None
        price = book.best_bid() if bids else book.best_ask()
        if price is None:
            return None
        for o in (book.bids if bids else book.asks)[price].orders:
            if o.size:
                return o.account, o.size, price
        return None

    def depth(self, market: int, n: int = 10) -> tuple[list[tuple[int, int]],
                                                        list[tuple[int, int]]]:
        """Top-n L2 levels: ([(price, size)] bids best first, [(price, size)] asks best first)."""
        book = self._books.get(market)
        return book.depth(n) if book is not None else ([], [])

    def get_order(self, order_id: Unchecked) -> OrderInfo | None:
        try:
            order = self._orders.get(order_id)
        except TypeError:
            return None
        return None if order is None else _info(order)

    def open_orders(self, account: str, market: int | None = None) -> list[OrderInfo]:
        """Resting and pending orders of an account, in placement order."""
        mine = self._by_account.get(account)
        if not mine:
            return []
        return [_info(o) for o in mine.values() if market is None or o.cmd.market == market]

    def book_orders(self, market: int) -> tuple[list[OrderInfo], list[OrderInfo]]:
        """Every resting order in priority order: (bids best first, asks best first)."""
        book = self._books[market]
        bids = [_info(o) for p in reversed(book.bid_prices) for o in book.bids[p].live()]
        asks = [_info(o) for k in reversed(book.ask_keys) for o in book.asks[-k].live()]
        return bids, asks

    # ------------------------------------------------------------------ snapshot
    def snapshot(self) -> dict:
        """The whole engine as plain data (see snapshot.py)."""
        from .snapshot import take_snapshot
        return take_snapshot(self)

    @classmethod
    def restore(cls, snap: dict) -> "Engine":
        from .snapshot import restore_snapshot
        return restore_snapshot(cls, snap)


def _info(order: RestingOrder | PendingTrigger) -> OrderInfo:
    cmd = order.cmd
    stp = cmd.stp
    if type(order) is RestingOrder:
        price, size, triggered = order.price, order.size, True
    else:
        price, size, triggered = cmd.price, cmd.size, False
    return OrderInfo(
        id=order.id, account=order.account, market=cmd.market, is_buy=cmd.is_buy,
        price=price, size=size, kind=OrderKind(cmd.kind), tif=TimeInForce(cmd.tif),
        expiry=cmd.expiry, post_only=PostOnly(cmd.post_only), reduce_only=cmd.reduce_only,
        stp=STPMode(stp) if stp is not None else None, triggered=triggered,
        trigger_price=cmd.trigger_price, tag=cmd.tag,
    )
