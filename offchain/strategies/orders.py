"""Order values exchanged between the engines, the risk gate, the reconciler and the keeper.

msgspec structs (frozen, no GC tracking) rather than dataclasses: the grid builds dozens of
these per update and a frozen dataclass costs ~10x more to construct; msgspec structs are
still immutable, hashable, typed and encode to JSON for the keeper's journal as they are.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

# The keeper decides what an order id is (an EIP-712 hash as hex, a journal row id...).
OrderId: TypeAlias = int | str | bytes


class DesiredOrder(msgspec.Struct, frozen=True, gc=False):
    """An order an engine wants resting on the book. Prices/sizes are exact integers:
    price in USDC units (1e-6) per whole base unit, size in base units (1e-18)."""

    market: int
    is_buy: bool
    price: int
    size: int
    post_only: bool = True
    reduce_only: bool = False


class LiveOrder(msgspec.Struct, frozen=True, gc=False):
    """An order the keeper knows is resting. `size` is the *remaining* size."""

    order_id: OrderId
    market: int
    is_buy: bool
    price: int
    size: int
    reduce_only: bool = False


class Fill(msgspec.Struct, frozen=True, gc=False):
    """One of our resting orders traded (as the keeper reports it to an engine)."""

    market: int
    is_buy: bool
    price: int
    size: int
    ts: int = 0  # ms


class Applied(msgspec.Struct, frozen=True, gc=False):
    """An engine took a fill into its state (`Engine.on_fill`). `taken` is what it took off
    the filled level, the one number `undo_fill` needs to invert the fill exactly (a grid
    may take less than the fill's size when fills arrive out of order; 0 for engines that
    keep nothing per level)."""

    taken: int = 0


NOTHING_TAKEN = Applied()
