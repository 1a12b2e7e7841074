from hypothesis import given, strategies as st

from offchain.strategies import notional, round_ask, round_bid, round_size


def test_rounding__bid_down_ask_up():
    assert round_bid(1_234_567, 10_000) == 1_230_000
    assert round_ask(1_234_567, 10_000) == 1_240_000
    assert round_bid(1_230_000, 10_000) == round_ask(1_230_000, 10_000) == 1_230_000


def test_rounding__size_down_to_lot_and_notional():
    assert round_size(1_234_567_890_123_456_789, 10**15) == 1_234_000_000_000_000_000
    assert notional(3_000_000_000, 5 * 10**17) == 1_500_000_000  # 0.5 ETH at 3000 USDC


@given(st.integers(1, 10**12), st.integers(1, 10**12), st.integers(1, 10**6))
def test_rounding__any_level_pair__bid_below_ask(low, gap, tick):
    high = low + gap
    assert round_bid(low, tick) < round_ask(high, tick)
    assert round_bid(low, tick) <= low <= round_ask(low, tick)
