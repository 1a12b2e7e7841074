"""Chain watcher: follows confirmed blocks only (head - confirmations), reorg-safe by lag.

Each poll reads the logs of the Exchange, the Oracle, the pool and the factory from the
cursor + 1 to head - confirmations, in (block, log index) order, and turns them into:
- Deposit / Withdraw / FillSettled / Liquidation: the accounts' chain snapshot is re-read;
- AgentSet: the account's agent set (also rebuilt by a full scan at start-up);
- OrderCancelled: a journaled `chain_cancel` command (the order leaves the book);
- MinNonceSet: a journaled `min_nonce` command (orders below the floor leave the book);
- Oracle PriceUpdated: a journaled `mark` command {market, price, updated_at} (marks drive
  triggers, bands, margin; updated_at drives the "stale" admission rule), also when only
  updated_at moved (a fresh report of the same price);
- Oracle Halted / Resumed: a journaled `market_halt` command {market, halted, reason} when
  the keeper's halted state changes (reason: the log's "breaker" / "guardian"; "guardian"
  for a resume);
- Oracle MaxAgeSet: the staleness limit (not journaled; re-read at start);
- AgentSet(approved=false): also a journaled `agent_revoked` command (the account's open
  orders signed by that agent leave the book: the chain would skip their fills);
- Exchange account-config logs (AgentSet, CloseOnlySet, LeverageCapSet, PositionCapSet):
  also handed to the strategy runners' hook, so cap and close-only changes act at once;
- TradeGuardSet / CloseOnlySet / LeverageCapSet / PositionCapSet: the account's own trade
  limits (`AccountState.guard`, which admission checks orders against; rebuilt at start-up
  with the agent sets);
- pool / factory / vault (every `watch()`ed address) events: handed to the runners' hook;
- SubaccountOpened: the owner's sub-account (offchain/keeper/transfers.py: one agent set for
  both, rebuilt at start-up with the agent sets); PositionTransferred / CollateralMoved: both
  accounts' snapshots are re-read at once (not debounced), then the log goes to the runners.
The cursor is journaled in the same transaction as the commands the logs produced, so
a restart neither loses nor repeats one.

Oracle state at start (`load_oracle`): `max_age`, and each market's halted state at the
confirmed head from `price_info`, like the agent sets; a difference from the replayed
state is journaled as a `market_halt` (reason: the market's last Halted log, else
"oracle"), so a keeper started during a halt knows it even when the Halted log lies
before its start block. The logs between the cursor and that block, applied after it,
converge to the same state (each command sets the state; no change, nothing journaled).
Each poll also records the head block's timestamp (`core.oracle.block_time`): the clock
the stale rule measures a mark's age against.

Watched addresses (`watch(address)`): the pool and the factory are fixed by the config;
vaults are added at run time. The watched set is not journaled: it is re-derived at every
start from the factory's VaultCreated logs (`load_watched`, like the agent sets from
AgentSet logs), and a VaultCreated the watcher reads live adds its vault at once, with the
vault's logs of the same block range back-filled. Other callers re-`watch` at start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any, Callable

from offchain.wire import checksum as to_checksum_address

from offchain.artifacts import abi as artifact_abi

from .chain import Chain, event_topics
from .admission import AccountGuard, MarketInfo
from .core import Core, Outbox
from .journal import WriteSet

from .periodic import PeriodicTask
from offchain.risk.margin import TierTable
from offchain.risk.tiers_chain import tiers_rows

from .transfers import T_OPENED, T_TRANSFERRED, SubaccountBook, touched

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
                 on_log: Callable[[dict], None] | None = None, clock=None, factory: str = "") -> None:
        import time

        self.core = core
        self.chain = chain
        self.committer = committer
        self.publish = publish
        self.cursor = journal_cursor if journal_cursor is not None else start_block - 1
        self.start_block = start_block
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.extra: list[str] = []  # addresses whose logs go to on_log (see watch())
        self._watched: set[str] = set()
        self._backfill: list[tuple[str, int]] = []  # (address, from_block) to read up to the cursor
        for address in extra_addresses or []:
            if address:
                self.watch(address)
        self.factory = factory.lower() if factory else ""
        if self.factory:
            self.watch(factory)
        self.t_vault_created = event_topics(artifact_abi("VaultFactory"))["VaultCreated"] if self.factory else ""
        self.on_log = on_log
        self.clock = clock or time.time
        self._loop = PeriodicTask("watcher", self.poll, poll_interval)
        t = chain.topics
        self.t_deposit, self.t_withdraw = t["Deposit"], t["Withdraw"]
        self.t_settled, self.t_liq = t["FillSettled"], t.get("Liquidation")
        self.t_agent, self.t_cancel, self.t_nonce = t["AgentSet"], t["OrderCancelled"], t["MinNonceSet"]
        self.t_market_set = t.get("MarketSet")
        self.t_tiers_set = t.get("MarginTiersSet")
        # account-config logs the runners act on (topics[1] is the account in each)
        self.t_account_config = {t[name] for name in ("AgentSet", "CloseOnlySet", "LeverageCapSet",
                                                       "PositionCapSet") if name in t}
        # the account's own trade limits (AccountState.guard: admission mirrors them)
        self.t_guard = {t[name]: name for name in ("TradeGuardSet", "CloseOnlySet", "LeverageCapSet",
                                                   "PositionCapSet") if name in t}
        self.t_price = chain.oracle_topics.get("PriceUpdated")
        self.t_halted = chain.oracle_topics.get("Halted")
        self.t_resumed = chain.oracle_topics.get("Resumed")
        self.t_max_age = chain.oracle_topics.get("MaxAgeSet")
        self.caught_up = asyncio.Event()
        self.subaccounts = SubaccountBook()
        self.dirty: set[str] = set()
        # accounts whose position changed on chain outside the keeper's fills (Liquidation,
        # Adl, DelistedClosed): the engine's position is re-synced (`position_sync`, set by
        # the service: Keeper.sync_positions) after the next refresh
        self.position_dirty: set[str] = set()
        self.position_sync: Callable[[set[str]], Any] | None = None
        self.t_adl, self.t_delisted_closed = t.get("Adl"), t.get("DelistedClosed")
        self.last_refresh = 0.0
        self.refresh_interval = 1.0  # seconds between account snapshot refreshes

    # -- watched addresses -----------------------------------------------------------------
    def watch(self, address: str, from_block: int | None = None) -> bool:
        """Hand this contract's logs to `on_log` from now on; True if it was not watched yet.

        `from_block` (optional): also deliver its logs from that block up to the cursor
        (read at the start of the next poll, before newer blocks), for a contract that
        appeared in blocks the watcher has already passed. Idempotent."""
        key = address.lower()
        if key in self._watched:
            return False
        self._watched.add(key)
        self.extra.append(to_checksum_address(address))
        if from_block is not None and from_block <= self.cursor:
            self._backfill.append((to_checksum_address(address), from_block))
        return True

    def watching(self, address: str) -> bool:
        return address.lower() in self._watched

    async def load_watched(self) -> None:
        """Re-derive the watched vaults at start: every VaultCreated log of the factory."""
        if not self.factory:
            return
        head = await self.chain.block_number()
        logs = await self.chain.get_logs(to_checksum_address(self.factory), self.start_block, head,
                                         [self.t_vault_created])
        for entry in logs:
            self.watch(_addr(entry["topics"][1]))

    async def load_agents(self) -> None:
        """Agent approvals and accounts' trade limits are not journaled: rebuild them from
        every AgentSet and trade-limit log."""
        head = await self.chain.block_number()
        logs = await self.chain.get_logs(self.chain.exchange.address, self.start_block, head,
                                         [[self.t_agent, T_OPENED, *self.t_guard]])
        for entry in _sorted(logs):  # an opening links the agent sets before its AgentSet
            if entry["topics"][0] in self.t_guard:
                self._guard(entry)
            elif not self.subaccounts.apply(self.core, entry):
                self._agent(entry)

    def _guard(self, entry: dict) -> None:
        """A trade-limit log: the account's `AccountGuard` as the chain now holds it."""
        topics = entry["topics"]
        name, state = self.t_guard[topics[0]], self.core.account(_addr(topics[1]))
        data = bytes.fromhex(entry["data"][2:])
        guard = state.guard or AccountGuard()
        if name == "TradeGuardSet":
            guard = dataclasses.replace(guard, max_mark_distance_bps=_word(data, 0), equity_floor=_word(data, 1))
        elif name == "CloseOnlySet":
            guard = dataclasses.replace(guard, close_only=_word(data, 0) != 0)
        elif name == "LeverageCapSet":
            guard = dataclasses.replace(guard, leverage_cap_bps=_word(data, 0))
        else:
            guard = guard.with_position_cap(int(topics[2], 16), _word(data, 0))
        state.guard = None if guard == AccountGuard() else guard

    async def load_chain_orders(self) -> None:
        """Order state on chain is not journaled: rebuild it from every FillSettled and
        OrderCancelled log (orders this keeper's journal holds are skipped: it knows them)."""
        head = await self.chain.block_number()
        logs = await self.chain.get_logs(self.chain.exchange.address, self.start_block, head,
                                         [[self.t_settled, self.t_cancel]])
        for entry in logs:
            self._chain_order(entry)

    def _chain_order(self, entry: dict) -> None:
        """FillSettled(maker_hash, taker_hash, market, ..., size, ...) or OrderCancelled(account, hash)."""
        topics, known, state = entry["topics"], self.core.seen, self.core.chain_orders
        if topics[0] == self.t_cancel:
            h = bytes.fromhex(topics[2][2:])
            if h not in known:
                state.cancelled.add(h)
            return
        size = _word(bytes.fromhex(entry["data"][2:]), 4)  # maker, taker, taker_is_buy, price, size
        for topic in topics[1:3]:
            h = bytes.fromhex(topic[2:])
            if h not in known:
                state.filled[h] = state.filled.get(h, 0) + size

    def _agent(self, entry: dict) -> tuple[str, str, bool]:
        account, agent = _addr(entry["topics"][1]), _addr(entry["topics"][2])
        approved = _word(bytes.fromhex(entry["data"][2:]), 0) != 0
        agents = self.core.account(account).agents
        (agents.add if approved else agents.discard)(agent)
        return account, agent, approved

    async def load_oracle(self) -> None:
        """At start: the Oracle's max_age and each market's state at the confirmed head.

        A halted state that differs from the replayed one is journaled (`market_halt`); a
        market the keeper has no mark for gets one (`mark`); for a mark equal to the chain's,
        the chain's newer `updated_at` is taken (freshness only feeds admission)."""
        chain, core = self.chain, self.core
        if chain.oracle is None:
            return
        head, block_time = await chain.head_block()
        core.oracle.block_time = max(core.oracle.block_time, block_time)
        block = max(0, head - self.confirmations)
        core.oracle.max_age = int(await chain.call(chain.oracle, "max_age", block=block))
        ws, out = WriteSet(), Outbox.new()
        ts = int(self.clock() * 1000)
        for market in sorted(core.markets):
            price, updated_at, halted = await chain.call(chain.oracle, "price_info", market, block=block)
            price, updated_at, halted = int(price), int(updated_at), bool(halted)
            if price and market not in core.marks:
                core.set_mark(core.next_seq(), ts, market, price, ws, out, updated_at)
            elif price and core.marks.get(market) == price and updated_at > core.oracle.updated_at.get(market, 0):
                core.oracle.updated_at[market] = updated_at
            if halted != core.is_halted(market):
                reason = await self._halt_reason(market, block) if halted else "oracle"
                core.market_halt(core.next_seq(), ts, market, halted, reason, ws, out)
        if ws:
            await self.committer.commit(ws, lambda: self.publish(out))

    async def _halt_reason(self, market: int, block: int) -> str:
        """The reason of the market's last Halted log up to `block` ("oracle" if none is found)."""
        if self.start_block > block:
            return "oracle"
        topic = "0x" + market.to_bytes(32, "big").hex()
        try:
            logs = await self.chain.get_logs(self.chain.oracle.address, self.start_block, block,
                                             [self.t_halted, topic])
        except Exception as exc:  # noqa: BLE001 - the reason is informative only
            log.warning("Halted log lookup failed: %s", exc)
            return "oracle"
        logs = [e for e in _sorted(logs) if len(e["topics"]) > 1 and int(e["topics"][1], 16) == market]
        return _halted_reason(logs[-1]) if logs else "oracle"

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def poll(self) -> int:
        """Process confirmed logs up to head - confirmations; returns the new cursor."""
        chain = self.chain
        while self._backfill:
            address, lo = self._backfill.pop(0)
            for entry in _sorted(await chain.get_logs(address, lo, self.cursor)):
                if self.on_log is not None:
                    self.on_log(entry)
        head, block_time = await chain.head_block()
        self.core.oracle.block_time = max(self.core.oracle.block_time, block_time)
        target = head - self.confirmations
        while self.cursor < target:
            lo, hi = self.cursor + 1, min(target, self.cursor + 2000)
            addresses = [chain.exchange.address] + ([chain.oracle.address] if chain.oracle else []) + self.extra
            logs = _sorted(await chain.get_logs(addresses, lo, hi))
            await self._process(logs, hi)
        if self.cursor >= target and (self.dirty or self.position_dirty):
            await self._refresh(self.cursor)
        self.caught_up.set()
        return self.cursor

    async def _process(self, logs: list[dict], hi: int) -> None:
        core, chain = self.core, self.chain
        ws, out = WriteSet(), Outbox.new()
        dirty: set[str] = set()
        ts = int(self.clock() * 1000)
        exchange = chain.exchange.address.lower()
        oracle = chain.oracle.address.lower() if chain.oracle else ""
        created: list[tuple[str, int]] = []  # vaults first seen in this range
        transfers: list[dict] = []  # transfers / collateral moves: refreshed now, then to the runners
        for entry in logs:
            address = entry["address"].lower()
            topics = entry["topics"]
            if not topics:
                continue
            t0 = topics[0]
            if address == exchange:
                if t0 in (self.t_deposit, self.t_withdraw) or t0 == self.t_liq:
                    dirty.add(_addr(topics[1]))
                    if t0 == self.t_liq and len(topics) > 3:
                        dirty.add(_addr(topics[3]))  # the backstop took the position over
                    if t0 == self.t_liq:
                        self.position_dirty |= {_addr(x) for x in topics[1:4:2]}
                elif t0 == self.t_adl or t0 == self.t_delisted_closed:
                    moved = {_addr(topics[1])} | ({_addr(topics[2])} if t0 == self.t_adl else set())
                    dirty |= moved
                    self.position_dirty |= moved
                elif t0 == self.t_settled:
                    data = bytes.fromhex(entry["data"][2:])
                    dirty.add(to_checksum_address(data[12:32]))
                    dirty.add(to_checksum_address(data[44:64]))
                    self._chain_order(entry)
                elif t0 == self.t_agent:
                    account, agent, approved = self._agent(entry)
                    if not approved:
                        core.agent_revoked(None, ts, account, agent, ws, out)
                        # the owner's agents sign for its sub-accounts: their orders go too
                        for sub in self.subaccounts.by_owner.get(account, {}).values():
                            core.agent_revoked(None, ts, sub, agent, ws, out)
                elif t0 in self.t_guard:
                    self._guard(entry)
                elif t0 == self.t_cancel:
                    self._chain_order(entry)
                    account, order_hash = _addr(topics[1]), bytes.fromhex(topics[2][2:])
                    signed = core.orders.get(order_hash)
                    if signed is not None and signed.open:
                        core.cancel(core.next_seq(), ts, signed.order.account, [order_hash], 0, ws, out,
                                    "chain_cancel")
                elif t0 == self.t_market_set:  # the registry changed: follow it (Core.market_set)
                    data = bytes.fromhex(entry["data"][2:])
                    tick, lot, min_size, im, mm, band, active = (_word(data, i) for i in range(7))
                    info = MarketInfo(int(topics[1], 16), tick, lot, im, mm, band, min_size, bool(active))
                    known = core.markets.get(info.market)
                    if known is None or dataclasses.replace(known, tiers=None) != info:
                        core.market_set(core.next_seq(), ts, info, ws, out)
                elif t0 == self.t_tiers_set:  # the tier table changed: follow it (Core.margin_tiers_set)
                    rows = tiers_rows(entry)
                    known = core.markets.get(int(topics[1], 16))
                    if known is not None and known.tiers != (TierTable.of(rows) if rows else None):
                        core.margin_tiers_set(core.next_seq(), ts, known.market, rows, ws, out)
                elif t0 == self.t_nonce:
                    account = _addr(topics[1])
                    floor = _word(bytes.fromhex(entry["data"][2:]), 0)
                    core.min_nonce(core.next_seq(), ts, account, floor, ws, out)
                elif touched(entry) is not None:
                    transfers.append(entry)
                    if t0 == T_TRANSFERRED:  # a position moved outside the keeper's fills
                        self.position_dirty |= set(touched(entry))
                else:
                    self.subaccounts.apply(core, entry)
                if t0 in self.t_account_config and self.on_log is not None:
                    self.on_log(entry)
            elif address == oracle and t0 == self.t_price:
                market = int(topics[1], 16)
                data = bytes.fromhex(entry["data"][2:])
                price, updated_at = _word(data, 0), _word(data, 1)
                if market in core.markets and (core.marks.get(market) != price
                                               or updated_at > core.oracle.updated_at.get(market, 0)):
                    core.set_mark(core.next_seq(), ts, market, price, ws, out, updated_at)
            elif address == oracle and t0 in (self.t_halted, self.t_resumed):
                market = int(topics[1], 16)
                halted = t0 == self.t_halted
                if market in core.markets and core.is_halted(market) != halted:
                    reason = _halted_reason(entry) if halted else "guardian"
                    core.market_halt(core.next_seq(), ts, market, halted, reason, ws, out)
            elif address == oracle and t0 == self.t_max_age:
                core.oracle.max_age = _word(bytes.fromhex(entry["data"][2:]), 0)
            else:
                if address == self.factory and t0 == self.t_vault_created:
                    vault = _addr(topics[1])
                    if self.watch(vault):
                        created.append((vault, int(entry["blockNumber"], 16)))
                if self.on_log is not None:
                    self.on_log(entry)
        for vault, block in created:
            # this range was read without the new vault's address: its logs from its
            # creation block to `hi` are read now, before the cursor moves past them
            for entry in _sorted(await chain.get_logs(vault, block, hi)):
                if self.on_log is not None:
                    self.on_log(entry)
        ws.cursors["watcher"] = hi
        self.cursor = hi
        await self.committer.commit(ws, lambda: self.publish(out))
        if transfers:
            # a position or collateral moved outside settle: the keeper's view of both
            # accounts (admission, liquidation) is re-read now, then the runners hear of it
            accounts = sorted({a for entry in transfers for a in touched(entry)})
            for a in accounts:
                core.account(a)
            await refresh_accounts(core, chain, accounts, block=hi)
            self.dirty -= set(accounts)
            for entry in transfers:
                if self.on_log is not None:
                    self.on_log(entry)
        self.dirty |= {a for a in dirty if a in core.accounts}
        await self._refresh(hi)

    async def _refresh(self, hi: int) -> None:
        """Re-read the dirty accounts' snapshots at `hi`, then re-sync the engine positions
        of the accounts a Liquidation / Adl / DelistedClosed moved (read at the latest block);
        debounced: one batch request per interval, not 4 calls per account per block. Also
        run by a poll that found no new block, so a change in the last block is not left
        waiting for the next one."""
        core = self.core
        now = self.clock()
        syncing = self.position_dirty and self.position_sync is not None
        if not (self.dirty or syncing) or now - self.last_refresh < self.refresh_interval:
            return
        accounts, self.dirty = sorted(self.dirty), set()
        self.last_refresh = now
        if accounts:
            await refresh_accounts(core, self.chain, accounts, block=hi)
        if syncing:
            todo = {a for a in self.position_dirty if a in core.accounts}
            self.position_dirty = set()
            self.position_dirty |= await self.position_sync(todo)


