"""DeltaNeutralEngine: hedge only beyond the threshold, back toward the target, on tick/lot."""

import pytest

from offchain.strategies import AccountState, MarketState
from offchain.strategies.delta_neutral import DeltaNeutralConfig, DeltaNeutralEngine, hedge_size
from tests.constants import LOT, TICK

ETH = 10**18
MARK = 2_000 * 10**6


def market(mark=MARK, halted=False, mark_ts=0):
    return MarketState(1, mark - TICK, mark + TICK, mark, mark_ts, halted, TICK, LOT, LOT)


def engine(**kw):
    return DeltaNeutralEngine(DeltaNeutralConfig(market=1, hedge_threshold=ETH, **kw))


def test_delta_neutral__within_threshold__no_orders():
    assert engine().update(market(), AccountState(ETH, 0), 0) == []
    assert engine().update(market(), AccountState(-ETH, 0), 0) == []


def test_delta_neutral__long_beyond_threshold__sells_back_to_target_reduce_only():
    [order] = engine(slippage_bps=50).update(market(), AccountState(3 * ETH // 2, 0), 0)
    assert (order.is_buy, order.size, order.reduce_only, order.post_only) == (False, 3 * ETH // 2, True, False)
    assert order.price == MARK * 9950 // 10000 and order.price % TICK == 0


def test_delta_neutral__short_beyond_threshold__buys_with_limit_above_mark():
    [order] = engine(slippage_bps=25).update(market(), AccountState(-2 * ETH, 0), 0)
    assert order.is_buy and order.size == 2 * ETH and order.reduce_only
    assert order.price == (MARK * 10025 // 10000) // TICK * TICK


def test_delta_neutral__external_delta__hedge_flips_position_not_reduce_only():
    # flat here, 2 ETH long elsewhere: sell 2 ETH here (opens a short: not reduce-only)
    [order] = engine().update(market(), AccountState(0, 0), 0, external_delta=2 * ETH)
    assert not order.is_buy and order.size == 2 * ETH and not order.reduce_only


def test_delta_neutral__rebalance_to_bps_and_max_size__partial_hedges():
    cfg = DeltaNeutralConfig(market=1, hedge_threshold=ETH, rebalance_to_bps=5000, max_hedge_size=0)
    assert hedge_size(3 * ETH, cfg, LOT) == 3 * ETH - ETH // 2
    capped = engine(max_hedge_size=ETH // 4)
    [order] = capped.update(market(), AccountState(5 * ETH, 0), 0)
    assert order.size == ETH // 4


def test_delta_neutral__size_rounds_down_to_lot():
    [order] = engine().update(market(), AccountState(ETH + LOT + LOT // 2 + ETH, 0), 0)
    assert order.size % LOT == 0 and order.size == 2 * ETH + LOT


def test_delta_neutral__cooldown__one_hedge_per_window():
    e = engine(cooldown_ms=1000)
    acct = AccountState(2 * ETH, 0)
    assert len(e.update(market(), acct, 10_000)) == 1
    assert e.update(market(), acct, 10_500) == []
    assert len(e.update(market(), acct, 11_000)) == 1


def test_delta_neutral__halted_or_stale_mark__no_hedge():
    acct = AccountState(2 * ETH, 0)
    assert engine().update(market(halted=True), acct, 0) == []
    assert engine(max_mark_age_ms=5000).update(market(mark_ts=0), acct, 6000) == []


def test_delta_neutral__target__hedges_around_it():
    e = engine(target=5 * ETH)
    assert e.update(market(), AccountState(5 * ETH, 0), 0) == []
    [order] = e.update(market(), AccountState(3 * ETH, 0), 0)
    assert order.is_buy and order.size == 2 * ETH and not order.reduce_only


def test_delta_neutral_config__bad_values__raise():
    with pytest.raises(ValueError):
        DeltaNeutralConfig(market=1, hedge_threshold=0)
    with pytest.raises(ValueError):
        DeltaNeutralConfig(market=1, hedge_threshold=1, rebalance_to_bps=10_000)
