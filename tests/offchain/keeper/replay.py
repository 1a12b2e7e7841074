"""What a restart without a snapshot rebuilds: a fresh Core with every journaled command
applied in order (the tests compare it with the live keeper's state)."""

from __future__ import annotations

import json

from offchain.keeper.admission import MarketInfo
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import Journal
from offchain.matching import Engine

from .helpers import MARKET


def replay(url: str, markets: tuple[MarketInfo, ...] = (MARKET,)) -> Core:
    """The journal at `url` replayed into a fresh Core of `markets`."""
    core = Core(Engine([market_config(m) for m in markets]), {m.market: m for m in markets})
    out = Outbox.new()
    journal = Journal(url)
    for row in journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
    journal.close()
    return core
