"""One strategy step: engine -> RiskGate -> reconcile, the same for every host.

Every engine (grid, two-sided quotes, delta-neutral hedger, and any later one) speaks the
`Engine` protocol below; `decide` is the one pure function that turns what an engine
wants plus what rests into a `Plan`. The keeper's runners (`keeper.runners.MarketMaker`)
and the standalone bot (`bots.MarketMakerBot`, through the same MarketMaker) both call
it, so a strategy behaves the same inside the keeper and against its HTTP API.

"Keep what rests" (an engine returning None, e.g. quotes inside their refresh time) is
still shown to the gate: the drawdown kill switch, a stale mark or a halt must pull the
orders at once, not at the engine's next requote. When the gate lets nothing rest,
everything is cancelled; otherwise the plan is empty (partial trims wait for the next
requote, which reconciles the allowed set anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from offchain.strategies.market import AccountState, MarketState
from offchain.strategies.orders import Applied, DesiredOrder, Fill
from offchain.strategies.reconcile import Plan, reconcile
from offchain.strategies.risk import RiskDecision, RiskGate


class Engine(Protocol):
    """What a host needs from a strategy engine (pure: no I/O, time comes in as ms)."""

    @property
    def paused(self) -> bool:
        """True while the engine rests nothing because the price left its range (a host
        may rebuild it around the new price); False for engines without a range."""
        ...

    def desired(self, market: MarketState, account: AccountState, now: int) -> list[DesiredOrder] | None:
        """The full set of orders the engine wants now ([] = none), or None to keep what rests."""
        ...

    def on_fill(self, fill: Fill, now: int = 0) -> Applied | None:
        """One of our orders traded: update the state; None if the fill is not this engine's."""
        ...

    def undo_fill(self, fill: Fill, taken: int | None = None) -> bool:
        """The chain skipped a fill `on_fill` applied (`taken` = its Applied.taken): invert
        it. True if the engine's state changed (the host then re-quotes)."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    plan: Plan
    risk: RiskDecision | None  # None: the engine kept its quotes and the gate found nothing to pull
    desired: tuple[DesiredOrder, ...] = ()  # what the gate allowed (empty when kept)
    requoted: bool = False  # the engine produced a fresh desired set


def decide(engine: Engine, gate: RiskGate, market: MarketState, account: AccountState, now: int) -> Decision:
    """engine -> RiskGate -> reconcile against `account.open_orders` (cancels first in the plan)."""
    desired = engine.desired(market, account, now)
    if desired is None:
        resting = [DesiredOrder(o.market, o.is_buy, o.price, o.size, True, o.reduce_only)
                   for o in account.open_orders]
        allowed, risk = gate.filter(resting, account, market, now)
        if resting and not allowed:
            return Decision(cancel_all(account), risk)
        return Decision(Plan(), None if risk.ok else risk)
    allowed, risk = gate.filter(desired, account, market, now)
    plan = reconcile(account.open_orders, allowed, min_size=market.min_size)
    return Decision(plan, risk, tuple(allowed), True)


def cancel_all(account: AccountState) -> Plan:
    """Cancel every order of ours that rests (in `account.open_orders`)."""
    return Plan(tuple(o.order_id for o in account.open_orders))
