"""liquidate(account, market): position to the backstop at mark, with a penalty."""

import ape
import pytest

from tests.constants import ETH, ETH_PRICE, ONE, USDC


@pytest.fixture(scope="module")
def backstop(exchange, admin, lp, fund):
    fund(lp, 100_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    return lp


@pytest.fixture(scope="module")
def underwater(exchange, fund, maker, taker, create_order, create_fill, operator, backstop):
    """taker long 1 ETH at 2,000 with 250 USDC of collateral; maker short."""
    fund(maker, 100_000 * USDC)
    fund(taker, 250 * USDC)
    exchange.settle([create_fill(create_order(maker, False), create_order(taker, True))], sender=operator)
    return taker


def test_set_backstop__logs(exchange, admin, lp):
    tx = exchange.set_backstop(lp, sender=admin)
    assert exchange.backstop() == lp.address
    assert [l.backstop for l in tx.decode_logs(exchange.BackstopSet)] == [lp.address]


def test_set_backstop__not_admin__reverts(exchange, stranger):
    with ape.reverts("exchange: not admin"):
        exchange.set_backstop(stranger, sender=stranger)


def test_liquidate__healthy__reverts(exchange, underwater, stranger):
    with ape.reverts("exchange: not liquidatable"):
        exchange.liquidate(underwater, ETH, sender=stranger)


def test_liquidate__below_maintenance__moves_position_with_penalty(exchange, oracle, admin, underwater, backstop, stranger, usdc):
    mark = 1_850 * USDC  # equity 250 - 1 - 150 = 99 < 92.5? no: maintenance 5% of 1,850 = 92.5
    oracle.set_price(ETH, 1_800 * USDC, sender=admin)  # equity 49 < 90
    mark = 1_800 * USDC
    coll_before = exchange.collateral(underwater)
    equity_before = exchange.equity(underwater)
    bs_before = exchange.collateral(backstop)
    balance = usdc.balanceOf(exchange)
    tx = exchange.liquidate(underwater, ETH, sender=stranger)
    penalty = min(mark * exchange.liquidation_penalty_bps() // 10_000, equity_before)
    assert exchange.position(underwater, ETH) == (0, 0)
    assert exchange.position(backstop, ETH) == (ONE, mark)
    assert exchange.collateral(underwater) == coll_before - 200 * USDC - penalty
    # the penalty feeds the insurance fund (the caller's reward share is 0 by default)
    assert exchange.collateral(backstop) == bs_before
    assert exchange.insurance_fund() == penalty
    assert usdc.balanceOf(exchange) == balance
    logs = tx.decode_logs(exchange.Liquidation)
    assert [(l.account, l.market, l.backstop, l.size, l.price, l.penalty, l.caller) for l in logs] == [
        (underwater.address, ETH, backstop.address, ONE, mark, penalty, stranger.address)
    ]
    assert [(l.amount, l.balance) for l in tx.decode_logs(exchange.InsuranceInflow)] == [(penalty, penalty)]


def test_liquidate__reward_share__caller_paid(exchange, oracle, admin, underwater, backstop, stranger):
    exchange.set_insurance_config(0, 4_000, sender=admin)
    oracle.set_price(ETH, 1_800 * USDC, sender=admin)
    equity_before = exchange.equity(underwater)
    exchange.liquidate(underwater, ETH, sender=stranger)
    penalty = min(1_800 * USDC * exchange.liquidation_penalty_bps() // 10_000, equity_before)
    reward = penalty * 4_000 // 10_000
    assert exchange.collateral(stranger) == reward
    assert exchange.insurance_fund() == penalty - reward


def test_liquidate__bankrupt_fund_short__reverts(exchange, oracle, admin, underwater, backstop, stranger):
    oracle.set_price(ETH, 1_500 * USDC, sender=admin)
    oracle.set_price(ETH, 1_000 * USDC, sender=admin)  # equity 249 - 1,000 < 0, fund empty
    with ape.reverts("exchange: insurance short"):
        exchange.liquidate(underwater, ETH, sender=stranger)


def test_liquidate__bankrupt_fund_covers__no_bad_debt_left(
    exchange, oracle, admin, underwater, backstop, stranger, fund, usdc
):
    fund(admin, 1_000 * USDC, deposit=False)
    exchange.deposit_insurance(1_000 * USDC, sender=admin)
    oracle.set_price(ETH, 1_500 * USDC, sender=admin)
    oracle.set_price(ETH, 1_000 * USDC, sender=admin)
    deficit = -exchange.equity(underwater)
    tx = exchange.liquidate(underwater, ETH, sender=stranger)
    assert exchange.collateral(underwater) == 0
    assert exchange.insurance_fund() == 1_000 * USDC - deficit
    assert exchange.bad_debt_covered() == deficit
    logs = tx.decode_logs(exchange.InsuranceCover)
    assert [(l.account, l.amount, l.balance) for l in logs] == [(underwater.address, deficit, 1_000 * USDC - deficit)]


def test_liquidate__backstop_below_margin__reverts(exchange, oracle, admin, underwater, backstop, stranger):
    oracle.set_price(ETH, 1_800 * USDC, sender=admin)
    exchange.withdraw(exchange.collateral(backstop) - 100 * USDC, sender=backstop)
    with ape.reverts("exchange: backstop margin"):
        exchange.liquidate(underwater, ETH, sender=stranger)


def test_liquidate__no_backstop__reverts(exchange, admin, underwater, stranger):
    exchange.set_backstop("0x0000000000000000000000000000000000000000", sender=admin)
    with ape.reverts("exchange: no backstop"):
        exchange.liquidate(underwater, ETH, sender=stranger)


def test_liquidate__no_position__reverts(exchange, backstop, other, stranger):
    with ape.reverts("exchange: no position"):
        exchange.liquidate(other, ETH, sender=stranger)


def test_liquidate__stale_price__reverts(exchange, oracle, chain, underwater, stranger):
    chain.pending_timestamp += oracle.max_age() + 1
    with ape.reverts("exchange: stale price"):
        exchange.liquidate(underwater, ETH, sender=stranger)


def test_set_liquidation_penalty__bounds_and_logs(exchange, admin):
    tx = exchange.set_liquidation_penalty(250, sender=admin)
    assert exchange.liquidation_penalty_bps() == 250
    assert [l.penalty_bps for l in tx.decode_logs(exchange.LiquidationPenaltySet)] == [250]
    with ape.reverts("exchange: bad penalty"):
        exchange.set_liquidation_penalty(2_001, sender=admin)
