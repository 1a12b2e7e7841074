import pytest
from hypothesis import given, settings, strategies as st

from offchain.strategies import Fill, GridConfig, GridEngine, GridStatus, Spacing

from offchain.strategies import MarketState
from tests.constants import USDC


def market_at(price: int, *, tick: int = 10_000, halted: bool = False) -> MarketState:
    return MarketState(1, price - tick, price + tick, price, 0, halted, tick, 10**15, 10**15)

ETH = 10**18


def test_grid__price_outside_activation__paused_and_resumes(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC,
                                   activation_lower=110 * USDC, activation_upper=190 * USDC))
    active = engine.desired(at(150 * USDC))
    assert len(active) == 4
    assert engine.desired(at(105 * USDC)) == [] and engine.status is GridStatus.PAUSED
    assert engine.desired(at(195 * USDC)) == []
    assert engine.desired(at(150 * USDC)) == active and engine.status is GridStatus.ACTIVE


def test_grid__first_price_out_of_range__not_seeded(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    assert engine.desired(at(250 * USDC)) == []
    assert engine.status is GridStatus.PAUSED and not engine.snapshot().seeded


def test_grid__halted_before_seeding__waits(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    assert engine.desired(at(150 * USDC, halted=True)) == []
    assert engine.status is GridStatus.UNSEEDED


def test_grid__seed_levels__only_nearest_levels_seeded(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 11, ETH, Spacing.ARITHMETIC, seed_levels=2))
    prices = [o.price for o in engine.desired(at(150 * USDC))]
    assert prices == [130 * USDC, 140 * USDC, 160 * USDC, 170 * USDC]


def test_grid__max_open_orders__nearest_to_price_kept(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 11, ETH, Spacing.ARITHMETIC, max_open_orders=3))
    prices = [o.price for o in engine.desired(at(151 * USDC))]
    assert prices == [140 * USDC, 160 * USDC, 170 * USDC]


@settings(max_examples=60, deadline=None)
@given(
    lower=st.integers(50 * USDC, 5000 * USDC),
    width_bps=st.integers(200, 5000),
    levels=st.integers(2, 60),
    geometric=st.booleans(),
    where=st.integers(0, 10_000),
    fills=st.lists(st.tuples(st.booleans(), st.integers(0, 59)), max_size=30),
)
def test_grid__any_grid_and_fills__never_crosses_itself(lower, width_bps, levels, geometric, where, fills):
    upper = lower + lower * width_bps // 10_000
    cfg = GridConfig(1, lower, upper, levels, ETH, Spacing.GEOMETRIC if geometric else Spacing.ARITHMETIC)
    tick = 10_000
    try:
        engine = GridEngine(cfg)
        ref = lower + (upper - lower) * where // 10_000
        orders = engine.desired(market_at(ref, tick=tick))
    except ValueError:
        return  # step smaller than the tick: refused, fine
    for is_buy, k in fills:  # fill any of the resting orders, in any order
        candidates = [o for o in orders if o.is_buy == is_buy]
        if candidates:
            o = candidates[k % len(candidates)]
            engine.on_fill(Fill(1, o.is_buy, o.price, o.size))
            orders = engine.desired(market_at(ref, tick=tick))
        bids = [o.price for o in orders if o.is_buy]
        asks = [o.price for o in orders if not o.is_buy]
        assert not bids or not asks or max(bids) < min(asks)
        assert all(o.price % tick == 0 for o in orders)
        assert len({(o.is_buy, o.price) for o in orders}) == len(orders)


def test_grid__config__invalid_rejected():
    with pytest.raises(ValueError):
        GridConfig(1, 200 * USDC, 100 * USDC, 5, ETH)
    with pytest.raises(ValueError):
        GridConfig(1, 100 * USDC, 200 * USDC, 1, ETH)
    with pytest.raises(ValueError):
        GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC, step_bps=30)
