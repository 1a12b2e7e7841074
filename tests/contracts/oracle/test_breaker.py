"""Circuit breaker: max 10% per update, halt beyond 15% from the window reference in 300 s."""
from hypothesis import given, settings, strategies as st

from .conftest import BREAKER_BPS, BREAKER_WINDOW, BTC, BTC_PRICE, MAX_MOVE_BPS


def up(price, pct):
    return price * (100 + pct) // 100


def test_breaker__cumulative_move_in_window__halts(priced_oracle, reporter):
    p1 = up(BTC_PRICE, 9)
    priced_oracle.set_price(BTC, p1, sender=reporter)
    p2 = up(p1, 9)  # +18.8% from the window reference
    tx = priced_oracle.set_price(BTC, p2, sender=reporter)
    assert priced_oracle.price_info(BTC) == (p2, tx.timestamp, True)
    assert tx.events == [
        priced_oracle.PriceUpdated(market=BTC, price=p2, updated_at=tx.timestamp),
        priced_oracle.Halted(market=BTC, reason="breaker", price=p2, window_ref=BTC_PRICE, account=reporter),
    ]


def test_breaker__move_at_threshold__not_halted(priced_oracle, reporter):
    p1 = up(BTC_PRICE, 9)
    priced_oracle.set_price(BTC, p1, sender=reporter)
    p2 = BTC_PRICE * (10_000 + BREAKER_BPS) // 10_000  # exactly 15%
    tx = priced_oracle.set_price(BTC, p2, sender=reporter)
    assert not priced_oracle.price_info(BTC)[2]
    assert tx.events.filter(priced_oracle.Halted) == []


def test_breaker__window_rolls__reference_is_last_price(chain, isolated, priced_oracle, reporter):
    p1 = up(BTC_PRICE, 9)
    priced_oracle.set_price(BTC, p1, sender=reporter)
    chain.pending_timestamp += BREAKER_WINDOW + 1
    p2 = up(p1, 9)
    tx = priced_oracle.set_price(BTC, p2, sender=reporter)
    assert not priced_oracle.price_info(BTC)[2]
    state = priced_oracle.market_state(BTC)
    assert state.window_ref == p1
    assert state.window_start == tx.timestamp


def test_breaker__down_move__halts(priced_oracle, reporter):
    p1 = up(BTC_PRICE, -9)
    priced_oracle.set_price(BTC, p1, sender=reporter)
    tx = priced_oracle.set_price(BTC, up(p1, -9), sender=reporter)
    assert priced_oracle.price_info(BTC)[2]
    assert len(tx.events.filter(priced_oracle.Halted)) == 1


def test_breaker__halted_market__accepts_any_move(priced_oracle, reporter, guardian):
    priced_oracle.halt(BTC, sender=guardian)
    jump = BTC_PRICE * 2  # +100%, far beyond max move
    tx = priced_oracle.set_price(BTC, jump, sender=reporter)
    assert priced_oracle.price_info(BTC) == (jump, tx.timestamp, True)
    assert tx.events == [priced_oracle.PriceUpdated(market=BTC, price=jump, updated_at=tx.timestamp)]
    # The window is untouched until resume.
    assert priced_oracle.market_state(BTC).window_ref == BTC_PRICE


def test_breaker__after_resume__window_restarts(priced_oracle, reporter, guardian):
    priced_oracle.halt(BTC, sender=guardian)
    jump = BTC_PRICE * 2
    priced_oracle.set_price(BTC, jump, sender=reporter)
    priced_oracle.resume(BTC, sender=guardian)
    priced_oracle.set_price(BTC, up(jump, 9), sender=reporter)  # 9% from the new reference
    assert not priced_oracle.price_info(BTC)[2]


def model_update(state, price, now):
    """Python model of one strict update; returns the new state or None when it reverts."""
    last, ref, start, halted = state
    if last == 0:
        return (price, price, now, halted)
    if halted:
        return (price, ref, start, halted)
    if abs(price - last) * 10_000 > last * MAX_MOVE_BPS:
        return None
    if now >= start + BREAKER_WINDOW:
        ref, start = last, now
    if abs(price - ref) * 10_000 > ref * BREAKER_BPS:
        halted = True
    return (price, ref, start, halted)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    steps=st.lists(
        st.tuples(st.integers(-1_200, 1_200), st.sampled_from([0, 1, 100, 299, 300, 301])),
        min_size=1,
        max_size=6,
    )
)
def test_breaker__random_walk__matches_model(chain, isolated, create_oracle, reporter, steps):
    """Random moves (bps) and delays (s): the contract matches the Python model."""
    import ape

    with isolated():  # not chain.isolate(): it swallows assertion errors
        oracle = create_oracle()
        tx = oracle.set_price(BTC, BTC_PRICE, sender=reporter)
        state = (BTC_PRICE, BTC_PRICE, tx.timestamp, False)
        for move_bps, delay in steps:
            price = state[0] * (10_000 + move_bps) // 10_000
            chain.pending_timestamp += delay
            now = chain.pending_timestamp
            expected = model_update(state, price, now)
            if expected is None:
                with ape.reverts("oracle: move too large"):
                    oracle.set_price(BTC, price, sender=reporter)
                continue
            tx = oracle.set_price(BTC, price, sender=reporter)
            assert tx.timestamp == now
            state = expected
            s = oracle.market_state(BTC)
            assert (s.price, s.window_ref, s.window_start, s.halted) == state
