"""The Exchange's margin tiers as the keeper reads them: the latest MarginTiersSet per
market (the chain keeps the table packed; its event carries the rows), so the admission
pre-check applies the same table the chain does (docs/exchange.md, "Margin tiers").
Read at start-up; a table changed while the keeper runs reaches it through the watcher
(journaled `margin_tiers_set`, offchain/keeper/core.py)."""

from __future__ import annotations

import dataclasses

from eth_abi import decode as abi_decode

from .margin import TierTable


async def load_tiers(chain, from_block: int = 0) -> dict[int, TierTable | None]:
    topic = chain.topics.get("MarginTiersSet")
    if topic is None:
        return {}
    head = await chain.block_number()
    logs = await chain.get_logs(chain.exchange.address, from_block, head, [topic])
    tables: dict[int, TierTable | None] = {}
    for entry in logs:  # oldest first: a later table replaces an earlier one (empty: flat again)
        rows = tiers_rows(entry)
        tables[int(entry["topics"][1], 16)] = TierTable.of(rows) if rows else None
    return tables


def tiers_rows(entry: dict) -> list[tuple[int, int, int]]:
    """A MarginTiersSet log's (threshold, initial_bps, maintenance_bps) rows."""
    thresholds, im, mm = abi_decode(["uint256[]", "uint256[]", "uint256[]"], bytes.fromhex(entry["data"][2:]))
    return list(zip(thresholds, im, mm))


async def markets_with_tiers(chain, markets: dict, from_block: int = 0) -> dict:
    """The keeper's MarketInfo registry with each market's tier table attached."""
    tables = await load_tiers(chain, from_block)
    return {m: dataclasses.replace(info, tiers=tables[m]) if m in tables else info for m, info in markets.items()}
