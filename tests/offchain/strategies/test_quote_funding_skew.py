"""The quote engine's funding skew knob (off by default)."""

import dataclasses

from offchain.strategies import AccountState, QuoteConfig, QuoteEngine
from tests.constants import USDC

ETH = 10**18
RATE_ONE = 10**12


def _quotes(at, rate, skew):
    cfg = QuoteConfig(1, spread_bps=20, order_size=ETH, funding_skew_bps=skew)
    state = dataclasses.replace(at(3000 * USDC), funding_rate=rate)
    orders = QuoteEngine(cfg).update(state, AccountState(0, 0), 0)
    return [o.price for o in orders if o.is_buy], [o.price for o in orders if not o.is_buy]


def test_quote_funding_skew__off_by_default__rate_ignored(at):
    assert _quotes(at, RATE_ONE // 100, 0) == ([2997 * USDC], [3003 * USDC])


def test_quote_funding_skew__longs_pay__quotes_lower(at):
    # predicted 0.1 % an interval, full skew (10_000): the center moves 3 USDC down to 2,997;
    # +-10 bps of it is 2,994.003 / 2,999.997, rounded outwards to the 0.01 tick
    assert _quotes(at, RATE_ONE // 1_000, 10_000) == ([2994 * USDC], [3000 * USDC])


def test_quote_funding_skew__shorts_pay__quotes_higher(at):
    # half skew: 1.5 USDC up to 3,001.5; +-10 bps = 2,998.4985 / 3,004.5015 -> ticks outwards
    assert _quotes(at, -RATE_ONE // 1_000, 5_000) == ([2998_490000], [3004_510000])
