"""Gas of record(): bounded and independent of an account's history."""
from .conftest import EPOCH, TIERS_8, USDC


def test_record__gas__independent_of_history(chain, rebate, admin, exchange, maker, taker, stranger):
    rebate.record(stranger, taker, USDC, sender=exchange)  # taker's slot exists
    fresh = rebate.record(maker, taker, USDC, sender=exchange).gas_used  # maker's slot created
    second = rebate.record(maker, taker, USDC, sender=exchange).gas_used
    for _ in range(20):
        rebate.record(maker, taker, USDC, sender=exchange)
    chain.pending_timestamp += EPOCH  # epoch roll
    rolled = rebate.record(maker, taker, USDC, sender=exchange).gas_used
    late = rebate.record(maker, taker, USDC, sender=exchange).gas_used
    print(f"gas_rebate_record: fresh maker {fresh}, steady {second}, after roll {rolled}, long history {late}")
    assert late == second
    assert rolled <= second + 500  # the roll moves current into previous
    assert second < 43_000  # whole transaction, 21k base included


def test_record__gas__top_of_eight_tiers_bounded(rebate, admin, exchange, maker, taker):
    rebate.set_tiers(TIERS_8, sender=admin)
    rebate.record(maker, taker, 10**9 * USDC, sender=exchange)  # both in the top tier
    top = rebate.record(maker, taker, USDC, sender=exchange).gas_used
    print(f"gas_rebate_record: top of 8 tiers {top}")
    assert top < 48_000  # second threshold slot read