def _halted_reason(entry: dict) -> str:
    """Halted(market indexed, reason String[16], price, window_ref, account): the reason."""
    data = bytes.fromhex(entry["data"][2:])
    try:
        offset = _word(data, 0)
        length = _word(data[offset:], 0)
        return data[offset + 32:offset + 32 + length].decode()
    except (ValueError, IndexError):
        return "oracle"


def _sorted(logs: list[dict]) -> list[dict]:
    return sorted(logs, key=lambda l: (int(l["blockNumber"], 16), int(l["logIndex"], 16)))


async def refresh_accounts(core: Core, chain: Chain, accounts: list[str], block: int | str = "latest") -> None:
    """Re-read accounts' chain snapshots in one JSON-RPC batch."""
    for i in range(0, len(accounts), 100):
        chunk = accounts[i:i + 100]
        snapshots = await chain.account_snapshots(chunk, sorted(core.markets), block, by_market=True)
        for account, (collateral, positions, min_nonce, owed) in snapshots.items():
            state = core.account(account)
            state.collateral = collateral
            state.funding = sum(owed.values())  # unsettled: equity and admission subtract it, as the chain does
            state.funding_owed = owed  # per market: ADL ranks each market's PnL with its own funding
            for market, (size, cost) in positions.items():
                state.positions[market] = [size, cost]
            state.min_nonce = max(state.min_nonce, min_nonce)
            state.loaded = True
