"""Chain watcher: follows confirmed blocks only (head - confirmations), reorg-safe by lag.

Each poll reads the logs of the Exchange, the Oracle, the pool and the factory from the
cursor + 1 to head - confirmations, in (block, log index) order, and turns them into:
- Deposit / Withdraw / FillSettled / Liquidation: the accounts' chain snapshot is re-read;
- AgentSet: the account's agent set (also rebuilt by a full scan at start-up);
- OrderCancelled: a journaled `chain_cancel` command (the order leaves the book);
- MinNonceSet: a journaled `min_nonce` command (orders below the floor leave the book);
- Oracle PriceUpdated: a journaled `mark` command (marks drive triggers, bands, margin);
- pool / factory / vault events: handed to the strategy runners' hook as raw logs.
The cursor is journaled in the same transaction as the commands the logs produced, so
a restart neither loses nor repeats one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from offchain.client.messages import checksum as to_checksum_address

from .chain import Chain
from .core import Core, Outbox
from .journal import WriteSet

log = logging.getLogger("mmx.keeper.watcher")
CURSOR = "watcher"


def _addr(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def _word(data: bytes, i: int) -> int:
    return int.from_bytes(data[32 * i:32 * i + 32], "big")


class Watcher:
    def __init__(self, core: Core, chain: Chain, committer, publish: Callable[[Outbox], None],
                 journal_cursor: int | None, *, confirmations: int = 2, poll_interval: float = 0.5,
                 start_block: int = 0, extra_addresses: list[str] | None = None,
                 on_log: Callable[[dict], None] | None = None, clock=None) -> None:
        import time

        self.core = core
        self.chain = chain
        self.committer = committer
        self.publish = publish
        self.cursor = journal_cursor if journal_cursor is not None else start_block - 1
        self.start_block = start_block
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.extra = [a for a in (extra_addresses or []) if a]
        self.on_log = on_log
        self.clock = clock or time.time
        self.task: asyncio.Task | None = None
        t = chain.topics
        self.t_deposit, self.t_withdraw = t["Deposit"], t["Withdraw"]
        self.t_settled, self.t_liq = t["FillSettled"], t.get("Liquidation")
        self.t_agent, self.t_cancel, self.t_nonce = t["AgentSet"], t["OrderCancelled"], t["MinNonceSet"]
        self.t_price = chain.oracle_topics.get("PriceUpdated")
        self.caught_up = asyncio.Event()
        self.dirty: set[str] = set()
        self.last_refresh = 0.0
        self.refresh_interval = 1.0  # seconds between account snapshot refreshes

    async def load_agents(self) -> None:
        """Agent approvals are not journaled: rebuild them from every AgentSet log."""
        head = await self.chain.block_number()
        logs = await self.chain.get_logs(self.chain.exchange.address, self.start_block, head, [self.t_agent])
        for entry in logs:
            self._agent(entry)

    def _agent(self, entry: dict) -> None:
        account, agent = _addr(entry["topics"][1]), _addr(entry["topics"][2])
        approved = _word(bytes.fromhex(entry["data"][2:]), 0) != 0
        agents = self.core.account(account).agents
        (agents.add if approved else agents.discard)(agent)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="watcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep watching; RPC hiccups happen
                log.warning("watcher poll failed: %s", exc)
            await asyncio.sleep(self.poll_interval)

    async def poll(self) -> int:
        """Process confirmed logs up to head - confirmations; returns the new cursor."""
        chain = self.chain
        head = await chain.block_number()
        target = head - self.confirmations
        while self.cursor < target:
            lo, hi = self.cursor + 1, min(target, self.cursor + 2000)
            addresses = [chain.exchange.address] + ([chain.oracle.address] if chain.oracle else []) + self.extra
            logs = await chain.get_logs(addresses, lo, hi)
            logs.sort(key=lambda l: (int(l["blockNumber"], 16), int(l["logIndex"], 16)))
            await self._process(logs, hi)
        self.caught_up.set()
        return self.cursor

    async def _process(self, logs: list[dict], hi: int) -> None:
        core, chain = self.core, self.chain
        ws, out = WriteSet(), Outbox.new()
        dirty: set[str] = set()
        ts = int(self.clock() * 1000)
        exchange = chain.exchange.address.lower()
        oracle = chain.oracle.address.lower() if chain.oracle else ""
        for entry in logs:
            address = entry["address"].lower()
            topics = entry["topics"]
            if not topics:
                continue
            t0 = topics[0]
            if address == exchange:
                if t0 in (self.t_deposit, self.t_withdraw) or t0 == self.t_liq:
                    dirty.add(_addr(topics[1]))
                elif t0 == self.t_settled:
                    data = bytes.fromhex(entry["data"][2:])
                    dirty.add(to_checksum_address(data[12:32]))
                    dirty.add(to_checksum_address(data[44:64]))
                elif t0 == self.t_agent:
                    self._agent(entry)
                elif t0 == self.t_cancel:
                    account, order_hash = _addr(topics[1]), bytes.fromhex(topics[2][2:])
                    signed = core.orders.get(order_hash)
                    if signed is not None and signed.open:
                        core.cancel(core.next_seq(), ts, signed.order.account, [order_hash], 0, ws, out,
                                    "chain_cancel")
                elif t0 == self.t_nonce:
                    account = _addr(topics[1])
                    floor = _word(bytes.fromhex(entry["data"][2:]), 0)
                    core.min_nonce(core.next_seq(), ts, account, floor, ws, out)
            elif address == oracle and t0 == self.t_price:
                market = int(topics[1], 16)
                price = _word(bytes.fromhex(entry["data"][2:]), 0)
                if market in core.markets and core.marks.get(market) != price:
                    core.set_mark(core.next_seq(), ts, market, price, ws, out)
            elif self.on_log is not None:
                self.on_log(entry)
        ws.cursors["watcher"] = hi
        self.cursor = hi
        await self.committer.commit(ws, lambda: self.publish(out))
        self.dirty |= {a for a in dirty if a in core.accounts}
        now = self.clock()
        if self.dirty and now - self.last_refresh >= self.refresh_interval:
            # debounced: one batch request per interval, not 4 calls per account per block
            accounts, self.dirty = sorted(self.dirty), set()
            self.last_refresh = now
            await refresh_accounts(core, chain, accounts, block=hi)


async def refresh_account(core: Core, chain: Chain, account: str, block: int | str = "latest") -> None:
    """Re-read one account's chain snapshot (collateral, positions, min nonce)."""
    await refresh_accounts(core, chain, [account], block)


async def refresh_accounts(core: Core, chain: Chain, accounts: list[str], block: int | str = "latest") -> None:
    """Re-read accounts' chain snapshots in one JSON-RPC batch."""
    for i in range(0, len(accounts), 100):
        chunk = accounts[i:i + 100]
        snapshots = await chain.account_snapshots(chunk, sorted(core.markets), block)
        for account, (collateral, positions, min_nonce) in snapshots.items():
            state = core.account(account)
            state.collateral = collateral
            for market, (size, cost) in positions.items():
                state.positions[market] = [size, cost]
            state.min_nonce = max(state.min_nonce, min_nonce)
            state.loaded = True
