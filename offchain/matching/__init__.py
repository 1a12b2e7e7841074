"""Matching core: a deterministic, pure-Python limit order book for many markets.

Public API (see docs/matching.md):
    from offchain.matching import Engine, MarketConfig, BreakerConfig, Place, ...

Two builds of the same source (docs/matching.md, "Compiled build"): book, engine,
protection and triggers compiled by Cython (pure-Python mode: the .py files plus the
declarations in the .pxd files beside them) into extension modules beside the .py files
(`make` builds them when a C compiler is present; scripts/build_matching.py), or the
interpreted .py files. The compiled modules are used when all of them are present and
newer than their sources (an edited source is never shadowed by a stale build); else,
or with MMX_MATCHING=interpreted in the environment, the sources. IMPLEMENTATION says
which one this process runs.
"""
from ._select import ACCELERATED, choose as _choose

IMPLEMENTATION = _choose()  # before the first import of a compiled module's name

from .engine import Engine  # noqa: E402
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
