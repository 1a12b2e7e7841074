"""deposit, deposit_for, withdraw (margin-checked)."""

import ape

from tests.constants import ETH, ONE, USDC


def test_deposit__credits_sender_and_moves_usdc(exchange, usdc, fund, maker):
    fund(maker, 500 * USDC, deposit=False)
    tx = exchange.deposit(500 * USDC, sender=maker)
    assert exchange.collateral(maker) == 500 * USDC
    assert usdc.balanceOf(exchange) == 500 * USDC
    assert usdc.balanceOf(maker) == 0
    logs = tx.decode_logs(exchange.Deposit)
    assert [(l.account, l.sender, l.amount) for l in logs] == [(maker.address, maker.address, 500 * USDC)]


def test_deposit_for__credits_account_from_sender(exchange, usdc, fund, lp, maker):
    fund(lp, 300 * USDC, deposit=False)
    tx = exchange.deposit_for(maker, 300 * USDC, sender=lp)
    assert exchange.collateral(maker) == 300 * USDC
    assert exchange.collateral(lp) == 0
    assert [(l.account, l.sender, l.amount) for l in tx.decode_logs(exchange.Deposit)] == [
        (maker.address, lp.address, 300 * USDC)
    ]


def test_deposit__zero__reverts(exchange, maker):
    with ape.reverts("exchange: zero amount"):
        exchange.deposit(0, sender=maker)


def test_deposit_for__zero_address__reverts(exchange, maker):
    with ape.reverts("exchange: zero address"):
        exchange.deposit_for("0x0000000000000000000000000000000000000000", 1, sender=maker)


def test_deposit__without_allowance__reverts(exchange, usdc, admin, maker):
    usdc.mint(maker, USDC, sender=admin)
    with ape.reverts():
        exchange.deposit(USDC, sender=maker)


def test_withdraw__returns_usdc(exchange, usdc, fund, maker):
    fund(maker, 500 * USDC)
    tx = exchange.withdraw(200 * USDC, sender=maker)
    assert exchange.collateral(maker) == 300 * USDC
    assert usdc.balanceOf(maker) == 200 * USDC
    assert [(l.account, l.amount) for l in tx.decode_logs(exchange.Withdraw)] == [(maker.address, 200 * USDC)]


def test_withdraw__more_than_collateral__reverts(exchange, fund, maker):
    fund(maker, 500 * USDC)
    with ape.reverts("exchange: insufficient collateral"):
        exchange.withdraw(500 * USDC + 1, sender=maker)


def test_withdraw__zero__reverts(exchange, maker):
    with ape.reverts("exchange: zero amount"):
        exchange.withdraw(0, sender=maker)


def open_long(create_order, create_fill, settle, maker, taker):
    _, settled, _ = settle(create_fill(create_order(maker, False), create_order(taker, True)))
    assert len(settled) == 1


def test_withdraw__below_initial_margin__reverts(exchange, fund, create_order, create_fill, settle, maker, taker):
    fund(maker, 10_000 * USDC)
    fund(taker, 1_000 * USDC)
    open_long(create_order, create_fill, settle, maker, taker)  # taker needs 200 initial margin
    free = exchange.free_collateral(taker)
    with ape.reverts("exchange: margin"):
        exchange.withdraw(free + 1, sender=taker)
    exchange.withdraw(free, sender=taker)
    assert exchange.free_collateral(taker) == 0


def test_withdraw__stale_price_with_position__valued_with_haircut(
    exchange, fund, create_order, create_fill, settle, maker, taker, chain, oracle
):
    fund(maker, 10_000 * USDC)
    fund(taker, 1_000 * USDC)
    open_long(create_order, create_fill, settle, maker, taker)
    chain.pending_timestamp += oracle.max_age() + 1
    # the stale long is valued 10% below its last price (1,800): equity ~800, initial 180
    tx = exchange.withdraw(USDC, sender=taker)
    assert [(l.account, l.amount) for l in tx.decode_logs(exchange.Withdraw)] == [(taker.address, USDC)]
    # fine at the last price (equity 300 >= 200), refused at the haircut (100 < 180)
    with ape.reverts("exchange: margin"):
        exchange.withdraw(700 * USDC, sender=taker)


def test_withdraw__halted_price_with_position__valued_with_haircut(
    exchange, fund, create_order, create_fill, settle, maker, taker, oracle, admin
):
    fund(maker, 10_000 * USDC)
    fund(taker, 1_000 * USDC)
    open_long(create_order, create_fill, settle, maker, taker)
    oracle.halt(ETH, sender=admin)
    exchange.withdraw(USDC, sender=taker)
    assert exchange.collateral(taker) < 999 * USDC
    with ape.reverts("exchange: margin"):
        exchange.withdraw(700 * USDC, sender=taker)


def test_withdraw__after_closing__full_amount(exchange, fund, create_order, create_fill, settle, maker, taker):
    fund(maker, 10_000 * USDC)
    fund(taker, 1_000 * USDC)
    open_long(create_order, create_fill, settle, maker, taker)
    settle(create_fill(create_order(maker, True), create_order(taker, False)))
    assert exchange.position(taker, ETH) == (0, 0)
    exchange.withdraw(exchange.collateral(taker), sender=taker)
    assert exchange.collateral(taker) == 0
