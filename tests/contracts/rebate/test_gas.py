"""Gas: the tier table is read once per batch; volume costs no storage slot of its own."""
import pytest

from .conftest import EPOCH, TIERS_8, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def test_fill__gas__independent_of_history(chain, trade, maker, taker):
    # the maker only buys and the taker only sells: every fill grows both positions, so
    # the fills differ only in how much volume history the accounts have
    trade(maker, taker, 2 * USDC)
    trade(maker, taker, 2 * USDC)
    second = trade(maker, taker, 2 * USDC)[0].gas_used
    for _ in range(10):
        trade(maker, taker, 2 * USDC)
    late = trade(maker, taker, 2 * USDC)[0].gas_used
    chain.pending_timestamp += EPOCH  # epoch roll
    rolled = trade(maker, taker, 2 * USDC)[0].gas_used
    print(f"gas_fill: steady {second}, long history {late}, after roll {rolled}")
    assert abs(late - second) <= 200
    assert rolled <= second + 500


def test_fill__gas__top_of_eight_tiers_bounded(rebate, admin, trade, maker, taker):
    trade(maker, taker, 2 * USDC)
    trade(maker, taker, 2 * USDC)
    low = trade(maker, taker, 2 * USDC)[0].gas_used  # tier 0 of 4
    rebate.set_tiers(TIERS_8, sender=admin)
    trade(maker, taker, 10**4 * USDC)  # both in the top tier
    top = trade(maker, taker, 2 * USDC)[0].gas_used
    print(f"gas_fill: tier 0 of 4 {low}, top of 8 tiers {top}")
    # per batch, not per fill: the second threshold word (cold) + 7 comparisons per side
    assert top <= low + 6_000
