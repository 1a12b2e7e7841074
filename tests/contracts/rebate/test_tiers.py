import ape
import pytest
from hypothesis import given, settings, strategies as st

from .conftest import TIERS, TIERS_8, USDC, tier_index


def test_deploy__tiers_stored(rebate, admin):
    assert rebate.tier_count() == len(TIERS)
    assert [tuple(t) for t in rebate.tiers()] == TIERS
    assert tuple(rebate.tier(2)) == TIERS[2]
    assert rebate.hasRole(rebate.DEFAULT_ADMIN_ROLE(), admin)
    assert rebate.MAX_TIERS() == 8
    assert rebate.MAX_FEE_BPS() == 1_000


def test_deploy__events(create_rebate):
    engine = create_rebate()
    events = engine.creation_metadata.receipt.events
    assert events.filter(engine.TiersSet) == [engine.TiersSet(tiers=TIERS)]


def test_set_tiers__admin__replaces(rebate, admin):
    tx = rebate.set_tiers(TIERS_8, sender=admin)
    assert [tuple(t) for t in rebate.tiers()] == TIERS_8
    assert tx.events == [rebate.TiersSet(tiers=TIERS_8)]


def test_set_tiers__single_tier__ok(rebate, admin):
    rebate.set_tiers([(0, 7, 7)], sender=admin)
    assert rebate.tier_count() == 1
    assert rebate.tier_for_volume(10**30) == 0


def test_tier__out_of_range__reverts(rebate):
    with ape.reverts("rebate: no such tier"):
        rebate.tier(len(TIERS))


@pytest.mark.parametrize(
    "tiers, reason",
    [
        ([], "rebate: no tiers"),
        ([(1, 5, 0)], "rebate: first tier not zero"),
        ([(0, 5, 0), (100, 4, 1), (100, 3, 2)], "rebate: volume not increasing"),
        ([(0, 5, 0), (100, 4, 1), (50, 3, 2)], "rebate: volume not increasing"),
        ([(0, 5, 0), (2**56, 4, 1)], "rebate: volume too large"),
        ([(0, 1_001, 0)], "rebate: fee too large"),
        ([(0, 1_000, 1_001)], "rebate: fee too large"),
        ([(0, 5, 0), (100, 2, 3)], "rebate: negative net fee"),
        ([(0, 2, 0), (100, 5, 3)], "rebate: negative net fee"),
    ],
)
def test_set_tiers__invalid__reverts(rebate, admin, tiers, reason):
    with ape.reverts(reason):
        rebate.set_tiers(tiers, sender=admin)


def test_set_tiers__bounds__accepted(rebate, admin):
    tiers = [(0, 1_000, 1_000), (2**56 - 1, 1_000, 0)]
    assert rebate.MAX_VOLUME_THRESHOLD() == 2**56 - 1
    rebate.set_tiers(tiers, sender=admin)
    assert [tuple(t) for t in rebate.tiers()] == tiers


def test_set_tiers__not_admin__reverts(rebate, operator, stranger):
    for account in (operator, stranger):
        with ape.reverts("rebate: not admin"):
            rebate.set_tiers(TIERS, sender=account)


def test_tier_for_volume__boundaries(rebate):
    assert rebate.tier_for_volume(0) == 0
    assert rebate.tier_for_volume(1_000_000 * USDC - 1) == 0
    assert rebate.tier_for_volume(1_000_000 * USDC) == 1
    assert rebate.tier_for_volume(10**40) == 3


def test_tier_table__packed_encoding(rebate, admin):
    fees, lo, hi = rebate.tier_table()
    assert fees >> 248 == len(TIERS)
    for i, (volume, taker_fee, maker_rebate) in enumerate(TIERS):
        assert (fees >> (24 * i)) & 0xFFF == taker_fee
        assert (fees >> (24 * i + 12)) & 0xFFF == maker_rebate
        assert (lo >> (64 * i)) & (2**64 - 1) == volume
    assert hi == 0  # not read with four tiers or fewer
    rebate.set_tiers(TIERS_8, sender=admin)
    fees, lo, hi = rebate.tier_table()
    assert [(hi >> (64 * (i - 4))) & (2**64 - 1) for i in range(4, 8)] == [t[0] for t in TIERS_8[4:]]


@st.composite
def tier_tables(draw):
    count = draw(st.integers(1, 8))
    steps = draw(st.lists(st.integers(1, 2**52), min_size=count - 1, max_size=count - 1))
    thresholds = [0]
    for s in steps:
        thresholds.append(thresholds[-1] + s)
    rebates = draw(st.lists(st.integers(0, 1_000), min_size=count, max_size=count))
    floor = max(rebates)
    takers = draw(st.lists(st.integers(floor, 1_000), min_size=count, max_size=count))
    return [(t, f, r) for t, f, r in zip(thresholds, takers, rebates)]


@settings(max_examples=10, deadline=None, derandomize=True)
@given(tiers=tier_tables(), data=st.data())
def test_tier_for_volume__matches_model(chain, isolated, rebate, admin, tiers, data):
    with isolated():  # not chain.isolate(): it swallows assertion errors
        rebate.set_tiers(tiers, sender=admin)
        assert [tuple(t) for t in rebate.tiers()] == tiers
        probes = [t[0] for t in tiers] + [t[0] - 1 for t in tiers[1:]] + [2**56 + 5]
        probes += data.draw(st.lists(st.integers(0, 2**66), max_size=5))
        for volume in probes:
            assert rebate.tier_for_volume(volume) == tier_index(tiers, volume), volume

