"""Inputs to analytics: what the keeper's journal and the chain give us. Integers only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SettledFill:
    """One settled fill from the point of view of the analysed account.

    ts in ms; price in USDC units per whole base unit; size in base units (1e-18);
    fee = USDC units paid, rebate = USDC units earned (both >= 0, as settled on chain).
    """

    ts: int
    market: int
    is_buy: bool
    price: int
    size: int
    is_maker: bool
    fee: int = 0
    rebate: int = 0


@dataclass(frozen=True, slots=True)
class MarkPoint:
    """Oracle mark price of a market at ts (ms); `block` orders marks and share flows
    that share a block timestamp (0: unknown, order by ts alone)."""

    ts: int
    market: int
    price: int
    block: int = 0


@dataclass(frozen=True, slots=True)
class NavPoint:
    """Vault or pool state at ts (ms): total assets (USDC units) and total share supply.
    The share price (assets / supply) is flow-neutral: deposits and withdrawals do not
    move it, so returns come from it rather than from equity."""

    ts: int
    total_assets: int
    total_supply: int
