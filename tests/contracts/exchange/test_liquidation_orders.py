"""Liquidation through the book: unsigned reduce-only liquidation orders the operator
submits in settle, accepted only while the account is liquidatable (at settlement), in
the band, in steps, above the backstop threshold; the penalty goes to the caller's reward
and the insurance fund.

Invariant kept: a liquidation fill never leaves the liquidated account below zero equity
(below the backstop threshold, or where it would, the fill is skipped and the backstop
path applies), and it never settles for a healthy account.
"""

import pytest

from tests.constants import ETH, ETH_PRICE, LOT, ONE, USDC

LIQUIDATION = 4
NO_SIG = (0, b"\x00" * 32, b"\x00" * 32)


@pytest.fixture(scope="module", autouse=True)
def friend(fund, maker):
    fund(maker, 1_000_000 * USDC)
    return maker


@pytest.fixture
def open_long(exchange, operator, fund, friend, create_order, create_fill):
    def _open(account, collateral, size=ONE, price=ETH_PRICE):
        fund(account, collateral)
        tx = exchange.settle(
            [create_fill(create_order(friend, False, price, size), create_order(account, True, price, size))], sender=operator
        )
        assert len(tx.decode_logs(exchange.FillSettled)) == 1

    return _open


def liq_fill(create_order, sign, friend, account, price, size, is_buy=False):
    """The friend's signed bid (maker) against the account's unsigned liquidation order (taker)."""
    m = create_order(friend, not is_buy, price, size)
    t = create_order(account, is_buy, price, size, flags=LIQUIDATION)
    return (m.as_tuple(), sign(m), t.as_tuple(), NO_SIG, size), m, t


def test_settle__liquidation_order_of_liquidatable_account__closes_with_penalty(
    exchange, oracle, admin, operator, taker, friend, open_long, create_order, sign, usdc, hash_of
):
    open_long(taker, 250 * USDC)
    oracle.set_price(ETH, 1_830 * USDC, sender=admin)  # equity 79 < maintenance 91.5, > 2/3 of it
    fill, m, t = liq_fill(create_order, sign, friend, taker, 1_825 * USDC, ONE)
    balance = usdc.balanceOf(exchange)
    tx = exchange.settle([fill], sender=operator)
    settled = tx.decode_logs(exchange.FillSettled)
    assert len(settled) == 1 and settled[0].taker_fee == 0
    penalty = 1_825 * USDC * exchange.liquidation_penalty_bps() // 10_000
    logs = tx.decode_logs(exchange.LiquidationFill)
    assert [(l.account, l.market, l.order_hash, l.size, l.price, l.penalty, l.reward) for l in logs] == [
        (taker.address, ETH, hash_of(t), -ONE, 1_825 * USDC, penalty, 0)
    ]
    assert exchange.position(taker, ETH) == (0, 0)
    assert exchange.collateral(taker) == 249 * USDC - 175 * USDC - penalty
    assert exchange.insurance_fund() == penalty
    assert usdc.balanceOf(exchange) == balance


@pytest.fixture
def half_reward_liquidation(exchange, oracle, admin, operator, taker, open_long, create_order, sign):
    """half_reward_liquidation(counterparty) -> (operator's collateral before, penalty): with
    half the penalty as the caller's reward, the taker's 1 ETH long on 250 USDC, marked at
    1,830, is liquidated at 1,825 against `counterparty`'s bid (the operator settles)."""

    def go(counterparty):
        exchange.set_insurance_config(0, 5_000, sender=admin)
        open_long(taker, 250 * USDC)
        oracle.set_price(ETH, 1_830 * USDC, sender=admin)
        fill, _, _ = liq_fill(create_order, sign, counterparty, taker, 1_825 * USDC, ONE)
        before = exchange.collateral(operator)
        exchange.settle([fill], sender=operator)
        return before, 1_825 * USDC * exchange.liquidation_penalty_bps() // 10_000

    return go


def test_settle__liquidation_order_reward_share__operator_paid(exchange, operator, friend, half_reward_liquidation):
    before, penalty = half_reward_liquidation(friend)
    assert exchange.collateral(operator) == before + penalty // 2
    assert exchange.insurance_fund() == penalty - penalty // 2


def test_settle__liquidation_order_of_healthy_account__skipped(
    exchange, operator, taker, friend, open_long, create_order, sign, assert_skipped
):
    open_long(taker, 1_000 * USDC)
    fill, m, t = liq_fill(create_order, sign, friend, taker, ETH_PRICE, ONE)
    assert_skipped(fill, m, t, "not liquidatable")


def test_settle__liquidation_order_below_backstop_threshold__skipped(
    exchange, oracle, admin, taker, friend, open_long, create_order, sign, assert_skipped
):
    open_long(taker, 250 * USDC)
    oracle.set_price(ETH, 1_800 * USDC, sender=admin)  # equity 49 < 2/3 of 90
    fill, m, t = liq_fill(create_order, sign, friend, taker, 1_800 * USDC, ONE)
    assert_skipped(fill, m, t, "backstop")


