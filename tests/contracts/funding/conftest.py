"""Fixtures for the Funding contract on its own: Funding with the operator as FUNDING_ROLE
and ETH configured with 60 s intervals and a 1 % cap. The Exchange with funding (`fx`,
`push_rate`) and `create_funding` are in tests/conftest.py."""

import functools

import pytest

from tests.constants import ETH, ETH_PRICE, USDC


@pytest.fixture(scope="module")
def funding(create_funding, oracle):
    return create_funding(oracle)


@pytest.fixture
def next_interval(advance_interval, funding):
    """next_interval(market=ETH, price=ETH_PRICE) -> the id of the interval after the start,
    now complete (advance_interval on `funding`)."""
    return functools.partial(advance_interval, funding)


@pytest.fixture(scope="module")
def open_pair(exchange, operator, maker, taker, fund, create_order, create_fill):
    """open_pair(size, price=ETH_PRICE, long=maker, short=taker): fund both, open long/short."""

    def open_(size, price=ETH_PRICE, long=maker, short=taker, collateral=10_000 * USDC):
        fund(long, collateral)
        fund(short, collateral)
        mo = create_order(long, True, price, size)
        to = create_order(short, False, price, size)
        return exchange.settle([create_fill(mo, to)], sender=operator)

    return open_


@pytest.fixture(scope="module")
def fill(exchange, operator, create_order, create_fill):
    def _trade(maker_, taker_, maker_buys, size, price=ETH_PRICE, market=ETH):
        mo = create_order(maker_, maker_buys, price, size, market=market)
        to = create_order(taker_, not maker_buys, price, size, market=market)
        return exchange.settle([create_fill(mo, to)], sender=operator)

    return _trade
