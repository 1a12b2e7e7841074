"""The runners' pure decisions: configs -> engines, vault modes, caps, unwind steps."""

import pytest

from offchain.keeper.runners.configs import (PoolGridParams, StrategyKind, VaultStrategy, centred_lower_price,
                                             pool_grid_config, vault_grid_config, vault_quote_config)
from offchain.keeper.runners.plan import (VaultMode, VaultSnapshot, cap_limits, unwind_orders, unwind_size,
                                          unwind_slippage_bps, vault_mode, vault_signer)
from offchain.strategies import MarketState, RiskLimits
from tests.constants import LOT, TICK

ETH = 10**18
MARK = 2_000 * 10**6
A, B = "0x" + "01" * 20, "0x" + "02" * 20


def market(mark=MARK, halted=False):
    return MarketState(1, None, None, mark, 0, halted, TICK, LOT, LOT)


def snap(**kw):
    return VaultSnapshot("0xv", VaultStrategy(StrategyKind.GRID, 1, 3, 0, 0, 30, ETH), A, **kw)


def test_pool_grid_config__centred_on_anchor__levels_each_side():
    cfg = pool_grid_config(PoolGridParams(1, 10, 30, ETH // 10, True), MARK)
    levels = cfg.raw_levels()
    assert len(levels) == 21
    assert abs(levels[10] - MARK) <= 20  # the middle level is the anchor, up to integer rounding
    assert levels[11] == levels[10] * 10_030 // 10_000


def test_pool_grid_config__inactive__none():
    assert pool_grid_config(PoolGridParams(1, 10, 30, ETH, False), MARK) is None


def test_centred_lower_price__inverse_of_compounding():
    assert centred_lower_price(10**10, 100, 2) == 10**10 * 10_000 // 10_100 * 10_000 // 10_100


def test_vault_grid_config__range_form__bounds_fixed():
    s = VaultStrategy(StrategyKind.GRID, 1, levels=5, lower_price=1_800 * 10**6, upper_price=2_200 * 10**6,
                      size_per_level=ETH)
    cfg = vault_grid_config(s, anchor=123)
    assert (cfg.lower_price, cfg.upper_price, cfg.levels) == (1_800 * 10**6, 2_200 * 10**6, 11)


def test_vault_quote_config__many_levels__outer_bid_stays_positive():
    cfg = vault_quote_config(VaultStrategy(StrategyKind.QUOTE, 1, levels=200, size_per_level=ETH, spread_bps=9_000))
    assert cfg.spread_bps + 2 * 199 * cfg.level_spacing_bps < 20_000


def test_cap_limits__position_and_leverage__tighter_of_config_and_chain():
    limits = cap_limits(RiskLimits(max_position=5 * ETH), position_cap=2 * ETH, leverage_cap_bps=20_000,
                        equity=1_000 * 10**6)
    assert limits.max_position == 2 * ETH and limits.max_notional == 2_000 * 10**6
    assert cap_limits(RiskLimits(), leverage_cap_bps=10_000, equity=-5).max_notional == 1
    assert cap_limits(RiskLimits(max_notional=7)) == RiskLimits(max_notional=7)


def test_cap_limits__trade_guard__quotes_within_four_fifths_of_it():
    assert cap_limits(RiskLimits(), mark_distance_bps=50).max_mark_distance_bps == 40
    assert cap_limits(RiskLimits(max_mark_distance_bps=20), mark_distance_bps=50).max_mark_distance_bps == 20
    assert cap_limits(RiskLimits(), mark_distance_bps=1).max_mark_distance_bps == 1  # never 0 (= no limit)
    assert cap_limits(RiskLimits()).max_mark_distance_bps == 0


@pytest.mark.parametrize("kw, held, mode", [
    ({}, [A], VaultMode.RUN),
    ({}, [B], VaultMode.SKIP),
    ({"manager_paused": True}, [A], VaultMode.IDLE),
    ({"halted": True}, [A], VaultMode.CLOSE_ONLY),
    ({"close_only": True}, [A], VaultMode.CLOSE_ONLY),
    ({"queue_length": 1, "head_value": 10, "available": 5}, [A], VaultMode.UNWIND),
    ({"queue_length": 1, "head_value": 10, "available": 10}, [A], VaultMode.RUN),
    ({"unwinding": True, "unwind_agent": B}, [B], VaultMode.UNWIND),
    ({"unwinding": True, "unwind_agent": B}, [A], VaultMode.SKIP),
])
def test_vault_mode__state_and_keys__mode(kw, held, mode):
    v = snap(**kw)
    assert vault_mode(v, vault_signer(v, held)) is mode


def test_vault_snapshot__claimable_and_shortfall():
    assert snap(queue_length=1, head_value=10, available=12).claimable
    assert snap(queue_length=1, head_value=10, available=4).shortfall == 6
    assert snap().shortfall == 0 and not snap().claimable


def test_unwind_size__fraction_lot_and_dust():
    assert unwind_size(4 * ETH, 2_500, LOT, LOT) == ETH
    assert unwind_size(-4 * ETH, 2_500, LOT, LOT) == ETH
    assert unwind_size(LOT + LOT // 2, 2_500, LOT, LOT) == LOT  # min size, whole (lot-rounded) position
    assert unwind_size(LOT // 2, 2_500, LOT, LOT) == 0  # dust below a lot: cannot be traded
    assert unwind_size(5 * LOT, 7_000, LOT, 3 * LOT) == 5 * LOT  # remainder would be below min size


def test_unwind_orders__reduce_only_ioc_limits_within_slippage():
    orders = unwind_orders({1: 2 * ETH, 2: -ETH}, {1: market(), 2: MarketState(2, None, None, 60_000 * 10**6, 0,
                                                                             False, 100_000, 10**14, 10**14)},
                           step_bps=5_000, slippage_bps=100)
    sell, buy = orders
    assert (sell.market, sell.is_buy, sell.size, sell.reduce_only, sell.post_only) == (1, False, ETH, True, False)
    assert sell.price == MARK * 99 // 100 and sell.price % TICK == 0
    assert (buy.market, buy.is_buy, buy.size) == (2, True, ETH // 2)
    assert buy.price == 60_600 * 10**6


def test_unwind_orders__halted_market__skipped():
    assert unwind_orders({1: ETH}, {1: market(halted=True)}) == []


def test_unwind_slippage_bps__clamped_inside_the_vault_guard():
    assert unwind_slippage_bps(100, snap(max_mark_distance_bps=50)) == 40
    assert unwind_slippage_bps(30, snap(max_mark_distance_bps=50)) == 30  # tighter setting kept
    assert unwind_slippage_bps(100, snap(max_mark_distance_bps=1)) == 1
    assert unwind_slippage_bps(100, snap()) == 100  # guard not read: the setting
