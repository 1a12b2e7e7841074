from hypothesis import given, settings, strategies as st

from .conftest import EPOCH, TIERS, USDC, record, tier_index, trailing


def epoch_start_after(now):
    return (now // EPOCH + 1) * EPOCH


def test_trailing__next_epoch__previous_decays_linearly(chain, rebate, exchange, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start + 10
    rebate.record(maker, taker, 1_200 * USDC, sender=exchange)
    # a quarter into the next epoch: 3/4 of the previous epoch's volume remains
    chain.mine(timestamp=start + EPOCH + EPOCH // 4)
    assert rebate.trailing_volume(maker) == 900 * USDC
    chain.mine(timestamp=start + 2 * EPOCH - 1)
    assert rebate.trailing_volume(maker) == 1_200 * USDC // EPOCH


def test_trailing__two_epochs_later__zero(chain, rebate, exchange, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    rebate.record(maker, taker, 1_200 * USDC, sender=exchange)
    chain.mine(timestamp=start + 2 * EPOCH)
    assert rebate.trailing_volume(maker) == 0
    assert rebate.tier_of(maker) == 0


def test_trailing__roll__previous_and_current(chain, rebate, exchange, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    rebate.record(maker, taker, 1_000 * USDC, sender=exchange)
    chain.pending_timestamp = start + EPOCH + EPOCH // 2
    tx = rebate.record(maker, taker, 300 * USDC, sender=exchange)
    assert rebate.volume_state(maker) == (tx.timestamp // EPOCH, 300 * USDC, 1_000 * USDC)
    assert rebate.trailing_volume(maker) == 300 * USDC + 500 * USDC


def test_trailing__gap_of_epochs__previous_dropped(chain, rebate, exchange, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    rebate.record(maker, taker, 1_000 * USDC, sender=exchange)
    chain.pending_timestamp = start + 3 * EPOCH
    tx = rebate.record(maker, taker, 300 * USDC, sender=exchange)
    assert rebate.volume_state(maker) == (tx.timestamp // EPOCH, 300 * USDC, 0)


def test_trailing__tier_drops_as_volume_expires(chain, rebate, exchange, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    rebate.record(maker, taker, 2_000_000 * USDC, sender=exchange)
    assert rebate.tier_of(maker) == 1
    chain.pending_timestamp = start + EPOCH + EPOCH * 3 // 4  # 1/4 left: 500k
    rv, tx = record(rebate, maker, taker, USDC, sender=exchange)
    assert rv == (TIERS[0][1], TIERS[0][2])


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    history=st.lists(
        st.tuples(st.integers(0, 2 * EPOCH), st.integers(0, 50_000_000 * USDC)),
        min_size=2,
        max_size=12,
    )
)
def test_record__long_history__model_and_gas_bound(chain, create_rebate, exchange, maker, taker, history):
    """Volume and tier follow the Python model, and record()'s gas for an account
    with a long history stays within a constant of a fresh account's second fill."""
    with chain.isolate():
        engine = create_rebate()
        state = (0, 0, 0)  # (epoch, current, previous) of maker == taker history
        gas = []
        for delay, notional in history:
            chain.pending_timestamp += delay
            now = chain.pending_timestamp
            volume = trailing(*state, now)
            rv, tx = record(engine, maker, taker, notional, sender=exchange)
            assert rv == (TIERS[tier_index(TIERS, volume)][1], TIERS[tier_index(TIERS, volume)][2])
            epoch = now // EPOCH
            if state[0] == epoch:
                state = (epoch, state[1] + notional, state[2])
            elif state[0] + 1 == epoch:
                state = (epoch, notional, state[1])
            else:
                state = (epoch, notional, 0)
            assert tuple(engine.volume_state(maker)) == state
            gas.append(tx.gas_used)
        # The first record pays for creating two storage slots; every later one is
        # bounded by a constant that does not depend on how many fills came before.
        assert max(gas[1:]) <= 45_000
        assert max(gas[1:]) - min(gas[1:]) <= 8_000
