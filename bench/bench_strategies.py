"""Strategy engine latency. Prints `name: value` lines (microseconds per call, best of 5)."""

from __future__ import annotations

import timeit

from offchain.strategies import (AccountState, DesiredOrder, GridConfig, GridEngine, LiveOrder, MarketState,
                                 QuoteConfig, QuoteEngine, RiskGate, RiskLimits, Spacing, reconcile)

USDC = 10**6
ETH = 10**18


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def market(price: int) -> MarketState:
    return MarketState(1, price - 10_000, price + 10_000, price, 0, False, 10_000, 10**15, 10**15)


def main() -> None:
    state = market(3000 * USDC)
    # HIP-2 style: 50 geometric levels 30 bps apart. Cold: ladder, tick rounding, seeding
    # and the 49 desired orders, from a fresh engine.
    step_cfg = GridConfig.from_step(1, 2_700 * USDC, 30, 50, ETH // 10)
    print(f"grid_generate_50_levels_us: {per_call_us(lambda: GridEngine(step_cfg).desired(state), 2_000):.1f}")
    bounds_cfg = GridConfig(1, 2_700 * USDC, 3_300 * USDC, 50, ETH // 10, Spacing.GEOMETRIC)
    print(f"grid_generate_50_levels_bounds_us: {per_call_us(lambda: GridEngine(bounds_cfg).desired(state), 1_000):.1f}")
    grid = GridEngine(step_cfg)
    grid.desired(state)
    print(f"grid_desired_50_levels_us: {per_call_us(lambda: grid.desired(state), 5_000):.1f}")

    # Quote update that always recomputes (refresh 0, tolerance 0, the price alternates).
    cfg = QuoteConfig(1, spread_bps=20, order_size=ETH, inventory_limit=10 * ETH, skew_bps=10)
    quotes = QuoteEngine(cfg)
    account = AccountState(2 * ETH, 10**12)
    states = [market(3000 * USDC), market(3001 * USDC)]
    tick = [0]

    def quote_update() -> None:
        tick[0] += 1
        quotes.update(states[tick[0] & 1], account, tick[0])

    print(f"quote_update_us: {per_call_us(quote_update, 20_000):.2f}")
    cfg3 = QuoteConfig(1, spread_bps=20, order_size=ETH, levels=3, level_spacing_bps=10, size_growth_bps=5000,
                       inventory_limit=10 * ETH, skew_bps=10)
    quotes3 = QuoteEngine(cfg3)

    def quote_update_3() -> None:
        tick[0] += 1
        quotes3.update(states[tick[0] & 1], account, tick[0])

    print(f"quote_update_3_levels_us: {per_call_us(quote_update_3, 20_000):.2f}")
    kept = QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, refresh_ms=10**12))
    kept.update(state, account, 0)
    print(f"quote_update_keep_us: {per_call_us(lambda: kept.update(state, account, 1), 50_000):.2f}")

    desired = grid.desired(state)
    live = tuple(LiveOrder(i, o.market, o.is_buy, o.price, o.size) for i, o in enumerate(desired))
    moved = desired[1:] + [DesiredOrder(1, True, 2_600 * USDC, ETH // 10)]
    print(f"reconcile_50_orders_us: {per_call_us(lambda: reconcile(live, moved, min_size=10**15), 5_000):.1f}")
    gate = RiskGate(RiskLimits(max_position=100 * ETH, max_notional=10**12, max_open_orders=60,
                               max_drawdown_bps=2_000, max_mark_age_ms=10_000))
    account50 = AccountState(0, 10**12, live)
    print(f"risk_filter_50_orders_us: {per_call_us(lambda: gate.filter(desired, account50, state, 1), 5_000):.1f}")


if __name__ == "__main__":
    main()
