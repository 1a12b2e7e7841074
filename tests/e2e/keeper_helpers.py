from __future__ import annotations

import asyncio
import time

from web3 import Web3

from offchain.keeper.config import ApiConfig, ChainConfig, Contracts, JournalConfig, KeeperConfig, SettlementConfig
from offchain.keeper.keys import Key
from offchain.order import address_of


def keeper_config(stack, db_path, *, poll_interval=0.1, confirmations=0, port=None, max_fills=64,
                  max_wait_ms=10.0) -> KeeperConfig:
    return KeeperConfig(
        chain=ChainConfig(rpc_url=stack.url, confirmations=confirmations, poll_interval=poll_interval),
        contracts=Contracts(**stack.contracts()),
        journal=JournalConfig(url=f"sqlite:///{db_path}"),
        api=ApiConfig(port=port or 0, rate=1e6, burst=1e6),  # 0: bound by the keeper, the OS's pick (keeper.url)
        settlement=SettlementConfig(max_fills=max_fills, max_wait_ms=max_wait_ms),
    )


def key(k: str) -> Key:
    return Key(address_of(k), k)


async def wait_for(predicate, timeout=120.0, interval=0.05):
    """Poll `predicate` until it holds. The timeout is generous on purpose: it costs nothing
    when things are fast, and the whole suite runs on a loaded 2-core machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met")


async def journaled(keeper, kind: str, timeout=120.0, where=None) -> list:
    """Wait until the journal holds a command of `kind` (whose decoded body satisfies
    `where`, when given); return those rows. The sequencer applies a command in memory
    first and the gateway's group commit writes it a moment later, so a test that saw the
    in-memory effect must wait for the durable record. A fresh journal starts with the
    registry (`market_set` / `margin_tiers_set` per market): a test of a later change says
    which one with `where`."""
    import json

    rows: list = []

    def found() -> bool:
        rows[:] = [r for r in keeper.journal.commands()
                   if r.kind == kind and (where is None or where(json.loads(r.body)))]
        return bool(rows)

    await wait_for(found, timeout=timeout)
    return rows


async def caught_up(keeper, w3, timeout=120.0) -> None:
    """Wait until the keeper's journaled watcher cursor reaches the chain's head as of now:
    every log mined so far (other tests' too, on the session's shared devnet) is in the
    journal. A test that counts commands of its own counts those journaled after this."""
    head = w3.eth.block_number
    await wait_for(lambda: (keeper.journal.cursor("watcher") or -1) >= head, timeout=timeout)


def fills_final(keeper, state: str = "settled") -> bool:
    """The keeper made fills and every one is final with `state`. Final fills leave the
    sequencer's live state (`core.fills` holds pending ones only), so this reads the journal."""
    rows = keeper.journal.fills()
    return bool(rows) and not keeper.core.fills and all(r.state == state for r in rows)


def exchange(stack):
    from offchain.artifacts import abi

    w3 = Web3(Web3.HTTPProvider(stack.url))
    return w3, w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
