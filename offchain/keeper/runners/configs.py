"""On-chain strategy configs as values, and their mapping to the pure engines.

Pure: nothing here reads the chain. `chainview.py` fills these values from
`LiquidityPool.grid(market)` and `Vault.strategy()` (+ the Exchange's caps); `plan.py`
decides what to do with them.

Level counts: on chain `levels` is *per side* (docs/vaults.md, docs/pool.md). A grid of
n levels per side is a ladder of 2n + 1 prices centred on the anchor; the middle one is
the gap the grid engine leaves empty at seeding, so n bids and n asks rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from offchain.strategies import GridConfig, QuoteConfig
from offchain.strategies.delta_neutral import DeltaNeutralConfig
from offchain.strategies.rounding import BPS

GRID_ANCHOR_PRICE_FLOOR = 1  # a geometric ladder needs a positive lower price


class StrategyKind(IntEnum):
    NONE = 0
    GRID = 1
    QUOTE = 2
    DELTA_NEUTRAL = 3
    CUSTOM = 4


@dataclass(frozen=True, slots=True)
class PoolGridParams:
    """LiquidityPool.grid(market)."""

    market: int
    levels: int
    spacing_bps: int
    size_per_level: int
    active: bool


@dataclass(frozen=True, slots=True)
class VaultStrategy:
    """Vault.strategy() (the StrategyConfig struct, field for field)."""

    kind: int
    market: int
    levels: int = 0
    lower_price: int = 0
    upper_price: int = 0
    spacing_bps: int = 0
    size_per_level: int = 0
    spread_bps: int = 0
    hedge_threshold: int = 0
    custom: bytes = b""

    @classmethod
    def from_tuple(cls, raw: tuple) -> "VaultStrategy":
        kind, market, levels, lower, upper, spacing, size, spread, hedge, custom = raw
        return cls(int(kind), int(market), int(levels), int(lower), int(upper), int(spacing), int(size),
                   int(spread), int(hedge), bytes(custom))


@dataclass(frozen=True, slots=True)
class KeeperTuning:
    """Keeper-side knobs the chain does not carry (docs/runners.md)."""

    quote_refresh_ms: int = 5_000
    quote_tolerance_bps: int = 5
    quote_min_spread_bps: int = 0
    hedge_slippage_bps: int = 50
    hedge_cooldown_ms: int = 3_000
    grid_max_open_orders: int = 0


def centred_lower_price(anchor: int, spacing_bps: int, levels_per_side: int) -> int:
    """The lowest price of a geometric ladder whose middle level is `anchor`.

    Dividing down n times by (1 + step) with integer floor; `step_levels` then compounds
    back up from it, so the middle level lands within a few units of `anchor` (the grid
    engine rounds every level to the tick anyway).
    """
    lower = anchor
    for _ in range(levels_per_side):
        lower = lower * BPS // (BPS + spacing_bps)
    return max(lower, GRID_ANCHOR_PRICE_FLOOR)


def grid_from_spacing(market: int, anchor: int, spacing_bps: int, levels_per_side: int, size: int,
                      tuning: KeeperTuning = KeeperTuning()) -> GridConfig:
    lower = centred_lower_price(anchor, spacing_bps, levels_per_side)
    return GridConfig.from_step(market, lower, spacing_bps, 2 * levels_per_side + 1, size,
                                max_open_orders=tuning.grid_max_open_orders)


def pool_grid_config(params: PoolGridParams, anchor: int, tuning: KeeperTuning = KeeperTuning()) -> GridConfig | None:
    """The pool's grid around `anchor` (the mark when the grid is (re)built); None if inactive."""
    if not params.active or params.levels == 0 or params.size_per_level == 0 or anchor <= 0:
        return None
    return grid_from_spacing(params.market, anchor, params.spacing_bps, params.levels, params.size_per_level,
                             tuning)


def vault_grid_config(s: VaultStrategy, anchor: int, tuning: KeeperTuning = KeeperTuning()) -> GridConfig:
    """Range form (lower/upper set): geometric between the bounds, 2*levels+1 prices, fixed
    (the anchor is not used); spacing form: centred on `anchor` like the pool's grid."""
    if s.lower_price and s.upper_price:
        return GridConfig(s.market, s.lower_price, s.upper_price, 2 * s.levels + 1, s.size_per_level,
                          max_open_orders=tuning.grid_max_open_orders)
    return grid_from_spacing(s.market, anchor, s.spacing_bps, s.levels, s.size_per_level, tuning)


def vault_quote_config(s: VaultStrategy, tuning: KeeperTuning = KeeperTuning()) -> QuoteConfig:
    # Outer levels step out by half the spread per side; clamp so the outermost bid stays > 0.
    spacing = max(1, s.spread_bps // 2) if s.levels > 1 else 0
    while spacing and s.spread_bps + 2 * (s.levels - 1) * spacing >= 2 * BPS:
        spacing //= 2
    return QuoteConfig(
        market=s.market, spread_bps=s.spread_bps, order_size=s.size_per_level, levels=s.levels,
        level_spacing_bps=spacing, min_spread_bps=min(tuning.quote_min_spread_bps, s.spread_bps),
        refresh_ms=tuning.quote_refresh_ms, tolerance_bps=tuning.quote_tolerance_bps,
    )


def vault_hedge_config(s: VaultStrategy, tuning: KeeperTuning = KeeperTuning()) -> DeltaNeutralConfig:
    return DeltaNeutralConfig(market=s.market, hedge_threshold=s.hedge_threshold,
                              slippage_bps=tuning.hedge_slippage_bps, cooldown_ms=tuning.hedge_cooldown_ms)


def delta_neutral_quotes(s: VaultStrategy) -> bool:
    """A delta-neutral vault that also sets spread/size/levels quotes two-sided and hedges
    the inventory; with only a threshold it just hedges."""
    return s.kind == StrategyKind.DELTA_NEUTRAL and s.levels > 0 and s.size_per_level > 0 and 0 < s.spread_bps < BPS
