"""Market-making engines (pure: config + state in, desired orders out; no I/O, no clock).

A runner's loop, per market and update:
    desired = engine.desired(market)            # GridEngine
    desired = engine.update(market, account, now)  # QuoteEngine (None = keep quotes)
    allowed, decision = gate.filter(desired, account, market, now)
    plan = reconcile(account.open_orders, allowed, min_size=market.min_size)
    ... send plan.cancels, then plan.places; report fills to engine.on_fill(...)
See docs/strategies.md.
"""

from offchain.strategies.grid import GridConfig, GridEngine, GridSnapshot, GridStatus, Spacing
from offchain.strategies.ladder import arithmetic_levels, geometric_levels, step_levels
from offchain.strategies.market import AccountState, MarketState, book_top_excluding
from offchain.strategies.orders import DesiredOrder, Fill, LiveOrder, OrderId
from offchain.strategies.quote import QuoteConfig, QuoteEngine
from offchain.strategies.reconcile import Amend, Plan, reconcile
from offchain.strategies.risk import Reason, RiskDecision, RiskGate, RiskLimits, RiskResult
from offchain.strategies.rounding import notional, round_ask, round_bid, round_size

__all__ = [
    "AccountState", "Amend", "DesiredOrder", "Fill", "GridConfig", "GridEngine", "GridSnapshot",
    "GridStatus", "LiveOrder", "MarketState", "OrderId", "Plan", "QuoteConfig", "QuoteEngine",
    "Reason", "RiskDecision", "RiskGate", "RiskLimits", "RiskResult", "Spacing",
    "arithmetic_levels", "book_top_excluding", "geometric_levels", "notional", "reconcile", "round_ask", "round_bid",
    "round_size", "step_levels",
]
