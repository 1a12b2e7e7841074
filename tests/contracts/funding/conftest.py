"""Fixtures for the Funding contract: an Oracle with a fresh ETH price, Funding with the
operator as FUNDING_ROLE and ETH configured with 60 s intervals and a 1 % cap."""

import pytest

from tests.constants import ETH, ETH_PRICE

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
