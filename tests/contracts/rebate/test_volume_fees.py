"""The Exchange records trailing volume (both sides of every settled fill) and charges the
taker fee of the taker's tier and the maker rebate of the maker's tier, both looked up
from the volume before the fill."""
import pytest

from .conftest import EPOCH, TIERS, USDC, charged


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def test_fill__fresh_accounts__base_tier_and_volume_recorded(exchange, trade, maker, taker):
    tx, log = trade(maker, taker, 500 * USDC)
    assert charged(log, 500 * USDC, TIERS, 0, 0)
    assert exchange.trailing_volume(maker) == 500 * USDC
    assert exchange.trailing_volume(taker) == 500 * USDC
    assert exchange.volume_state(maker) == ((tx.timestamp // EPOCH) % 2**16, 500 * USDC, 0)


def test_fill__tier_from_volume_before_fill(exchange, rebate, trade, maker, taker):
    # This fill lifts both into tier 1 but is charged at tier 0.
    tx, log = trade(maker, taker, 1_000_000 * USDC)
    assert charged(log, 1_000_000 * USDC, TIERS, 0, 0)
    assert rebate.tier_for_volume(exchange.trailing_volume(maker)) == 1
    assert rebate.tier_for_volume(exchange.trailing_volume(taker)) == 1
    tx, log = trade(maker, taker, 1_000 * USDC, maker_buys=False)
    assert charged(log, 1_000 * USDC, TIERS, 1, 1)


def test_fill__fee_from_taker_tier_rebate_from_maker_tier(exchange, trade, maker, taker, stranger):
    trade(maker, stranger, 10_000_000 * USDC)  # maker (and stranger) -> tier 2
    tx, log = trade(maker, taker, 1_000 * USDC, maker_buys=False)
    assert charged(log, 1_000 * USDC, TIERS, 0, 2)
    tx, log = trade(taker, maker, 1_000 * USDC)
    assert charged(log, 1_000 * USDC, TIERS, 2, 0)


def test_fill__same_epoch__accumulates(exchange, trade, maker, taker):
    trade(maker, taker, 4 * USDC)
    tx, _ = trade(maker, taker, 6 * USDC, maker_buys=False)
    assert exchange.volume_state(maker) == ((tx.timestamp // EPOCH) % 2**16, 10 * USDC, 0)
    assert exchange.volume_state(taker) == ((tx.timestamp // EPOCH) % 2**16, 10 * USDC, 0)


def test_fill__skipped__records_no_volume(exchange, operator, create_order, create_fill, maker, taker):
    order = create_order(maker, True)
    tx = exchange.settle([create_fill(order, create_order(taker, True))], sender=operator)  # same side
    assert [log.reason for log in tx.decode_logs(exchange.FillSkipped)] == ["side"]
    assert exchange.volume_state(maker) == (0, 0, 0)
    assert exchange.trailing_volume(taker) == 0


def test_tier_change__applies_from_next_batch(exchange, rebate, admin, trade, maker, taker):
    trade(maker, taker, 2_000 * USDC)
    rebate.set_tiers([(0, 9, 1), (1_000 * USDC, 7, 3)], sender=admin)
    tx, log = trade(maker, taker, 1_000 * USDC, maker_buys=False)
    assert (log.taker_fee, log.maker_rebate) == (1_000 * USDC * 7 // 10_000, 1_000 * USDC * 3 // 10_000)


def test_rebate_engine__has_no_volume_entry_points(rebate):
    # only the Exchange records volume: the engine has no recording function at all
    assert not hasattr(rebate, "record")
    assert not hasattr(rebate, "EXCHANGE_ROLE")  # no role to grant the Exchange: it only reads the table