def test_settle__liquidation_order_into_negative_equity__skipped(
    exchange, oracle, admin, taker, friend, open_long, create_order, sign, assert_skipped
):
    open_long(taker, 250 * USDC)
    oracle.set_price(ETH, 1_830 * USDC, sender=admin)
    # at the band edge (mark -5%) the account would end at about -13 USDC
    fill, m, t = liq_fill(create_order, sign, friend, taker, 1_738_500_000, ONE)
    assert_skipped(fill, m, t, "backstop")


def test_settle__liquidation_order_growing_position__skipped(
    exchange, oracle, admin, taker, friend, open_long, create_order, sign, assert_skipped
):
    open_long(taker, 250 * USDC)
    oracle.set_price(ETH, 1_830 * USDC, sender=admin)
    fill, m, t = liq_fill(create_order, sign, friend, taker, 1_830 * USDC, ONE, is_buy=True)
    assert_skipped(fill, m, t, "reduce only")


def test_settle__liquidation_order_above_step__skipped_and_step_settles(
    exchange, oracle, admin, operator, taker, friend, open_long, create_order, sign, assert_skipped
):
    # 60 ETH (120k notional > 100k): a liquidation order closes at most 20% = 12 ETH
    open_long(taker, 12_100 * USDC, size=60 * ONE)
    oracle.set_price(ETH, 1_890 * USDC, sender=admin)  # equity ~5,440 < maintenance 5,670
    fill, m, t = liq_fill(create_order, sign, friend, taker, 1_890 * USDC, 12 * ONE + LOT)
    assert_skipped(fill, m, t, "step")
    fill, _, _ = liq_fill(create_order, sign, friend, taker, 1_890 * USDC, 12 * ONE)
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.LiquidationFill)) == 1
    assert exchange.position(taker, ETH)[0] == 48 * ONE


def test_settle__second_liquidation_order_in_cooldown__skipped(
    exchange, oracle, admin, operator, taker, friend, open_long, create_order, sign, hash_of
):
    open_long(taker, 12_100 * USDC, size=60 * ONE)
    oracle.set_price(ETH, 1_890 * USDC, sender=admin)
    # a small first step leaves the account liquidatable; the next order must wait
    first, _, _ = liq_fill(create_order, sign, friend, taker, 1_890 * USDC, ONE)
    second, m, t = liq_fill(create_order, sign, friend, taker, 1_890 * USDC, ONE)
    tx = exchange.settle([first, second], sender=operator)
    assert len(tx.decode_logs(exchange.LiquidationFill)) == 1
    assert [(l.taker_hash, l.reason) for l in tx.decode_logs(exchange.FillSkipped)] == [(hash_of(t), "cooldown")]


def test_settle__liquidation_order_ignores_nonce_floor_and_signature(
    exchange, oracle, admin, operator, taker, friend, open_long, create_order, sign
):
    open_long(taker, 250 * USDC)
    exchange.cancel_all_below(2**64 - 1, sender=taker)  # the account tries to void everything
    oracle.set_price(ETH, 1_830 * USDC, sender=admin)
    fill, _, _ = liq_fill(create_order, sign, friend, taker, 1_825 * USDC, ONE)
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.LiquidationFill)) == 1


def test_settle__both_sides_liquidation_orders__skipped(
    exchange, oracle, admin, taker, other, friend, open_long, create_order, assert_skipped
):
    open_long(taker, 250 * USDC)
    m = create_order(other, True, ETH_PRICE, ONE, flags=LIQUIDATION)
    t = create_order(taker, False, ETH_PRICE, ONE, flags=LIQUIDATION)
    assert_skipped((m.as_tuple(), NO_SIG, t.as_tuple(), NO_SIG, ONE), m, t, "flags")


def test_settle__counterparty_of_liquidation_still_needs_its_signature(
    exchange, oracle, admin, taker, friend, open_long, create_order, assert_skipped
):
    open_long(taker, 250 * USDC)
    oracle.set_price(ETH, 1_830 * USDC, sender=admin)
    m = create_order(friend, True, 1_825 * USDC, ONE)
    t = create_order(taker, False, 1_825 * USDC, ONE, flags=LIQUIDATION)
    assert_skipped((m.as_tuple(), NO_SIG, t.as_tuple(), NO_SIG, ONE), m, t, "bad signature")


def test_settle__operator_is_the_counterparty__reward_kept(exchange, operator, fund, half_reward_liquidation):
    fund(operator, 10_000 * USDC)
    before, penalty = half_reward_liquidation(operator)
    # opening a long costs no collateral and earns no rebate (the taker paid no fee)
    assert exchange.collateral(operator) == before + penalty // 2
    assert exchange.position(operator, ETH)[0] == ONE
