"""Fee flow: taker fee (round up), maker rebate (round down), accrual, distribution."""

import ape
import pytest

from tests.constants import LOT, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def test_fees__rounding__fee_up_rebate_down(exchange, create_order, create_fill, maker, taker, settle):
    # notional 2,000 USDC * 0.001 = 2.000000 USDC -> fee 5 bps = 1,000 units; use an odd notional
    price = 1_999_990_000
    _, settled, _ = settle(create_fill(create_order(maker, True, price, LOT), create_order(taker, False, price, LOT)))
    notional = price * LOT // 10**18  # 1,999,990
    assert settled[0].taker_fee == -(-notional * 5 // 10_000) == 1_000
    assert settled[0].maker_rebate == notional * 2 // 10_000 == 399
    assert exchange.fees_accrued() == 601


def test_set_fee_config__logs(exchange, admin, lp, treasury):
    tx = exchange.set_fee_config(lp, 4_000, treasury, sender=admin)
    assert (exchange.fee_recipient(), exchange.fee_share_bps(), exchange.treasury()) == (lp.address, 4_000, treasury.address)
    assert [(l.recipient, l.share_bps, l.treasury) for l in tx.decode_logs(exchange.FeeConfigSet)] == [
        (lp.address, 4_000, treasury.address)
    ]


def test_set_fee_config__bad__reverts(exchange, admin, lp, treasury, stranger):
    with ape.reverts("exchange: bad share"):
        exchange.set_fee_config(lp, 10_001, treasury, sender=admin)
    with ape.reverts("exchange: zero address"):
        exchange.set_fee_config("0x0000000000000000000000000000000000000000", 1, treasury, sender=admin)
    with ape.reverts("exchange: not admin"):
        exchange.set_fee_config(lp, 1, treasury, sender=stranger)


def test_distribute_fees__splits_between_recipient_and_treasury(exchange, usdc, admin, lp, treasury, create_order, create_fill, maker, taker, settle, stranger):
    exchange.set_fee_config(lp, 4_000, treasury, sender=admin)
    settle(create_fill(create_order(maker, True), create_order(taker, False)))
    fees = exchange.fees_accrued()
    assert fees == 600_000
    tx = exchange.distribute_fees(sender=stranger)
    assert exchange.fees_accrued() == 0
    assert exchange.collateral(lp) == 240_000
    assert usdc.balanceOf(treasury) == 360_000
    logs = tx.decode_logs(exchange.FeesDistributed)
    assert [(l.recipient, l.recipient_amount, l.treasury, l.treasury_amount) for l in logs] == [
        (lp.address, 240_000, treasury.address, 360_000)
    ]


def test_distribute_fees__no_recipient__all_to_treasury(exchange, usdc, treasury, create_order, create_fill, maker, taker, settle):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))
    exchange.distribute_fees(sender=maker)
    assert usdc.balanceOf(treasury) == 600_000


def test_distribute_fees__nothing__reverts(exchange, stranger):
    with ape.reverts("exchange: no fees"):
        exchange.distribute_fees(sender=stranger)
