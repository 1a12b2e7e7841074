from offchain.keeper.ratelimit import RateLimiter, TokenBucket


def test_bucket__burst_then_empty__refuses():
    b = TokenBucket(rate=10, burst=5, now=0.0)
    assert all(b.take(1, 0.0) for _ in range(5))
    assert not b.take(1, 0.0)


def test_bucket__refills_at_rate():
    b = TokenBucket(rate=10, burst=5, now=0.0)
    assert b.take(5, 0.0)
    assert not b.take(2, 0.1)
    assert b.take(2, 0.2)


def test_bucket__batch_is_all_or_nothing():
    b = TokenBucket(rate=1, burst=3, now=0.0)
    assert not b.take(4, 0.0)
    assert b.tokens == 3


def test_limiter__accounts_are_independent():
    limiter = RateLimiter(rate=1, burst=1)
    assert limiter.take("a", 1, 0.0)
    assert not limiter.take("a", 1, 0.0)
    assert limiter.take("b", 1, 0.0)
    assert limiter.retry_after("a", 1) > 0
