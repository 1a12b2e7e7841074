import ape

from .conftest import EPOCH, TIERS, USDC, record


def test_record__fresh_accounts__base_tier(rebate, exchange, maker, taker):
    rv, tx = record(rebate, maker, taker, 500 * USDC, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[0][2])
    assert tx.events == []  # no per-fill event: FillSettled carries the fees
    assert rebate.trailing_volume(maker) == 500 * USDC
    assert rebate.trailing_volume(taker) == 500 * USDC


def test_record__tier_from_volume_before_fill(rebate, exchange, maker, taker):
    # This fill crosses tier 1 for both but is charged at tier 0.
    rv, tx = record(rebate, maker, taker, 1_000_000 * USDC, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[0][2])
    assert rebate.tier_of(maker) == 1
    assert rebate.tier_of(taker) == 1
    rv, tx = record(rebate, maker, taker, 1, sender=exchange)
    assert rv == (TIERS[1][1], TIERS[1][2])


def test_record__fee_of_taker_rebate_of_maker(rebate, exchange, maker, taker, stranger):
    rebate.record(maker, stranger, 10_000_000 * USDC, sender=exchange)  # maker -> tier 2
    assert rebate.fee_bps(maker, taker) == (TIERS[0][1], TIERS[2][2])
    assert rebate.fee_bps(taker, maker) == (TIERS[2][1], TIERS[0][2])
    rv, tx = record(rebate, maker, taker, USDC, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[2][2])


def test_record__not_exchange__reverts(rebate, admin, maker, taker, stranger):
    for account in (admin, stranger):
        with ape.reverts("rebate: not exchange"):
            rebate.record(maker, taker, USDC, sender=account)


def test_record__same_account__counted_both_sides(rebate, exchange, maker):
    rv, tx = record(rebate, maker, maker, 5 * USDC, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[0][2])
    assert rebate.trailing_volume(maker) == 10 * USDC


def test_record__zero_notional__ok(rebate, exchange, maker, taker):
    rv, tx = record(rebate, maker, taker, 0, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[0][2])
    assert rebate.trailing_volume(maker) == 0


def test_record__same_epoch__accumulates(rebate, exchange, maker, taker):
    rebate.record(maker, taker, 3 * USDC, sender=exchange)
    tx = rebate.record(maker, taker, 4 * USDC, sender=exchange)
    epoch = tx.timestamp // EPOCH
    assert rebate.volume_state(maker) == (epoch, 7 * USDC, 0)
