"""Trailing volume: two fixed 30-day epochs per account, kept by the Exchange."""
import pytest
from hypothesis import given, settings, strategies as st

from .conftest import EPOCH, LOT_NOTIONAL, TIERS, USDC, charged, tier_index, trailing


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def epoch_start_after(now):
    return (now // EPOCH + 1) * EPOCH


def test_trailing__next_epoch__previous_decays_linearly(chain, isolated, exchange, trade, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start + 10
    trade(maker, taker, 1_200 * USDC)
    # a quarter into the next epoch: 3/4 of the previous epoch's volume remains
    chain.mine(timestamp=start + EPOCH + EPOCH // 4)
    assert exchange.trailing_volume(maker) == 900 * USDC
    chain.mine(timestamp=start + 2 * EPOCH - 1)
    assert exchange.trailing_volume(maker) == 1_200 * USDC // EPOCH


def test_trailing__two_epochs_later__zero(chain, isolated, exchange, rebate, trade, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    trade(maker, taker, 1_200 * USDC)
    chain.mine(timestamp=start + 2 * EPOCH)
    assert exchange.trailing_volume(maker) == 0
    assert rebate.tier_for_volume(exchange.trailing_volume(maker)) == 0


def test_trailing__roll__previous_and_current(chain, isolated, exchange, trade, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    trade(maker, taker, 1_000 * USDC)
    chain.pending_timestamp = start + EPOCH + EPOCH // 2
    tx, _ = trade(maker, taker, 300 * USDC, maker_buys=False)
    assert exchange.volume_state(maker) == ((tx.timestamp // EPOCH) % 2**16, 300 * USDC, 1_000 * USDC)
    # the previous epoch's 1,000 count for the unexpired part: just under half of it
    assert 800 * USDC - 10 * USDC < exchange.trailing_volume(maker) <= 800 * USDC


def test_trailing__gap_of_epochs__previous_dropped(chain, isolated, exchange, trade, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    trade(maker, taker, 1_000 * USDC)
    chain.pending_timestamp = start + 3 * EPOCH
    tx, _ = trade(maker, taker, 300 * USDC, maker_buys=False)
    assert exchange.volume_state(maker) == ((tx.timestamp // EPOCH) % 2**16, 300 * USDC, 0)


def test_trailing__tier_drops_as_volume_expires(chain, isolated, exchange, rebate, trade, maker, taker):
    start = epoch_start_after(chain.pending_timestamp)
    chain.pending_timestamp = start
    trade(maker, taker, 2_000_000 * USDC)
    assert rebate.tier_for_volume(exchange.trailing_volume(maker)) == 1
    chain.pending_timestamp = start + EPOCH + EPOCH * 3 // 4  # 1/4 left: 500k
    tx, log = trade(maker, taker, 2 * USDC, maker_buys=False)
    assert charged(log, 2 * USDC, TIERS, 0, 0)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(
    history=st.lists(
        st.tuples(st.integers(0, 2 * EPOCH), st.integers(1, 25_000_000)),
        min_size=2,
        max_size=8,
    )
)
def test_fill__long_history__model_and_gas_bound(chain, isolated, exchange, trade, maker, taker, history):
    """Volume and tiers follow the Python model, and a fill's settle gas does not grow
    with the accounts' history (one record per account, rewritten in place)."""
    with isolated():  # not chain.isolate(): it swallows assertion errors
        state = (None, 0, 0)  # (epoch, current, previous) of maker and taker alike
        gas = []
        for i, (delay, lots) in enumerate(history):
            notional = lots * LOT_NOTIONAL  # a whole number of lots
            chain.pending_timestamp += delay
            now = chain.pending_timestamp
            volume = trailing(*state, now) if state[0] is not None else 0
            tx, log = trade(maker, taker, notional, maker_buys=i % 2 == 0)
            tier = tier_index(TIERS, volume)
            assert charged(log, notional, TIERS, tier, tier)
            epoch = now // EPOCH
            if state[0] == epoch:
                state = (epoch, state[1] + notional, state[2])
            elif state[0] is not None and state[0] + 1 == epoch:
                state = (epoch, notional, state[1])
            else:
                state = (epoch, notional, 0)
            assert tuple(exchange.volume_state(maker)) == (epoch % 2**16, state[1], state[2])
            assert tuple(exchange.volume_state(taker)) == (epoch % 2**16, state[1], state[2])
            gas.append(tx.gas_used)
        # every fill writes the same slots whatever came before (positions flip side
        # between fills, so allow for opening vs reducing differences)
        assert max(gas[1:]) - min(gas[1:]) <= 12_000
