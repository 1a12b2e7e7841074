"""Funding-rate maths against an exact rational model (fractions.Fraction)."""

from __future__ import annotations

from fractions import Fraction
import math

import pytest
from hypothesis import given, settings, strategies as st

from offchain.funding import (
    CLAMP_8H,
    EIGHT_HOURS,
    INTEREST_8H,
    PAY_SCALE,
    RATE_ONE,
    FundingParams,
    average_premium,
    funding_owed,
    funding_rate,
    impact_price,
    premium,
    sample_book,
)
from tests.constants import ONE, USDC

HOUR = FundingParams()


def model_rate(avg: int, p: FundingParams) -> int:
    """The formula in exact rationals, truncated once at the end."""
    f8 = Fraction(avg) + min(max(Fraction(p.interest_8h - avg), -p.clamp_8h), p.clamp_8h)
    scaled = f8 * p.interval_s / EIGHT_HOURS
    r = math.floor(scaled) if scaled >= 0 else math.ceil(scaled)
    return min(max(r, -p.cap), p.cap)


def test_rate__zero_premium__pays_interest_scaled_to_interval():
    assert funding_rate(0, HOUR) == INTEREST_8H // 8  # 0.00125 % an hour
    assert funding_rate(0, FundingParams(interval_s=60)) == INTEREST_8H * 60 // EIGHT_HOURS


def test_rate__premium_within_clamp__interest_wins():
    # |I - P| <= C: the clamp passes I - P through, F8 = I whatever the premium
    for p in (INTEREST_8H - CLAMP_8H, 0, INTEREST_8H + CLAMP_8H):
        assert funding_rate(p, HOUR) == INTEREST_8H // 8


def test_rate__premium_beyond_clamp__follows_premium():
    big = 10 * CLAMP_8H
    assert funding_rate(big, HOUR) == (big - CLAMP_8H) // 8
    assert funding_rate(-big, HOUR) == -((big - CLAMP_8H) // 8)  # I - P = I + big: clamped to +C


def test_rate__cap__bounds_both_sides():
    p = FundingParams(cap=1_000)
    assert funding_rate(RATE_ONE, p) == 1_000
    assert funding_rate(-RATE_ONE, p) == -1_000
    assert FundingParams().cap == 4 * RATE_ONE // 100
    assert FundingParams(interval_s=60).cap == 4 * RATE_ONE // 100 // 60


def test_rate__negative__rounds_toward_zero():
    p = FundingParams(interval_s=7, interest_8h=0, clamp_8h=0)
    # -1 * 7 / 28800 is -0.0002...: toward zero, not -1
    assert funding_rate(-1, p) == 0
    assert funding_rate(-EIGHT_HOURS, p) == -7


@settings(max_examples=300, derandomize=True)
@given(avg=st.integers(-RATE_ONE, RATE_ONE), interval=st.integers(1, 10 * EIGHT_HOURS),
       interest=st.integers(-RATE_ONE // 100, RATE_ONE // 100), clamp_=st.integers(0, RATE_ONE // 100),
       cap=st.integers(0, RATE_ONE))
def test_rate__matches_exact_model(avg, interval, interest, clamp_, cap):
    p = FundingParams(interval_s=interval, interest_8h=interest, clamp_8h=clamp_, cap=cap)
    assert funding_rate(avg, p) == model_rate(avg, p)


def test_params__bad_values__refused():
    for bad in (dict(interval_s=0), dict(sample_s=0), dict(cap=-2), dict(clamp_8h=-1), dict(impact_notional=0)):
        with pytest.raises(ValueError):
            FundingParams(**bad)


def test_impact_price__walks_levels_exactly():
    bids = [(2_000 * USDC, ONE), (1_990 * USDC, 10 * ONE)]
    # 3,000 USDC: 1 unit at 2,000 then 1,000 USDC at 1,990 = 1000/1990 units
    px = impact_price(bids, 3_000 * USDC, True)
    take2 = -(-(1_000 * USDC * ONE) // (1_990 * USDC))
    num = 2_000 * USDC * ONE + 1_990 * USDC * take2
    assert px == num // (ONE + take2)
    assert 1_990 * USDC < px < 2_000 * USDC


def test_impact_price__thin_side__none():
    assert impact_price([(2_000 * USDC, ONE)], 3_000 * USDC, True) is None
    assert impact_price([], 1, False) is None


def test_impact_price__ask_rounds_up_bid_down():
    # 7 USDC units over one unit at 3 and one at 4: average 3.5
    levels = [(3, ONE), (4, ONE)]
    assert impact_price(levels, 7, True) == 3
    assert impact_price(levels, 7, False) == 4
    assert impact_price(levels, 3, True) == 3  # the first level alone covers it


def test_premium__sign_and_dead_band():
    index = 2_000 * USDC
    assert premium(2_010 * USDC, 2_020 * USDC, index) == RATE_ONE * 10 // 2_000  # bids above index
    assert premium(1_980 * USDC, 1_990 * USDC, index) == -(RATE_ONE * 10 // 2_000)  # asks below index
    assert premium(1_990 * USDC, 2_010 * USDC, index) == 0  # index inside the impact spread
    assert premium(None, None, index) == 0
    with pytest.raises(ValueError):
        premium(1, 1, 0)


def test_sample_book__skewed_bids__positive():
    index = 2_000 * USDC
    bids = [(2_004 * USDC, 100 * ONE)]
    asks = [(2_006 * USDC, 100 * ONE)]
    assert sample_book(bids, asks, index, 10_000 * USDC) == RATE_ONE * 4 // 2_000


def test_average_premium__truncates_toward_zero():
    assert average_premium([]) == 0
    assert average_premium([1, 2]) == 1
    assert average_premium([-1, -2]) == -1


@settings(max_examples=300, derandomize=True)
@given(size=st.integers(-10**30, 10**30), a=st.integers(-10**30, 10**30), b=st.integers(-10**30, 10**30))
def test_funding_owed__ceiling_of_exact(size, a, b):
    exact = Fraction(size * (a - b), PAY_SCALE)
    owed = funding_owed(size, a, b)
    assert owed == math.ceil(exact)
    # against the payer: a payer pays at least the exact amount, a receiver gets at most it
    assert owed >= exact


def test_index_delta__truncates_toward_zero_symmetrically():
    from offchain.funding import index_delta
    assert index_delta(3, 10**6 // 2) == 1
    assert index_delta(-3, 10**6 // 2) == -1
    assert index_delta(RATE_ONE // 10_000, 2_000 * USDC) == RATE_ONE // 10_000 * 2_000
