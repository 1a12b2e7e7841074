"""contracts/margin_tiers.vy against offchain/risk/margin.py (the keeper's pre-check):
the same table gives the same requirement to the unit, the same validation reasons."""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.risk.margin import MAX_TIERS, TierError, TierTable
from tests.constants import USDC

from ..module_harness import deploy_module

ROWS = [(0, 1_000, 500), (1_000_000 * USDC, 2_000, 1_000), (5_000_000 * USDC, 5_000, 2_500)]


@pytest.fixture(scope="module")
def tiers_harness(admin):
    return deploy_module("margin_tiers", "requirement", "encode", "base_bps", sender=admin)


def encode(harness, rows):
    return harness.encode([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


@pytest.mark.parametrize("boundary", [1, 2])
@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_margin_tiers__each_boundary__chain_equals_keeper(tiers_harness, boundary, offset):
    words = encode(tiers_harness, ROWS)
    table = TierTable.of(ROWS)
    n = ROWS[boundary][0] + offset
    for initial in (True, False):
        assert tiers_harness.requirement(n, *words, initial) == table.requirement(n, initial)


def test_margin_tiers__base_bps__tier_zero(tiers_harness):
    words = encode(tiers_harness, ROWS)
    assert tiers_harness.base_bps(words[0]) == (1_000, 500)


@pytest.mark.parametrize("rows,reason", [
    ([(1, 1_000, 500)], "bad threshold"),
    ([(0, 1_000, 500), (0, 2_000, 1_000)], "bad threshold"),
    ([(0, 1_000, 500), (2**64, 2_000, 1_000)], "bad threshold"),
    ([(0, 1_000, 1_000)], "bad margin"),
    ([(0, 1_000, 0)], "bad margin"),
    ([(0, 10_001, 500)], "bad margin"),
    ([(0, 2_000, 500), (10, 1_000, 600)], "bad margin"),
    ([(0, 2_000, 600), (10, 3_000, 500)], "bad margin"),
])
def test_margin_tiers__invalid__same_reason_on_both_sides(tiers_harness, rows, reason):
    with ape.reverts(f"exchange: {reason}"):
        encode(tiers_harness, rows)
    with pytest.raises(TierError) as err:
        TierTable.of(rows)
    assert err.value.reason == reason


def test_margin_tiers__empty__bad_tiers(tiers_harness):
    with ape.reverts("exchange: bad tiers"):
        tiers_harness.encode([], [], [])
    with ape.reverts("exchange: bad tiers"):
        tiers_harness.encode([0], [1_000, 2_000], [500])


@st.composite
def tables(draw):
    k = draw(st.integers(1, MAX_TIERS))
    thresholds = [0] + sorted(draw(st.sets(st.integers(1, 2**64 - 1), min_size=k - 1, max_size=k - 1)))
    mm = sorted(draw(st.lists(st.integers(1, 4_999), min_size=k, max_size=k)))
    extra = draw(st.lists(st.integers(1, 5_000), min_size=k, max_size=k))
    im = [m + e for m, e in zip(mm, extra)]
    im = [max(im[: i + 1]) for i in range(k)]
    return list(zip(thresholds, im, mm))


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=tables(), notionals=st.lists(st.integers(0, 2**80), min_size=1, max_size=4))
def test_margin_tiers__random_tables__chain_equals_keeper(tiers_harness, rows, notionals):
    words = encode(tiers_harness, rows)
    table = TierTable.of(rows)
    for n in notionals + [r[0] for r in rows]:
        for initial in (True, False):
            assert tiers_harness.requirement(n, *words, initial) == table.requirement(n, initial)
