"""contracts/funding_math.vy against offchain/funding/rate.py: index step, owed (rounded
against the payer, across the 72-bit snapshot wrap) and the packed position word."""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.funding import RATE_ONE, funding_owed, index_delta

from ..module_harness import deploy_module

WINDOW = 2**71 - 1  # the largest unsettled index move a snapshot represents exactly


@pytest.fixture(scope="module")
def funding_harness(admin):
    return deploy_module("funding_math", "index_delta", "owed", "snapshot_of", "pack", "unpack", sender=admin)


def test_funding_math__long_pays_short(funding_harness):
    d = funding_harness.index_delta(RATE_ONE // 10_000, 2_000 * 10**6)
    assert d == index_delta(RATE_ONE // 10_000, 2_000 * 10**6)
    snap = funding_harness.snapshot_of(0)
    assert funding_harness.owed(10**18, d, snap) == 200_000
    assert funding_harness.owed(-10**18, d, snap) == -200_000


def test_funding_math__rounding__against_the_payer(funding_harness):
    snap = funding_harness.snapshot_of(0)
    assert funding_harness.owed(1, 1, snap) == 1    # payer: ceiling of 1e-24
    assert funding_harness.owed(-1, 1, snap) == 0   # receiver: floor
    assert funding_harness.owed(0, 10**30, snap) == 0


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size=st.integers(-2**95, 2**95 - 1), start=st.integers(-2**200, 2**200), move=st.integers(-WINDOW, WINDOW),
       rate=st.integers(-RATE_ONE, RATE_ONE), mark=st.integers(0, 2**96))
def test_funding_math__matches_python_across_wrap(funding_harness, size, start, move, rate, mark):
    snap = funding_harness.snapshot_of(start)
    assert snap == start % 2**72
    assert funding_harness.owed(size, start + move, snap) == funding_owed(size, start + move, start)
    assert funding_harness.index_delta(rate, mark) == index_delta(rate, mark)


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size=st.integers(-2**95, 2**95 - 1), cost=st.integers(-2**87, 2**87 - 1), snap=st.integers(0, 2**72 - 1))
def test_funding_math__pack_roundtrip(funding_harness, size, cost, snap):
    assert funding_harness.unpack(funding_harness.pack(size, cost, snap)) == (size, cost, snap)


@pytest.mark.parametrize("size,cost", [(2**95, 0), (-2**95 - 1, 0), (0, 2**87), (0, -2**87 - 1)])
def test_funding_math__pack_out_of_range__overflow(funding_harness, size, cost):
    with ape.reverts("exchange: overflow"):
        funding_harness.pack(size, cost, 0)
