"""Funding PnL for analytics (offchain/analytics/funding.py): totals from FundingSettled
amounts, exact integers."""

from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.analytics.funding import FundingTotals, rate_bps, totals_from


def test_totals_from__paid_received_split_and_net():
    t = totals_from([5, -3, 7, -11], unsettled=2)
    assert t == FundingTotals(paid=12, received=14, unsettled=2, settlements=4)
    assert t.net == 14 - 12 - 2


def test_totals_from__none__zero():
    assert totals_from([]) == FundingTotals()
    assert FundingTotals().net == 0


@settings(max_examples=50, derandomize=True)
@given(st.lists(st.integers(-10**12, 10**12).filter(bool), max_size=30), st.integers(-10**9, 10**9))
def test_totals_from__net_is_minus_sum_minus_unsettled(amounts, unsettled):
    t = totals_from(amounts, unsettled)
    assert t.paid - t.received == sum(amounts)
    assert t.net == -sum(amounts) - unsettled
    assert t.paid >= 0 and t.received >= 0 and t.settlements == len(amounts)


def test_rate_bps__one_bps():
    assert rate_bps(10**8) == 1.0
