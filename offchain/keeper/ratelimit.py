"""Per-account token buckets: `rate` tokens per second, at most `burst` saved up.

A batch of n orders takes n tokens at once (all or nothing), so a batch endpoint is not a
way around the limit. Time comes from the caller (monotonic seconds) to keep it testable.
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def take(self, n: float, now: float) -> bool:
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.stamp = now
        if n <= self.tokens:
            self.tokens -= n
            return True
        return False

    def retry_after(self, n: float) -> float:
        """Seconds until `n` tokens are there (inf if n > burst)."""
        if n > self.burst:
            return float("inf")
        return max(0.0, (n - self.tokens) / self.rate) if self.rate > 0 else float("inf")


class RateLimiter:
    """One bucket per key (account address); idle full buckets are dropped now and then."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, n: float, now: float) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._prune(now)
            bucket = self.buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(n, now)

    def retry_after(self, key: str, n: float) -> float:
        bucket = self.buckets.get(key)
        return 0.0 if bucket is None else bucket.retry_after(n)

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate if self.rate > 0 else 0
        self.buckets = {k: b for k, b in self.buckets.items() if now - b.stamp < full_after}
