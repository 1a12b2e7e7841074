"""Grid price levels in exact integers.

Three ways to space a ladder, matching the configs the chain can hold:
- arithmetic between lower and upper: lower + (upper - lower) * i // (n - 1);
- geometric with a fixed step in bps (Hyperliquid HIP-2 uses 0.3% = 30 bps):
  p[i+1] = p[i] * (10_000 + step) // 10_000, iterated from lower;
- geometric between lower and upper: p[i] = lower * r**i with r = (upper/lower)**(1/(n-1))
  held as a 1e36 fixed-point integer found by an exact integer root (floats would make the
  ladder depend on the platform's libm; integers make every keeper agree).
Raw levels are unrounded; the engine rounds them to the tick (bids down, asks up).
"""

from __future__ import annotations

import math

from offchain.strategies.rounding import BPS

_RATIO_ONE = 10**36  # fixed-point scale of the geometric ratio
_PRICE_PAD = 10**18  # extra precision carried while compounding the ratio


def arithmetic_levels(lower: int, upper: int, count: int) -> list[int]:
    _check(lower, upper, count)
    width = upper - lower
    last = count - 1
    return [lower + width * i // last for i in range(count)]


def step_levels(lower: int, step_bps: int, count: int) -> list[int]:
    if lower <= 0 or step_bps <= 0 or count < 2:
        raise ValueError("need lower > 0, step_bps > 0 and at least 2 levels")
    growth = BPS + step_bps
    levels = [lower]
    price = lower
    for _ in range(count - 1):
        price = price * growth // BPS
        levels.append(price)
    return levels


def geometric_levels(lower: int, upper: int, count: int) -> list[int]:
    _check(lower, upper, count)
    last = count - 1
    # ratio**last == upper/lower, in fixed point: ratio = iroot(upper * ONE**last // lower)
    ratio = integer_root(upper * _RATIO_ONE**last // lower, last)
    levels = [lower]
    # Scale the price by 1e18 while iterating so the floor error that compounds over
    # the levels stays far below one price unit.
    scaled = lower * _PRICE_PAD
    for _ in range(last - 1):
        scaled = scaled * ratio // _RATIO_ONE
        levels.append(scaled // _PRICE_PAD)
    levels.append(upper)
    return levels


def integer_root(value: int, k: int) -> int:
    """floor(value ** (1/k)) for value >= 0, k >= 1, by Newton's method from above."""
    if value < 0 or k < 1:
        raise ValueError("integer_root needs value >= 0 and k >= 1")
    if value < 2 or k == 1:
        return value
    # Newton from above converges to the exact floor whatever the start, so a float
    # estimate only picks the start (fewer iterations); it cannot change the result.
    # The padding makes the start safely >= the root.
    exponent = math.log2(value) / k
    shift = max(0, int(exponent) - 60)  # keep the float part in range, shift the rest
    x = (int(2.0 ** (exponent - shift) * (1 + 1e-9)) + 2) << shift
    if x**k <= value:  # the estimate fell short (only for tiny values): start from above
        x = 1 << -(-value.bit_length() // k)
    while True:
        y = ((k - 1) * x + value // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _check(lower: int, upper: int, count: int) -> None:
    if lower <= 0 or upper <= lower or count < 2:
        raise ValueError("need 0 < lower < upper and at least 2 levels")
