"""Margin tiers: validation, boundaries, the piecewise model, the flat table."""

from __future__ import annotations

from fractions import Fraction
import math

import pytest
from hypothesis import given, settings, strategies as st

from offchain.risk.margin import MAX_TIERS, MarginTier, TierError, TierTable
from tests.constants import USDC

# Hyperliquid-like: 10x up to 1M, 5x up to 5M, 2x beyond
TABLE = TierTable.of([(0, 1_000, 500), (1_000_000 * USDC, 2_000, 1_000), (5_000_000 * USDC, 5_000, 2_500)])


def overlap_model(table: TierTable, notional: int, initial: bool) -> int:
    """Sum over tiers of bps * (the part of the notional inside the tier), exact, then ceil."""
    total = Fraction(0)
    tiers = table.tiers
    for i, t in enumerate(tiers):
        hi = tiers[i + 1].threshold if i + 1 < len(tiers) else notional
        part = max(0, min(notional, hi) - t.threshold)
        total += Fraction(part * (t.initial_bps if initial else t.maintenance_bps), 10_000)
    return math.ceil(total)


def test_tiers__flat_table__equals_flat_bps():
    flat = TierTable.flat(1_000, 500)
    assert flat.requirement(12_345_678) == -(-12_345_678 * 1_000 // 10_000)
    assert flat.requirement(12_345_678, initial=False) == -(-12_345_678 * 500 // 10_000)


@pytest.mark.parametrize("offset", [-1, 0, 1])
@pytest.mark.parametrize("boundary", [1, 2])
def test_tiers__at_each_boundary__continuous(boundary, offset):
    t = TABLE.tiers[boundary].threshold
    n = t + offset
    assert TABLE.tier_index(n) == (boundary - 1 if offset < 0 else boundary)
    for initial in (True, False):
        assert TABLE.requirement(n, initial) == overlap_model(TABLE, n, initial)
    # one unit past the boundary costs the new tier's bps (no cliff)
    assert TABLE.requirement(t + 10_000) - TABLE.requirement(t) == TABLE.tiers[boundary].initial_bps


def test_tiers__large_position__average_margin_steps_up():
    # 10 M notional: 1M at 10 %, 4M at 20 %, 5M at 50 %
    n = 10_000_000 * USDC
    assert TABLE.requirement(n) == (100_000 + 800_000 + 2_500_000) * USDC
    assert TABLE.requirement(n, initial=False) == (50_000 + 400_000 + 1_250_000) * USDC
    assert TABLE.position_requirement(-5 * 10**18, 2_000_000 * USDC) == TABLE.requirement(n)


def test_tiers__max_notional__largest_within_equity():
    for equity in (1, 99_999 * USDC, 100_000 * USDC, 3_400_000 * USDC):
        n = TABLE.max_notional(equity)
        assert TABLE.requirement(n) <= equity < TABLE.requirement(n + 1)
    assert TABLE.max_notional(0) == 0


@pytest.mark.parametrize("rows,reason", [
    ([], "bad tiers"),
    ([(i * 10, 1_000 + i, 500 + i) for i in range(MAX_TIERS + 1)], "bad tiers"),
    ([(1, 1_000, 500)], "bad threshold"),
    ([(0, 1_000, 500), (0, 2_000, 1_000)], "bad threshold"),
    ([(0, 1_000, 500), (10, 2_000, 1_000), (5, 3_000, 1_500)], "bad threshold"),
    ([(0, 1_000, 1_000)], "bad margin"),     # maintenance must be below initial
    ([(0, 1_000, 0)], "bad margin"),
    ([(0, 10_001, 500)], "bad margin"),
    ([(0, 2_000, 500), (10, 1_000, 600)], "bad margin"),   # initial decreases
    ([(0, 2_000, 600), (10, 3_000, 500)], "bad margin"),   # maintenance decreases
])
def test_tiers__invalid_table__rejected_with_chain_reason(rows, reason):
    with pytest.raises(TierError) as err:
        TierTable.of(rows)
    assert err.value.reason == reason


def test_tiers__eight_tiers__accepted():
    table = TierTable.of([(i * 1_000, 1_000 + 100 * i, 500 + 50 * i) for i in range(MAX_TIERS)])
    assert len(table.tiers) == MAX_TIERS and isinstance(table.tiers[0], MarginTier)


@st.composite
def tables(draw):
    k = draw(st.integers(1, MAX_TIERS))
    thresholds = [0] + sorted(draw(st.sets(st.integers(1, 10**15), min_size=k - 1, max_size=k - 1)))
    mm = sorted(draw(st.lists(st.integers(1, 4_999), min_size=k, max_size=k)))
    extra = sorted(draw(st.lists(st.integers(1, 5_000), min_size=k, max_size=k)))
    im = [m + e for m, e in zip(mm, extra)]
    im = [max(im[: i + 1]) for i in range(k)]  # non-decreasing
    return TierTable.of(list(zip(thresholds, im, mm)))


@settings(max_examples=200, derandomize=True)
@given(table=tables(), notional=st.integers(0, 10**16))
def test_tiers__matches_overlap_model_and_is_monotone(table, notional):
    for initial in (True, False):
        req = table.requirement(notional, initial)
        assert req == overlap_model(table, notional, initial)
        assert table.requirement(notional + 1, initial) >= req
    assert table.requirement(notional, True) >= table.requirement(notional, False)
