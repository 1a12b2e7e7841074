"""Tick and lot rounding. Bids round down and asks round up so that rounding can only
widen a spread: a level's bid is never above the same level's ask, so nothing we quote
crosses itself."""

from __future__ import annotations

WAD = 10**18  # base units per whole base unit
BPS = 10_000


def round_bid(price: int, tick: int) -> int:
    return price // tick * tick


def round_ask(price: int, tick: int) -> int:
    return -(-price // tick) * tick


def round_size(size: int, lot: int) -> int:
    return size // lot * lot


def notional(price: int, size: int) -> int:
    """USDC units of `size` base units at `price` (rounded down, like the contracts)."""
    return price * size // WAD


def mul_bps(value: int, bps: int) -> int:
    """value * bps / 10_000 rounded toward zero (symmetric for negative values)."""
    product = value * bps
    return product // BPS if product >= 0 else -(-product // BPS)
