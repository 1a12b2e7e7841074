"""Market-making engines (pure: config + state in, desired orders out; no I/O, no clock).

Every engine is a `step.Engine`: `desired(market, account, now)` (None = keep what
rests), `on_fill(fill, now)`, `undo_fill(fill, taken)`. A host's loop, per market and update:
    decision = decide(engine, gate, market, account, now)   # engine -> RiskGate -> reconcile
    ... send decision.plan.cancels, then decision.plan.places; report fills to engine.on_fill
The keeper's runners and the bot share that loop in `keeper.runners.MarketMaker`.
See docs/strategies.md.
"""

from offchain.strategies.grid import GridConfig, GridEngine, GridSnapshot, GridStatus, Spacing
from offchain.strategies.ladder import arithmetic_levels, geometric_levels, step_levels
from offchain.strategies.market import AccountState, MarketState, book_top_excluding
from offchain.strategies.orders import Applied, DesiredOrder, Fill, LiveOrder, OrderId
from offchain.strategies.quote import QuoteConfig, QuoteEngine
from offchain.strategies.reconcile import Amend, Plan, reconcile
from offchain.strategies.risk import Reason, RiskDecision, RiskGate, RiskLimits, RiskResult
from offchain.strategies.rounding import notional, round_ask, round_bid, round_size
from offchain.strategies.step import Decision, Engine, cancel_all, decide

__all__ = [
    "AccountState", "Amend", "Applied", "Decision", "Engine", "cancel_all", "decide", "DesiredOrder", "Fill", "GridConfig", "GridEngine", "GridSnapshot",
    "GridStatus", "LiveOrder", "MarketState", "OrderId", "Plan", "QuoteConfig", "QuoteEngine",
    "Reason", "RiskDecision", "RiskGate", "RiskLimits", "RiskResult", "Spacing",
    "arithmetic_levels", "book_top_excluding", "geometric_levels", "notional", "reconcile", "round_ask", "round_bid",
    "round_size", "step_levels",
]
