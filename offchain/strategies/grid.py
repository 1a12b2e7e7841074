"""Grid engine: a ladder of price levels with buys below and sells above the price.

State is one signed quantity per level (+ = a buy rests there, - = a sell, 0 = empty).
When a buy at level k fills, a sell of the filled size goes to level k+1; when a sell at
level k fills, a buy goes to level k-1. So each buy-then-sell (or sell-then-buy) round
trip earns one step, unlike placing the opposite order at the same price, which earns
nothing. On seeding, the level nearest the price is left empty: that gap is where the
next flip lands, so a flip never stacks on an existing order on the other side. Should
fills arrive out of order and a flip land on a level holding the opposite side, the two
quantities net (a buy and a sell at one price would only trade with each other).

Pure logic: config + market state in, desired orders out; an `Engine` (strategies.step).
The host calls `desired(state)` on every update and `on_fill(fill)` for every fill of a
grid order, then hands the result to the RiskGate and the reconciler (`step.decide`). A
fill that is later undone (the chain skipped it) goes back through
`undo_fill(fill, applied.taken)`, the exact inverse of `on_fill` / `apply_fill`.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from enum import Enum

import msgspec

from offchain.strategies.ladder import arithmetic_levels, geometric_levels, step_levels
from offchain.strategies.market import AccountState, MarketState
from offchain.strategies.orders import Applied, DesiredOrder, Fill
from offchain.strategies.rounding import round_size


class Spacing(str, Enum):
    ARITHMETIC = "arithmetic"
    GEOMETRIC = "geometric"


class GridStatus(str, Enum):
    UNSEEDED = "unseeded"  # waiting for a first (non-halted, in-range) price
    ACTIVE = "active"
    PAUSED = "paused"  # price outside the activation bounds: all orders pulled


@dataclass(frozen=True, slots=True)
class GridConfig:
    """A grid on one market. Prices in USDC units per whole base unit, sizes in base units.

    lower_price/upper_price/levels: the ladder (levels >= 2 price points, both ends included).
    step_bps: if > 0 the ladder is geometric with this exact step from lower_price (HIP-2:
        30), and levels above upper_price are dropped; `from_step` sets upper_price for you.
    seed_levels: 0 seeds every level; n seeds only the n levels on each side of the price
        (less capital on the book; flips still walk the grid from there).
    max_open_orders: 0 = no cap; else only the n orders nearest the price are emitted (the
        rest stay in the state and appear as the price comes near).
    activation_lower/upper: outside these bounds the grid is paused (orders pulled, state
        kept). 0 = lower_price / upper_price.
    """

    market: int
    lower_price: int
    upper_price: int
    levels: int
    size_per_level: int
    spacing: Spacing = Spacing.GEOMETRIC
    step_bps: int = 0
    seed_levels: int = 0
    max_open_orders: int = 0
    activation_lower: int = 0
    activation_upper: int = 0
    post_only: bool = True

    def __post_init__(self) -> None:
        if self.levels < 2 or self.size_per_level <= 0:
            raise ValueError("a grid needs at least 2 levels and a positive size")
        if not 0 < self.lower_price < self.upper_price:
            raise ValueError("need 0 < lower_price < upper_price")
        if self.step_bps < 0 or self.seed_levels < 0 or self.max_open_orders < 0:
            raise ValueError("step_bps, seed_levels and max_open_orders must be >= 0")
        if self.step_bps and self.spacing is not Spacing.GEOMETRIC:
            raise ValueError("step_bps applies to geometric spacing only")

    @classmethod
    def from_step(
        cls, market: int, lower_price: int, step_bps: int, levels: int, size_per_level: int, **kw: object
    ) -> GridConfig:
        """Geometric grid defined by its step (the on-chain 'spacing bps' form)."""
        upper = step_levels(lower_price, step_bps, levels)[-1]
        return cls(market, lower_price, upper, levels, size_per_level, Spacing.GEOMETRIC, step_bps, **kw)  # type: ignore[arg-type]

    def raw_levels(self) -> list[int]:
        if self.step_bps:
            return [p for p in step_levels(self.lower_price, self.step_bps, self.levels) if p <= self.upper_price]
        if self.spacing is Spacing.ARITHMETIC:
            return arithmetic_levels(self.lower_price, self.upper_price, self.levels)
        return geometric_levels(self.lower_price, self.upper_price, self.levels)


class GridSnapshot(msgspec.Struct, frozen=True):
    """What the keeper journals to restore a grid after a restart."""

    quantities: tuple[int, ...]
    seeded: bool


class _Ladder:
    """Level prices rounded for one tick, plus price -> level maps for routing fills."""

    __slots__ = ("tick", "bids", "asks", "bid_level", "ask_level")

    def __init__(self, raw: list[int], tick: int) -> None:
        self.tick = tick
        # round_bid / round_ask inlined: this runs on every cold start (bench goal 50 us)
        self.bids = [p // tick * tick for p in raw]
        self.asks = [-(-p // tick) * tick for p in raw]
        self.bid_level = dict(zip(self.bids, range(len(raw))))
        self.ask_level = dict(zip(self.asks, range(len(raw))))
        if len(self.bid_level) != len(raw) or len(self.ask_level) != len(raw):
            raise ValueError(f"grid step is smaller than the tick ({tick}): levels collide")


class GridEngine:
    __slots__ = ("config", "status", "_raw", "_qty", "_seeded", "_ladder", "_size")

    def __init__(self, config: GridConfig, snapshot: GridSnapshot | None = None) -> None:
        self.config = config
        self._raw = config.raw_levels()
        self._qty = [0] * len(self._raw)
        self._seeded = False
        self._ladder: _Ladder | None = None
        self._size = config.size_per_level
        self.status = GridStatus.UNSEEDED
        if snapshot is not None:
            if len(snapshot.quantities) != len(self._raw):
                raise ValueError("snapshot does not match the config's ladder")
            self._qty = list(snapshot.quantities)
            self._seeded = snapshot.seeded
            self.status = GridStatus.ACTIVE if snapshot.seeded else GridStatus.UNSEEDED

    # -- read-only views --------------------------------------------------------------
    @property
    def raw_levels(self) -> tuple[int, ...]:
        return tuple(self._raw)

    @property
    def quantities(self) -> tuple[int, ...]:
        return tuple(self._qty)

    def snapshot(self) -> GridSnapshot:
        return GridSnapshot(tuple(self._qty), self._seeded)

    # -- engine -----------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.status is GridStatus.PAUSED

    def desired(self, state: MarketState, account: AccountState | None = None, now: int = 0) -> list[DesiredOrder]:
        """The full set of orders the grid wants resting now ([] = none). The grid's state is
        its own ladder: the account and the clock do not change it."""
        cfg = self.config
        ladder = self._ladder
        if ladder is None or ladder.tick != state.tick:
            ladder = self._ladder = _Ladder(self._raw, state.tick)
            self._size = round_size(cfg.size_per_level, state.lot)
        ref = state.reference_price
        if not self._seeded and state.halted:  # a halted mark may be stale: never anchor on it
            return []
        lo = cfg.activation_lower or cfg.lower_price
        hi = cfg.activation_upper or cfg.upper_price
        if not lo <= ref <= hi:
            self.status = GridStatus.PAUSED
            return []
        if not self._seeded:
            self._seed(ref)
        self.status = GridStatus.ACTIVE
        return self._emit(ladder, ref, state.lot)

    def on_fill(self, fill: Fill, now: int = 0) -> Applied | None:
        """Apply a fill of one of the grid's orders; None if it is not a grid price."""
        taken = self.apply_fill(fill)
        return None if taken is None else Applied(taken)

    def apply_fill(self, fill: Fill) -> int | None:
        """Apply a fill; returns the size taken off the filled level (what `undo_fill`
        needs to invert it exactly), or None if it is not a grid fill."""
        k = self._level_of(fill)
        if k is None:
            return None
        qty = self._qty
        if fill.is_buy:
            taken = min(fill.size, max(qty[k], 0))
            qty[k] -= taken
            if k + 1 < len(qty):
                qty[k + 1] -= fill.size  # sell one level up
        else:
            taken = min(fill.size, max(-qty[k], 0))
            qty[k] += taken
            if k > 0:
                qty[k - 1] += fill.size  # buy one level down
        return taken

    def undo_fill(self, fill: Fill, taken: int | None = None) -> bool:
        """Undo an applied fill (the chain skipped it): the flip is withdrawn and the filled
        level gets its size back. `taken` is what `apply_fill` returned; None means the
        whole fill size (which is what apply_fill takes unless fills arrived out of order).
        False if it is not a grid fill."""
        k = self._level_of(fill)
        if k is None:
            return False
        qty = self._qty
        taken = fill.size if taken is None else taken
        if fill.is_buy:
            qty[k] += taken
            if k + 1 < len(qty):
                qty[k + 1] += fill.size
        else:
            qty[k] -= taken
            if k > 0:
                qty[k - 1] -= fill.size
        return True

    def _level_of(self, fill: Fill) -> int | None:
        ladder = self._ladder
        if ladder is None or fill.market != self.config.market or fill.size <= 0:
            return None
        return (ladder.bid_level if fill.is_buy else ladder.ask_level).get(fill.price)

    # -- internals --------------------------------------------------------------------
    def _seed(self, ref: int) -> None:
        raw = self._raw
        # The gap: the level nearest the price stays empty (see module docstring).
        gap = bisect_left(raw, ref)
        if gap == len(raw) or (gap > 0 and ref - raw[gap - 1] <= raw[gap] - ref):
            gap -= 1  # the lower level is nearer (or as near: ties go down)
        n = len(raw)
        reach = self.config.seed_levels or n
        first, last = max(0, gap - reach), min(n - 1, gap + reach)
        size = self._size
        qty = self._qty
        qty[first:gap] = [size] * (gap - first)
        qty[gap + 1:last + 1] = [-size] * (last - gap)
        self._seeded = True

    def _emit(self, ladder: _Ladder, ref: int, lot: int) -> list[DesiredOrder]:
        cfg = self.config
        market, post_only = cfg.market, cfg.post_only
        bids, asks = ladder.bids, ladder.asks
        out: list[DesiredOrder] = []
        append = out.append
        for i, q in enumerate(self._qty):
            if q > 0:
                size = q // lot * lot
                if size:
                    append(DesiredOrder(market, True, bids[i], size, post_only))
            elif q < 0:
                size = -q // lot * lot
                if size:
                    append(DesiredOrder(market, False, asks[i], size, post_only))
        if out and _crossed(out):
            out = _uncross(out, ref)
        cap = cfg.max_open_orders
        if cap and len(out) > cap:
            # nearest the price first; ties broken by level order so output is deterministic
            keep = sorted(range(len(out)), key=lambda j: (abs(out[j].price - ref), j))[:cap]
            out = [out[j] for j in sorted(keep)]
        return out



def _crossed(orders: list[DesiredOrder]) -> bool:
    bids = [o.price for o in orders if o.is_buy]
    asks = [o.price for o in orders if not o.is_buy]
    return bool(bids and asks and max(bids) >= min(asks))


def _uncross(orders: list[DesiredOrder], ref: int) -> list[DesiredOrder]:
    """Fills reported out of order can leave a flipped order beyond the other side's
    orders. Withhold (not forget: the state keeps them) the orders on the wrong side of
    the price until the pending fills arrive, so the grid never crosses itself."""
    return [o for o in orders if (o.price < ref if o.is_buy else o.price > ref)]  # bids < ref < asks
