"""Funding.update_funding: one rate per market per completed interval, within the cap,
by the funding role, at a usable Oracle price; the index grows by exactly
offchain.funding.index_delta (the keeper's maths)."""

import ape
import pytest

from offchain.funding import RATE_ONE, index_delta
from tests.constants import ETH, ETH_PRICE
from tests.constants import FUNDING_CAP as CAP
from tests.constants import FUNDING_INTERVAL as INTERVAL


def test_update_funding__valid__index_grows_and_event(funding, operator, next_interval):
    k = next_interval()
    rate = RATE_ONE // 10_000  # 0.01 %
    tx = funding.update_funding(ETH, k, rate, sender=operator)
    index, last, interval_s, cap = funding.funding_state(ETH)
    assert index == index_delta(rate, ETH_PRICE) == funding.index(ETH)
    assert (last, interval_s, cap) == (k, INTERVAL, CAP)
    [event] = tx.events
    assert (event.market, event.interval, event.rate, event.mark, event.index) == (ETH, k, rate, ETH_PRICE, index)


def test_update_funding__negative_rate__index_falls_by_exact_opposite(funding, operator, next_interval):
    k = next_interval()
    funding.update_funding(ETH, k, -12_345, sender=operator)
    assert funding.index(ETH) == index_delta(-12_345, ETH_PRICE) == -index_delta(12_345, ETH_PRICE)


def test_update_funding__same_interval_twice__reverts(funding, operator, next_interval):
    k = next_interval()
    funding.update_funding(ETH, k, 1, sender=operator)
    with ape.reverts("funding: interval"):
        funding.update_funding(ETH, k, 1, sender=operator)


def test_update_funding__interval_not_ended__reverts(chain, funding, operator, next_interval):
    k = next_interval()
    current = chain.pending_timestamp // INTERVAL
    with ape.reverts("funding: interval"):
        funding.update_funding(ETH, current, 1, sender=operator)
    funding.update_funding(ETH, k, 1, sender=operator)


def test_update_funding__older_than_last__reverts(chain, funding, operator, next_interval):
    k = next_interval()
    chain.pending_timestamp += 3 * INTERVAL
    next_interval()
    funding.update_funding(ETH, k + 2, 1, sender=operator)
    with ape.reverts("funding: interval"):
        funding.update_funding(ETH, k + 1, 1, sender=operator)


def test_update_funding__start_interval__not_accepted(funding, operator, next_interval):
    k = next_interval()
    with ape.reverts("funding: interval"):
        funding.update_funding(ETH, k - 1, 1, sender=operator)  # the partial one config started in


@pytest.mark.parametrize("rate", [CAP, -CAP])
def test_update_funding__at_cap__accepted(funding, operator, next_interval, rate):
    funding.update_funding(ETH, next_interval(), rate, sender=operator)
    assert funding.index(ETH) == index_delta(rate, ETH_PRICE)


@pytest.mark.parametrize("rate", [CAP + 1, -CAP - 1])
def test_update_funding__above_cap__reverts(funding, operator, next_interval, rate):
    k = next_interval()
    with ape.reverts("funding: cap"):
        funding.update_funding(ETH, k, rate, sender=operator)


def test_update_funding__not_funder__reverts(funding, stranger, admin, next_interval):
    k = next_interval()
    for who in (stranger, admin):
        with ape.reverts("funding: not funder"):
            funding.update_funding(ETH, k, 1, sender=who)


def test_update_funding__unknown_market__reverts(funding, operator, next_interval):
    next_interval()
    with ape.reverts("funding: unknown market"):
        funding.update_funding(77, 1, 1, sender=operator)


def test_update_funding__stale_price__reverts(chain, funding, operator, next_interval, oracle):
    k = next_interval()
    chain.pending_timestamp += oracle.max_age() + 1
    with ape.reverts("funding: stale price"):
        funding.update_funding(ETH, k, 1, sender=operator)


def test_update_funding__halted__reverts(funding, operator, next_interval, oracle, admin):
    k = next_interval()
    oracle.halt(ETH, sender=admin)
    with ape.reverts("funding: halted"):
        funding.update_funding(ETH, k, 1, sender=operator)


def test_set_funding_config__valid__event_and_restart(chain, funding, admin):
    tx = funding.set_funding_config(ETH, 3_600, 4 * RATE_ONE // 100, sender=admin)
    start = tx.timestamp // 3_600
    [event] = tx.events
    assert (event.market, event.interval_s, event.cap, event.start_interval) == (ETH, 3_600, 4 * RATE_ONE // 100, start)
    assert funding.funding_state(ETH)[1:] == (start, 3_600, 4 * RATE_ONE // 100)


@pytest.mark.parametrize("interval,cap,reason", [
    (0, 1, "bad interval"), (7 * 86_400 + 1, 1, "bad interval"), (60, 10**12 + 1, "bad cap"),
])
def test_set_funding_config__bad_values__revert(funding, admin, interval, cap, reason):
    with ape.reverts(f"funding: {reason}"):
        funding.set_funding_config(ETH, interval, cap, sender=admin)


def test_set_funding_config__not_admin__reverts(funding, operator):
    with ape.reverts("funding: not admin"):
        funding.set_funding_config(ETH, 60, 1, sender=operator)


def test_deploy__zero_oracle__reverts(project, admin):
    with ape.reverts("funding: zero address"):
        project.Funding.deploy("0x0000000000000000000000000000000000000000", sender=admin)
