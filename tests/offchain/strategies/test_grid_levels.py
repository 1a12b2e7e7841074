from offchain.strategies import (GridConfig, GridEngine, Spacing, arithmetic_levels, geometric_levels,
                                 step_levels)
from offchain.strategies.ladder import integer_root
from tests.constants import USDC

ETH = 10**18


def test_grid_levels__arithmetic__even_steps_both_ends_included():
    assert arithmetic_levels(100 * USDC, 200 * USDC, 5) == [100 * USDC, 125 * USDC, 150 * USDC, 175 * USDC, 200 * USDC]


def test_grid_levels__geometric_step__hip2_thirty_bps_compounds_in_integers():
    levels = step_levels(1000 * USDC, 30, 4)
    assert levels == [1000 * USDC, 1003 * USDC, 1006_009000, 1009_027027]


def test_grid_levels__geometric_between_bounds__constant_ratio_exact_ends():
    levels = geometric_levels(1000, 8000, 4)
    assert levels == [1000, 2000, 4000, 8000]
    wide = geometric_levels(2900 * USDC, 3400 * USDC, 50)
    assert wide[0] == 2900 * USDC and wide[-1] == 3400 * USDC and len(wide) == 50
    ratios = [b * 10**9 // a for a, b in zip(wide, wide[1:])]
    assert max(ratios) - min(ratios) <= 2  # equal ratios up to the unit rounding


def test_grid_levels__integer_root__exact_floor():
    for value, k in [(26, 3), (27, 3), (10**36, 2), (2**200 - 1, 7), (1, 5), (0, 3)]:
        r = integer_root(value, k)
        assert r**k <= value < (r + 1) ** k


def test_grid_levels__from_step__sets_upper_to_last_level():
    cfg = GridConfig.from_step(1, 1000 * USDC, 30, 4, ETH)
    assert cfg.upper_price == 1009_027027
    assert GridEngine(cfg).raw_levels == tuple(step_levels(1000 * USDC, 30, 4))


def test_grid_levels__seeding__buys_below_sells_above_gap_at_price(at):
    cfg = GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC)
    orders = GridEngine(cfg).desired(at(151 * USDC))  # nearest level: 150 -> left empty
    assert [(o.is_buy, o.price) for o in orders] == [
        (True, 100 * USDC), (True, 125 * USDC), (False, 175 * USDC), (False, 200 * USDC)]
    assert all(o.post_only and o.size == ETH for o in orders)


def test_grid_levels__size__rounded_down_to_lot(at):
    cfg = GridConfig(1, 100 * USDC, 200 * USDC, 3, ETH + 123, Spacing.ARITHMETIC)
    orders = GridEngine(cfg).desired(at(150 * USDC))
    assert {o.size for o in orders} == {ETH}


def test_grid_levels__step_below_tick__rejected(at):
    import pytest
    cfg = GridConfig(1, 100 * USDC, 100 * USDC + 30_000, 5, ETH, Spacing.ARITHMETIC)
    with pytest.raises(ValueError, match="tick"):
        GridEngine(cfg).desired(at(100 * USDC + 10_000))
