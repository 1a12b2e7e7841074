"""On-chain cancel of one order, and of all orders below a nonce."""

import ape

from tests.constants import USDC


def test_cancel_order__by_account__marks_cancelled(exchange, create_order, maker, hash_of):
    order = create_order(maker, True)
    tx = exchange.cancel_order(order.as_tuple(), sender=maker)
    assert exchange.cancelled(hash_of(order))
    assert exchange.filled(hash_of(order)) == 2**256 - 1
    assert [(l.account, l.order_hash) for l in tx.decode_logs(exchange.OrderCancelled)] == [(maker.address, hash_of(order))]


def test_cancel_order__by_agent(exchange, create_order, maker, accounts, hash_of):
    agent = accounts[5]
    exchange.approve_agent(agent, True, sender=maker)
    order = create_order(maker, True)
    exchange.cancel_order(order.as_tuple(), sender=agent)
    assert exchange.cancelled(hash_of(order))


def test_cancel_order__by_stranger__reverts(exchange, create_order, maker, stranger):
    with ape.reverts("exchange: not authorised"):
        exchange.cancel_order(create_order(maker, True).as_tuple(), sender=stranger)


def test_cancel_order__partially_filled__stops_the_rest(exchange, fund, create_order, create_fill, operator, maker, taker, hash_of):
    fund(maker, 10_000 * USDC)
    fund(taker, 10_000 * USDC)
    m = create_order(maker, True, size=10**18)
    exchange.settle([create_fill(m, create_order(taker, False), size=10**17)], sender=operator)
    exchange.cancel_order(m.as_tuple(), sender=maker)
    tx = exchange.settle([create_fill(m, create_order(taker, False), size=10**17)], sender=operator)
    assert tx.decode_logs(exchange.FillSkipped)[0].reason == "cancelled"


def test_cancel_all_below__sets_floor_and_logs(exchange, maker):
    tx = exchange.cancel_all_below(100, sender=maker)
    assert exchange.min_nonce(maker) == 100
    assert [(l.account, l.min_nonce) for l in tx.decode_logs(exchange.MinNonceSet)] == [(maker.address, 100)]


def test_cancel_all_below__only_increases(exchange, maker):
    exchange.cancel_all_below(100, sender=maker)
    with ape.reverts("exchange: nonce not increasing"):
        exchange.cancel_all_below(100, sender=maker)
    with ape.reverts("exchange: nonce not increasing"):
        exchange.cancel_all_below(50, sender=maker)


def test_cancel_all_below__too_large__reverts(exchange, maker):
    with ape.reverts("exchange: nonce too large"):
        exchange.cancel_all_below(2**64, sender=maker)


def test_cancel_all_below_for__by_agent(exchange, maker, accounts):
    agent = accounts[5]
    exchange.approve_agent(agent, True, sender=maker)
    exchange.cancel_all_below_for(maker, 7, sender=agent)
    assert exchange.min_nonce(maker) == 7


def test_cancel_all_below_for__by_stranger__reverts(exchange, maker, stranger):
    with ape.reverts("exchange: not authorised"):
        exchange.cancel_all_below_for(maker, 7, sender=stranger)
