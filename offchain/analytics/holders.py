"""Per LP (pool) and per follower (vault): PnL since entry and against holding.

Pure over the holder's share flows (deposits and withdrawals as the contracts logged
them) and the share price now, all exact integers:
- value now = shares x (total assets + 1) // (supply + 1e6), the contracts' own
  convertToAssets (virtual shares; what a full redemption would pay before fees);
- PnL since entry = value now + withdrawn - deposited (USDC units), and the return on
  the deposits (deposit-weighted: PnL / total deposited);
- against holding USDC: the PnL itself (idle USDC earns nothing here);
- against holding the base asset (impermanent-loss style): each deposit buys base at the
  mark of its time and each withdrawal sells base at the mark of its time; the result
  is value now + withdrawn - (base still held x mark now + withdrawn);
- profit share paid: the vault's `fee` on each withdrawal (the manager's cut above the
  holder's high-water mark); funding: a slot, None until the funding runner reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

WAD = 10**18
VIRTUAL_ASSETS = 1
VIRTUAL_SHARES = 10**6


@dataclass(frozen=True, slots=True)
class ShareFlow:
    ts: int  # ms
    holder: str
    is_deposit: bool
    assets: int  # USDC units paid in (deposit) or received (withdrawal, after fees)
    shares: int  # shares minted (deposit) or burned (withdrawal)
    fee: int = 0  # profit share / withdrawal fee charged on a withdrawal
    block: int = 0  # chain order (several blocks share a timestamp); 0: unknown


@dataclass(frozen=True, slots=True)
class HolderResult:
    holder: str
    deposited: int
    withdrawn: int
    shares: int
    value: int  # of the shares still held, at the share price now
    pnl: int  # value + withdrawn - deposited
    return_on_deposits: float | None  # pnl / deposited
    fees_paid: int  # profit share (vault) / withdrawal fees
    vs_usdc: int  # = pnl
    hold_base_value: int | None  # value now of the base-asset alternative (None: no marks)
    vs_base: int | None  # (value + withdrawn) - (hold_base_value + withdrawn)
    funding: int | None = None  # the funding runner's slot


def share_value(shares: int, total_assets: int, total_supply: int) -> int:
    return shares * (total_assets + VIRTUAL_ASSETS) // (total_supply + VIRTUAL_SHARES)


def holder_results(flows: Iterable[ShareFlow], total_assets: int, total_supply: int,
                   price_at: Callable[[ShareFlow], int | None] | None = None, price_now: int | None = None
                   ) -> dict[str, HolderResult]:
    """Results per holder. `price_at(flow)` is the base asset's mark when the flow happened (None when
    unknown); `price_now` the mark now. Without them the base comparison is None."""
    by: dict[str, list[ShareFlow]] = {}
    for f in sorted(flows, key=lambda f: f.ts):
        by.setdefault(f.holder, []).append(f)
    out: dict[str, HolderResult] = {}
    for holder, fs in by.items():
        deposited = sum(f.assets for f in fs if f.is_deposit)
        withdrawn = sum(f.assets for f in fs if not f.is_deposit)
        shares = sum(f.shares if f.is_deposit else -f.shares for f in fs)
        value = share_value(shares, total_assets, total_supply)
        pnl = value + withdrawn - deposited
        base_units: int | None = 0
        if price_at is None or not price_now:
            base_units = None
        else:
            for f in fs:
                p = price_at(f)
                if not p:
                    base_units = None
                    break
                units = f.assets * WAD // p
                base_units += units if f.is_deposit else -units  # type: ignore[operator]
        hold_value = None if base_units is None else base_units * price_now // WAD  # type: ignore[operator]
        out[holder] = HolderResult(
            holder, deposited, withdrawn, shares, value, pnl, (pnl / deposited) if deposited else None,
            sum(f.fee for f in fs if not f.is_deposit), pnl, hold_value,
            None if hold_value is None else value - hold_value,
        )
    return out


__all__ = ["HolderResult", "ShareFlow", "holder_results", "share_value"]
