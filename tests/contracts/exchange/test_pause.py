"""Emergency pause: stops settle, deposits and liquidations; withdrawals and cancels stay."""

import ape

from tests.constants import ETH, USDC


def test_pause__by_pauser__logs(exchange, pauser):
    tx = exchange.pause(sender=pauser)
    assert exchange.paused()
    assert len(tx.decode_logs(exchange.Paused)) == 1


def test_pause__not_pauser__reverts(exchange, admin):
    with ape.reverts("exchange: not pauser"):
        exchange.pause(sender=admin)


def test_pause__twice__reverts(exchange, pauser):
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        exchange.pause(sender=pauser)


def test_unpause__restores(exchange, pauser):
    exchange.pause(sender=pauser)
    tx = exchange.unpause(sender=pauser)
    assert not exchange.paused()
    assert len(tx.decode_logs(exchange.Unpaused)) == 1


def test_unpause__not_paused__reverts(exchange, pauser):
    with ape.reverts("exchange: not paused"):
        exchange.unpause(sender=pauser)


def test_pause__stops_settle(exchange, pauser, operator, create_order, create_fill, maker, taker):
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        exchange.settle([create_fill(create_order(maker, True), create_order(taker, False))], sender=operator)


def test_pause__stops_deposits(exchange, pauser, fund, maker):
    fund(maker, USDC, deposit=False)
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        exchange.deposit(USDC, sender=maker)
    with ape.reverts("exchange: paused"):
        exchange.deposit_for(maker, USDC, sender=maker)


def test_pause__stops_liquidation(exchange, pauser, maker):
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        exchange.liquidate(maker, ETH, sender=maker)


def test_pause__withdraw_and_cancel_still_work(exchange, pauser, fund, maker, create_order):
    fund(maker, 10 * USDC)
    exchange.pause(sender=pauser)
    exchange.withdraw(10 * USDC, sender=maker)
    exchange.cancel_order(create_order(maker, True).as_tuple(), sender=maker)
    exchange.cancel_all_below(5, sender=maker)
    assert exchange.collateral(maker) == 0
