"""Factories shared by the strategy tests (prices in USDC units, sizes in base units)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from offchain.strategies import MarketState
from tests.constants import LOT, TICK, USDC

ETH = 10**18


def market_at(price: int, *, spread: int = 2 * TICK, halted: bool = False, mark_ts: int = 0,
              tick: int = TICK, lot: int = LOT, min_size: int = LOT) -> MarketState:
    """A book centred on `price` (best bid/ask `spread` apart), mark = price."""
    return MarketState(1, price - spread // 2, price + spread // 2, price, mark_ts, halted, tick, lot, min_size)


@pytest.fixture
def at() -> Callable[..., MarketState]:
    return market_at
