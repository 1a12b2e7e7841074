"""Matching core: a deterministic, pure-Python limit order book for many markets.

Public API (see docs/matching.md):
    from offchain.matching import Engine, MarketConfig, BreakerConfig, Place, ...
"""
from .engine import Engine
from .events import Accepted, Amended, Cancelled, Event, Expired, Fill, Halted, Rejected, Triggered
from .types import (
    BPS, ONE, BreakerConfig, MarketConfig, OrderInfo, OrderKind, Place, PostOnly, Reason,
    SlippageRef, STPMode, TimeInForce,
)

__all__ = [
    "Engine", "MarketConfig", "BreakerConfig", "Place", "OrderInfo",
    "OrderKind", "TimeInForce", "PostOnly", "STPMode", "SlippageRef", "Reason", "BPS", "ONE",
    "Event", "Accepted", "Rejected", "Fill", "Cancelled", "Amended", "Triggered", "Expired",
    "Halted",
]
