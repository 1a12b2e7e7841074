"""The runners' decisions, as pure functions of config + state (no I/O, no clock).

Every runner tick is: read state (chainview / keeper views) -> one of these functions ->
send what it returns (cancels first, then places) through the keeper gateway. (The
quoting step itself, engine -> RiskGate -> reconcile, is `offchain.strategies.decide`,
which the bot runs too.)

- `vault_mode` / `vault_signer`: what a vault runner may do this tick and with which key;
- `cap_limits`: the vault's on-chain leverage / position caps and close-only as RiskLimits;
- `unwind_orders`: the next step of freeing collateral for queued withdrawals
  (reduce-only IOC orders, a bounded fraction of each position per step);
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from offchain.strategies import DesiredOrder, MarketState, RiskLimits
from offchain.strategies.rounding import BPS, round_ask, round_bid

from .configs import StrategyKind, VaultStrategy


# -- risk ----------------------------------------------------------------------------------
def cap_limits(base: RiskLimits, *, position_cap: int = 0, leverage_cap_bps: int = 0, equity: int = 0,
               other_notional: int = 0, mark_distance_bps: int = 0) -> RiskLimits:
    """Tighten `base` with the account's on-chain caps (the Exchange skips fills beyond them,
    so quoting beyond them only produces skipped fills). The leverage cap bounds total
    notional at mark by cap_bps * equity; what other markets already use is taken off.
    `mark_distance_bps` is the vault's trade guard distance: quotes stay within 4/5 of it
    (`guard_distance_bps`)."""
    limits = base
    if mark_distance_bps:
        room_bps = guard_distance_bps(mark_distance_bps)
        limits = dataclasses.replace(limits, max_mark_distance_bps=min(limits.max_mark_distance_bps, room_bps)
                                     if limits.max_mark_distance_bps else room_bps)
    if position_cap:
        limits = dataclasses.replace(
            limits, max_position=min(limits.max_position, position_cap) if limits.max_position else position_cap)
    if leverage_cap_bps:
        room = max(equity, 0) * leverage_cap_bps // BPS - other_notional
        room = max(room, 1)  # 0 would mean "no limit"; 1 USDC unit allows nothing that adds risk
        limits = dataclasses.replace(
            limits, max_notional=min(limits.max_notional, room) if limits.max_notional else room)
    return limits


# -- vaults -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VaultSnapshot:
    """One vault's chain state at one moment (chainview.read_vault)."""

    address: str
    strategy: VaultStrategy
    agent: str
    manager_paused: bool = False
    halted: bool = False
    unwinding: bool = False
    unwind_agent: str = ""
    queue_length: int = 0
    queue_head: int = 0
    head_value: int = 0  # value (USDC units) of the oldest queued withdrawal
    available: int = 0  # available_liquidity(): idle USDC + free collateral
    close_only: bool = False  # Exchange.close_only(vault)
    leverage_cap_bps: int = 0
    position_cap: int = 0  # Exchange.position_cap(vault, strategy.market)
    unwind_due: bool = False  # Vault.unwind_due(): the head request outlived the grace period
    # Vault.max_mark_distance_bps(): the Exchange skips the vault's fills farther from the
    # mark (0: not read, no clamp)
    max_mark_distance_bps: int = 0

    @property
    def shortfall(self) -> int:
        """USDC the head withdrawal still lacks (0 when the queue is empty or covered)."""
        if self.queue_length == 0:
            return 0
        return max(self.head_value - self.available, 0)

    @property
    def claimable(self) -> bool:
        return self.queue_length > 0 and self.available >= self.head_value


class VaultMode(str, Enum):
    SKIP = "skip"  # we hold no key that may sign for it
    IDLE = "idle"  # nothing to run (kind none/custom, or manager paused): pull our orders
    RUN = "run"  # run the strategy
    CLOSE_ONLY = "close only"  # halted / close-only on the Exchange: reduce-only quoting
    UNWIND = "unwind"  # queued withdrawals lack liquidity, or a forced unwind: free collateral


def vault_signer(v: VaultSnapshot, held: Iterable[str]) -> str | None:
    """The address whose key signs for the vault: during a forced unwind the factory's
    unwind agent (the manager's agent is revoked), else the manager's agent."""
    held = {a.lower() for a in held}
    wanted = v.unwind_agent if v.unwinding else v.agent
    if wanted and wanted.lower() in held:
        return wanted
    return None


def vault_mode(v: VaultSnapshot, signer: str | None) -> VaultMode:
    if signer is None:
        return VaultMode.SKIP
    if v.unwinding or v.shortfall > 0:
        return VaultMode.UNWIND
    if v.manager_paused or v.strategy.kind in (StrategyKind.NONE, StrategyKind.CUSTOM):
        return VaultMode.IDLE
    if v.halted or v.close_only:
        return VaultMode.CLOSE_ONLY
    return VaultMode.RUN


# -- unwinding --------------------------------------------------------------------------------
def unwind_size(position: int, step_bps: int, lot: int, min_size: int) -> int:
    """How much of |position| one unwind step closes: `step_bps` of it, on the lot, at
    least min_size, and the whole (lot-rounded) position when the rest would be dust."""
    whole = abs(position) // lot * lot
    if whole == 0:
        return 0
    size = abs(position) * step_bps // BPS // lot * lot
    size = max(size, min_size, lot)
    if size >= whole or whole - size < max(min_size, lot):
        return whole
    return size


def guard_distance_bps(guard_bps: int) -> int:
    """How far from the mark the keeper lets a vault's orders rest or trade: 4/5 of its
    trade guard (the Exchange skips a vault fill farther from the mark than the guard,
    closing ones included); the fifth left over is room for the mark moving between the
    keeper's view and settlement."""
    return max(guard_bps - guard_bps // 5, 1)


def unwind_slippage_bps(configured_bps: int, snap: VaultSnapshot) -> int:
    """The unwind's limit distance from the mark: the runner's setting, clamped inside the
    vault's trade guard (`guard_distance_bps`)."""
    guard = snap.max_mark_distance_bps
    if guard <= 0:
        return configured_bps
    return min(configured_bps, guard_distance_bps(guard))


def unwind_orders(positions: Mapping[int, int], markets: Mapping[int, MarketState], *, step_bps: int = 2_500,
                  slippage_bps: int = 100) -> list[DesiredOrder]:
    """Reduce-only taker orders (send IOC) closing `step_bps` of each position.

    Limit = mark moved `slippage_bps` against us (sell rounded up, buy down to the tick),
    so a step never trades worse than that; what does not fill is retried next step.
    Markets without state (halted, unknown) are skipped.
    """
    out = []
    for market_id in sorted(positions):
        position = positions[market_id]
        state = markets.get(market_id)
        if position == 0 or state is None or state.halted:
            continue
        size = unwind_size(position, step_bps, state.lot, state.min_size)
        if size == 0:
            continue
        is_buy = position < 0
        if is_buy:
            price = round_bid(state.mark_price * (BPS + slippage_bps) // BPS, state.tick)
        else:
            price = round_ask(-(-state.mark_price * (BPS - slippage_bps) // BPS), state.tick)
        if price > 0:
            out.append(DesiredOrder(market_id, is_buy, price, size, post_only=False, reduce_only=True))
    return out
