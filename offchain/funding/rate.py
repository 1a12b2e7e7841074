"""Funding-rate maths: pure, exact integers (docs/funding.md).

Units
- A rate is a signed fraction scaled by RATE_ONE (1e12): 100_000_000 = 0.01 %.
  Positive means longs pay shorts.
- A premium sample is a signed fraction of the index, scaled by RATE_ONE.
- Prices are USDC units per whole base unit, sizes base units of 1e-18 (architecture.md).
- The cumulative funding index of a market grows by `trunc(rate * mark / INDEX_DIV)` per
  interval: USDC units * 1e6 per whole base unit (1e-12 USDC per whole unit). Every
  position that shares the index owes exactly `size * d_index / PAY_SCALE` (1e24), so
  truncating the increment changes what is owed, never the zero sum. The divisor keeps
  the index small enough that a position's snapshot fits in 72 bits of its storage word
  (docs/funding.md, "Storage").

Formula (Hyperliquid's, one 8-hour rate scaled to the interval):
    F8   = P + clamp(I8 - P, -C8, +C8)        P = average premium over the interval
    rate = clamp(trunc(F8 * interval / 8 h), -cap, +cap)
with I8 = 0.01 % interest and C8 = 0.05 % per 8 hours. Scaling F8 (not only the
interest) keeps the payment per hour independent of the interval length, so a one-minute
devnet interval pays 1/60 of what an hour pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

RATE_ONE = 10**12
ONE = 10**18
INDEX_DIV = 10**6
PAY_SCALE = ONE * RATE_ONE // INDEX_DIV  # size (1e18) * index (RATE_ONE / INDEX_DIV) = 1e24
EIGHT_HOURS = 8 * 3600
HOUR = 3600

INTEREST_8H = RATE_ONE // 10_000          # 0.01 % per 8 hours
CLAMP_8H = 5 * RATE_ONE // 10_000         # 0.05 %
CAP_PER_HOUR = 4 * RATE_ONE // 100        # 4 % per hour (Hyperliquid's cap)


def trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero (b > 0): a premium or rate never rounds away from zero."""
    q = abs(a) // b
    return q if a >= 0 else -q


def ceil_div(a: int, b: int) -> int:
    """a / b rounded toward +infinity (b > 0)."""
    return -((-a) // b)


def clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True, slots=True)
class FundingParams:
    """One market's funding settings. `cap` is the largest |rate| per interval; the chain
    keeps its own per-market cap and rejects a rate above it, so the keeper's must be
    no larger (the default is Hyperliquid's 4 % an hour scaled to the interval)."""

    interval_s: int = HOUR
    interest_8h: int = INTEREST_8H
    clamp_8h: int = CLAMP_8H
    cap: int = -1                  # -1: CAP_PER_HOUR scaled to interval_s
    impact_notional: int = 10_000 * 10**6   # USDC units walked into each side of the book
    sample_s: int = 5

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.sample_s <= 0:
            raise ValueError("interval and sample period must be positive")
        if self.interest_8h < -RATE_ONE or self.interest_8h > RATE_ONE or not 0 <= self.clamp_8h <= RATE_ONE:
            raise ValueError("interest and clamp must be fractions of RATE_ONE")
        if self.impact_notional <= 0:
            raise ValueError("impact notional must be positive")
        if self.cap == -1:
            object.__setattr__(self, "cap", default_cap(self.interval_s))
        if not 0 <= self.cap <= RATE_ONE:
            raise ValueError("cap must be within [0, RATE_ONE]")


def default_cap(interval_s: int) -> int:
    """4 % an hour scaled to the interval (at least 1 so a tiny interval can pay at all)."""
    return max(1, CAP_PER_HOUR * interval_s // HOUR)


def impact_price(levels: Iterable[tuple[int, int]], notional: int, is_bid: bool) -> int | None:
    """Average price of walking `notional` USDC units into one side of the book
    (levels best first, (price, size)). None when the side cannot absorb it.

    Exact: the average is sum(price * size) / sum(size) of the sizes taken; bids round it
    down and asks up, so rounding never manufactures a premium."""
    need = notional * ONE  # in price * size units
    num = den = 0
    for price, size in levels:
        if price <= 0 or size <= 0:
            continue
        take = size
        if num + price * size >= need:
            take = min(size, ceil_div(need - num, price))
        num += price * take
        den += take
        if num >= need:
            return num // den if is_bid else ceil_div(num, den)
    return None


def premium(impact_bid: int | None, impact_ask: int | None, index: int) -> int:
    """One premium sample (Hyperliquid): (max(bid - index, 0) - max(index - ask, 0)) / index,
    scaled by RATE_ONE, toward zero. A side that cannot absorb the impact notional adds
    nothing (an empty side cannot show a premium)."""
    if index <= 0:
        raise ValueError("index must be positive")
    up = max(impact_bid - index, 0) if impact_bid is not None else 0
    down = max(index - impact_ask, 0) if impact_ask is not None else 0
    return trunc_div((up - down) * RATE_ONE, index)


def sample_book(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]], index: int,
                impact_notional: int) -> int:
    """The premium sample of one book snapshot against the index."""
    return premium(impact_price(bids, impact_notional, True), impact_price(asks, impact_notional, False), index)


def average_premium(samples: Sequence[int]) -> int:
    """Mean of the interval's samples, toward zero; 0 without samples (interest only)."""
    return trunc_div(sum(samples), len(samples)) if samples else 0


def funding_rate(avg_premium: int, params: FundingParams) -> int:
    """The interval's rate from its average premium (module docstring)."""
    f8 = avg_premium + clamp(params.interest_8h - avg_premium, -params.clamp_8h, params.clamp_8h)
    return clamp(trunc_div(f8 * params.interval_s, EIGHT_HOURS), -params.cap, params.cap)


def index_delta(rate: int, mark: int) -> int:
    """How much one interval's rate moves the market's cumulative funding index (toward
    zero, so a rate and its negation move it by exact opposites)."""
    return trunc_div(rate * mark, INDEX_DIV)


def funding_owed(size: int, index_now: int, snapshot: int) -> int:
    """USDC units a position owes for the index moving from `snapshot` to `index_now`;
    negative = it receives. Rounded up: against the payer (a payer pays the ceiling, a
    receiver gets the floor), so settled payments never exceed what was paid in."""
    return ceil_div(size * (index_now - snapshot), PAY_SCALE)


def interval_of(timestamp: int, interval_s: int) -> int:
    """The interval a timestamp falls in (intervals are aligned to the epoch)."""
    return timestamp // interval_s
