"""Fixtures for the Funding contract: an Oracle with a fresh ETH price, Funding with the
operator as FUNDING_ROLE and ETH configured with 60 s intervals and a 1 % cap."""

import pytest

from offchain.funding import RATE_ONE, index_delta
from tests.constants import ETH, ETH_PRICE, USDC

INTERVAL = 60
CAP = 10**10  # 1 % of RATE_ONE (1e12)


@pytest.fixture(scope="module")
def create_funding(project, admin, operator):
    def create(oracle, interval=INTERVAL, cap=CAP, markets=(ETH,)):
        funding = project.Funding.deploy(oracle, sender=admin)
        funding.grantRole(funding.FUNDING_ROLE(), operator, sender=admin)
        for market in markets:
            funding.set_funding_config(market, interval, cap, sender=admin)
        return funding

    return create


@pytest.fixture(scope="module")
def funding(create_funding, oracle):
    return create_funding(oracle)


@pytest.fixture
def next_interval(chain, oracle, admin, funding):
    """Move the clock into the interval after the next one and refresh the price, so the
    interval after the start is complete; returns its id."""

    def advance(market=ETH, price=ETH_PRICE):
        _, last, interval_s, _ = funding.funding_state(market)
        target = (last + 2) * interval_s + 1
        if chain.pending_timestamp < target:
            chain.pending_timestamp = target
        oracle.set_price(market, price, sender=admin)
        return last + 1

    return advance


# ---- the Exchange with funding (test_exchange_funding.py, test_funding_residue.py, ...)

@pytest.fixture(scope="module")
def fx(exchange, create_funding, oracle, admin):
    """The Exchange with a Funding contract (60 s intervals, cap 100 % an interval)."""
    funding = create_funding(oracle, interval=INTERVAL, cap=RATE_ONE)
    exchange.set_funding(funding, sender=admin)
    return funding


@pytest.fixture(scope="module")
def push_rate(chain, fx, oracle, admin, operator):
    """push_rate(rate, market=ETH, price=ETH_PRICE) -> the index step: the next complete
    interval's rate at a fresh price."""

    def push(rate, market=ETH, price=ETH_PRICE):
        _, last, interval_s, _ = fx.funding_state(market)
        target = (last + 2) * interval_s + 1
        if chain.pending_timestamp < target:
            chain.pending_timestamp = target
        oracle.set_price(market, price, sender=admin)
        fx.update_funding(market, last + 1, rate, sender=operator)
        return index_delta(rate, price)

    return push


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
