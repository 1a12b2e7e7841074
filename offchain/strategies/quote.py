"""Two-sided quote engine: bids and asks around a reference price.

Per update the engine either returns the full desired set or None ("keep what rests"):
- first level: bid and ask `spread_bps` apart (full width) around the reference, further
  levels `level_spacing_bps` further out on each side, sizes growing `size_growth_bps`;
- inventory skew: with d = position - target_inventory and r = d / inventory_limit in
  [-1, 1], both quotes move down by r * skew_bps (long -> cheaper, to sell) and sizes tilt
  (bid size x (1 - r), ask size x (1 + r)); quotes on a side whose fills would take the
  position past target +/- inventory_limit are cut to what still fits, then withdrawn;
- requoting: at most every `refresh_ms`; at a refresh the quotes are kept when the
  reference moved less than `tolerance_bps` and the position did not change (they keep
  their queue place). A price moving *towards* a quote until it is nearer than
  min_spread_bps / 2 forces a requote at once (adverse selection guard);
- after a fill nothing is requoted for `fill_delay_ms` (lets the book settle);
- funding skew (off by default): with the predicted funding rate f (MarketState.funding_rate,
  a fraction scaled by 1e12, positive = longs pay) both quotes move down by
  f * funding_skew_bps / 10_000 of the reference (longs pay -> lean short), toward zero;
- price_ceiling / price_floor: no bid above the ceiling, no ask below the floor;
- hanging orders: after a fill, the other side's first-level quote stays resting while
  new quotes are made around it, until it fills, drifts `hanging_cancel_bps` from the
  reference, would cross, or sits on a withdrawn side.
Halted markets return [] (pull everything); staleness is the RiskGate's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from offchain.strategies.market import AccountState, MarketState
from offchain.strategies.orders import NOTHING_TAKEN, Applied, DesiredOrder, Fill
from offchain.strategies.rounding import BPS, mul_bps, round_ask, round_bid

_BPS2 = 2 * BPS
_RATE_ONE = 10**12  # offchain.funding.RATE_ONE (kept local: strategies import nothing from the keeper side)


@dataclass(frozen=True, slots=True)
class QuoteConfig:
    """All bps are integers; sizes in base units; prices in USDC units; times in ms.

    spread_bps is the full bid-to-ask width of the first level (half each side).
    inventory_limit 0 disables skew and withdrawal. price_ceiling/floor 0 = none.
    hanging_cancel_bps 0 = hanging orders are not cancelled for distance.
    """

    market: int
    spread_bps: int
    order_size: int
    levels: int = 1
    min_spread_bps: int = 0
    level_spacing_bps: int = 0
    size_growth_bps: int = 0
    target_inventory: int = 0
    inventory_limit: int = 0
    skew_bps: int = 0
    refresh_ms: int = 0
    tolerance_bps: int = 0
    fill_delay_ms: int = 0
    price_ceiling: int = 0
    price_floor: int = 0
    hanging_orders: bool = False
    hanging_cancel_bps: int = 0
    post_only: bool = True
    funding_skew_bps: int = 0  # 10_000 = shift by one interval's predicted funding; 0 = off

    def __post_init__(self) -> None:
        if self.spread_bps <= 0 or self.order_size <= 0 or self.levels < 1:
            raise ValueError("need spread_bps > 0, order_size > 0 and levels >= 1")
        if self.spread_bps < self.min_spread_bps:
            raise ValueError("spread_bps is below min_spread_bps")
        for name in ("min_spread_bps", "level_spacing_bps", "size_growth_bps", "inventory_limit",
                     "skew_bps", "refresh_ms", "tolerance_bps", "fill_delay_ms", "price_ceiling",
                     "price_floor", "hanging_cancel_bps", "funding_skew_bps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.spread_bps + 2 * (self.levels - 1) * self.level_spacing_bps >= _BPS2:
            raise ValueError("outer levels would reach a zero or negative bid")


class QuoteEngine:
    __slots__ = ("config", "_quotes", "_ref", "_at", "_position", "_hold_until", "_hanging",
                 "_sizes")

    def __init__(self, config: QuoteConfig) -> None:
        self.config = config
        self._quotes: list[DesiredOrder] | None = None  # last set returned
        self._ref = 0
        self._at = 0
        self._position = 0
        self._hold_until = -1
        self._hanging: list[DesiredOrder] = []
        size, growth = config.order_size, BPS + config.size_growth_bps
        sizes = []
        for _ in range(config.levels):
            sizes.append(size)
            size = size * growth // BPS
        self._sizes = tuple(sizes)

    @property
    def hanging(self) -> tuple[DesiredOrder, ...]:
        return tuple(self._hanging)

    paused = False  # quotes follow the price: no range to leave

    def desired(self, state: MarketState, account: AccountState, now: int) -> list[DesiredOrder] | None:
        """The `Engine` entry point (strategies.step): `update`."""
        return self.update(state, account, now)

    def undo_fill(self, fill: Fill, taken: int | None = None) -> bool:
        """A fill the chain skipped: nothing to invert (the fill delay and hanging orders are
        only timing; the next requote reads the position again)."""
        return False

    def on_fill(self, fill: Fill, now: int = 0) -> Applied:
        """Record a fill of one of our quotes: starts the fill delay, manages hanging orders."""
        self._hold_until = now + self.config.fill_delay_ms
        hanging = self._hanging
        for j, h in enumerate(hanging):  # a hanging order filled: shrink or drop it
            if h.is_buy == fill.is_buy and h.price == fill.price:
                left = h.size - fill.size
                if left > 0:
                    hanging[j] = DesiredOrder(h.market, h.is_buy, h.price, left, h.post_only)
                else:
                    del hanging[j]
                return NOTHING_TAKEN
        if self.config.hanging_orders and self._quotes:
            for q in self._quotes:  # the other side's first (best) quote is left hanging
                if q.is_buy != fill.is_buy:
                    if q not in hanging:
                        hanging.append(q)
                    break
        return NOTHING_TAKEN

    def update(self, state: MarketState, account: AccountState, now: int) -> list[DesiredOrder] | None:
        """Desired quotes, or None to keep the current ones unchanged."""
        if state.halted:
            self._quotes = None
            self._hanging.clear()
            return []
        if now < self._hold_until:
            return None
        cfg = self.config
        ref = state.reference_price
        position = account.position
        quotes = self._quotes
        if quotes is not None and position == self._position:
            if now - self._at < cfg.refresh_ms:
                if not self._too_close(quotes, ref):
                    return None
            elif abs(ref - self._ref) * BPS < cfg.tolerance_bps * self._ref and not self._too_close(quotes, ref):
                self._at = now  # checked at this refresh: the timer starts again
                return None
        quotes = self._build(state, position, ref)
        self._quotes, self._ref, self._at, self._position = quotes, ref, now, position
        return quotes

    # -- internals --------------------------------------------------------------------
    def _too_close(self, quotes: list[DesiredOrder], ref: int) -> bool:
        half = self.config.min_spread_bps  # compare 2 * distance against min width
        if not half:
            return False
        for q in quotes:
            distance = ref - q.price if q.is_buy else q.price - ref
            if distance * _BPS2 < half * ref:
                return True
        return False

    def _build(self, state: MarketState, position: int, ref: int) -> list[DesiredOrder]:
        cfg = self.config
        tick, lot, min_size = state.tick, state.lot, state.min_size
        limit = cfg.inventory_limit
        deviation = position - cfg.target_inventory
        ratio = 0  # inventory deviation as bps of the limit, in [-10_000, 10_000]
        bid_room = ask_room = -1  # -1 = unlimited
        if limit:
            ratio = min(BPS, abs(deviation) * BPS // limit)  # toward zero: symmetric skew
            if deviation < 0:
                ratio = -ratio
            bid_room = max(0, limit - deviation)
            ask_room = max(0, limit + deviation)
        center = ref - mul_bps(mul_bps(ref, cfg.skew_bps), ratio)
        if cfg.funding_skew_bps and state.funding_rate:
            shift = abs(ref * state.funding_rate) * cfg.funding_skew_bps // (_RATE_ONE * BPS)
            center -= shift if state.funding_rate > 0 else -shift
        bid_mult, ask_mult = BPS - ratio, BPS + ratio
        best_bid, best_ask = state.best_bid, state.best_ask
        ceiling, floor = cfg.price_ceiling, cfg.price_floor
        market, post_only = cfg.market, cfg.post_only
        bids: list[DesiredOrder] = []
        asks: list[DesiredOrder] = []
        width = cfg.spread_bps
        for size in self._sizes:
            offset = center * width // _BPS2
            bid = round_bid(center - offset, tick)
            ask = round_ask(center + offset, tick)
            if ask <= bid:
                ask = bid + tick
            if best_ask is not None and bid >= best_ask:  # post-only would not rest
                bid = round_bid(best_ask - 1, tick)
            if best_bid is not None and ask <= best_bid:
                ask = round_ask(best_bid + 1, tick)
            bid_size = size * bid_mult // BPS // lot * lot
            ask_size = size * ask_mult // BPS // lot * lot
            if bid_room >= 0:
                bid_size = min(bid_size, bid_room // lot * lot)
            if ask_room >= 0:
                ask_size = min(ask_size, ask_room // lot * lot)
            if bid > 0 and bid_size and bid_size >= min_size and not (ceiling and bid > ceiling):
                bids.append(DesiredOrder(market, True, bid, bid_size, post_only))
                if bid_room >= 0:
                    bid_room -= bid_size
            if ask_size and ask_size >= min_size and not (floor and ask < floor):
                asks.append(DesiredOrder(market, False, ask, ask_size, post_only))
                if ask_room >= 0:
                    ask_room -= ask_size
            width += 2 * cfg.level_spacing_bps
        if self._hanging:
            self._keep_hanging(bids, asks, ref, bid_room, ask_room)
        return bids + asks

    def _keep_hanging(self, bids: list[DesiredOrder], asks: list[DesiredOrder], ref: int,
                      bid_room: int, ask_room: int) -> None:
        cancel_bps = self.config.hanging_cancel_bps
        best_new_ask = min((a.price for a in asks), default=None)
        best_new_bid = max((b.price for b in bids), default=None)
        kept: list[DesiredOrder] = []
        for h in self._hanging:
            if cancel_bps and abs(h.price - ref) * BPS > cancel_bps * ref:
                continue
            if h.is_buy:
                if (best_new_ask is not None and h.price >= best_new_ask) or (0 <= bid_room < h.size):
                    continue
                if bid_room >= 0:
                    bid_room -= h.size
                bids.append(h)
            else:
                if (best_new_bid is not None and h.price <= best_new_bid) or (0 <= ask_room < h.size):
                    continue
                if ask_room >= 0:
                    ask_room -= h.size
                asks.append(h)
            kept.append(h)
        self._hanging = kept
