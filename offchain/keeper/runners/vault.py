"""VaultRunner: every vault of the factory, running its on-chain strategy.

- start: `vault_count` / `vaults(i)`; then `VaultCreated` logs of the factory add vaults;
  any log of a vault (StrategyChanged, AgentSet, ManagerPaused/Resumed, DrawdownHalt,
  HaltCleared, UnwindStarted/Ended, WithdrawalQueued/Claimed, ...) and any Exchange
  account-config log about a vault (AgentSet, CloseOnlySet, LeverageCapSet,
  PositionCapSet, forwarded by the keeper's watcher) re-reads its state at once. A slower
  poll (`refresh_interval_s`) is the safety net; while withdrawals are queued or the vault
  unwinds it is `busy_refresh_interval_s`, because `available_liquidity()` moves with
  PnL and marks, which no vault log reports.
- signs with the key of the vault's agent (`Vault.agent()`; during a forced unwind the
  factory's unwind agent); a vault whose signer key the keeper does not hold is skipped
  with one log line.
- per vault and tick, `plan.vault_mode` decides: RUN (grid / two-sided quotes /
  delta-neutral hedging + optional quotes, under the vault's leverage and position caps
  and inside 4/5 of its trade guard's mark distance: levels beyond it are not placed,
  resting ones a mark move left outside it are cancelled),
  CLOSE_ONLY (drawdown halt or Exchange close-only: reduce-only orders only), IDLE
  (manager paused, kind none/custom: our orders are pulled), UNWIND (queued withdrawals
  lack liquidity, or a forced unwind): the vault's orders are cancelled and its positions
  reduced in steps of `unwind_step_bps` by reduce-only IOC orders (limit at most
  `unwind_slippage_bps` from the mark, clamped inside the vault's own trade guard,
  `max_mark_distance_bps`, so the fills settle instead of being skipped), one step per
  `unwind_interval_s` (the next step sees the settled result), until
  `available_liquidity()` covers the head request; then `claim(queue_head)` is sent.
- upkeep (operator key, through the keeper's chain sender and its one operator nonce
  manager): `Vault.checkpoint()` every `checkpoint_interval_s` (the drawdown halt), and
  `start_unwind()` once `unwind_due()`. It runs in its own task per vault, so waiting for
  a receipt never blocks the runner or the keeper's timer.
- a fill the chain skipped (`on_fill_rejected`) is undone in the vault's grid.

Register: `Keeper(config, agents=[...manager agent keys...], runners=[VaultRunner()])`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from offchain.strategies import GridEngine, QuoteEngine, RiskLimits
from offchain.strategies.delta_neutral import DeltaNeutralEngine

from .chainview import ACCOUNT_CONFIG_TOPICS, FACTORY_TOPICS, contract, topic_address
from .configs import (KeeperTuning, StrategyKind, VaultStrategy, delta_neutral_quotes, vault_grid_config,
                      vault_hedge_config, vault_quote_config)
from .maker import MarketMaker
from .plan import (VaultMode, VaultSnapshot, cap_limits, unwind_orders, unwind_slippage_bps, vault_mode,
                   vault_signer)
from .signer import OrderSigner
from .takers import place_takers
from .venue import KeeperVenue, Venue

log = logging.getLogger("mmx.keeper.runners.vault")

DEFAULT_VAULT_LIMITS = RiskLimits(max_mark_age_ms=120_000)


@dataclass
class TrackedVault:
    address: str
    snapshot: VaultSnapshot | None = None
    signer: OrderSigner | None = None
    maker: MarketMaker | None = None
    strategy: VaultStrategy | None = None  # the strategy `maker` was built for
    mode: VaultMode | None = None
    refreshed_at: float = 0.0
    last_unwind_ms: int = 0
    claimed_head: int = -1
    claimed_at: int = 0
    checkpoint_at: int = 0  # ms; last checkpoint() sent
    unwind_sent_at: int = 0  # ms; last start_unwind() sent
    upkeep: asyncio.Task | None = None
    markets_touched: set[int] = field(default_factory=set)


def build_maker(vault: str, s: VaultStrategy, signer: OrderSigner, limits: RiskLimits,
                tuning: KeeperTuning) -> MarketMaker | None:
    """The engine(s) for a vault strategy; None for kinds the keeper does not run."""
    if s.kind == StrategyKind.GRID:
        return MarketMaker(vault, s.market, signer, limits=limits,
                           engine_factory=lambda anchor: GridEngine(vault_grid_config(s, anchor, tuning)))
    if s.kind == StrategyKind.QUOTE:
        return MarketMaker(vault, s.market, signer, limits=limits,
                           engine_factory=lambda _anchor: QuoteEngine(vault_quote_config(s, tuning)))
    if s.kind == StrategyKind.DELTA_NEUTRAL:
        factory = (lambda _anchor: QuoteEngine(vault_quote_config(s, tuning))) if delta_neutral_quotes(s) else None
        return MarketMaker(vault, s.market, signer, limits=limits, engine_factory=factory,
                           hedger=DeltaNeutralEngine(vault_hedge_config(s, tuning)))
    return None


class VaultRunner:
    def __init__(self, *, limits: RiskLimits = DEFAULT_VAULT_LIMITS, tuning: KeeperTuning = KeeperTuning(),
                 unwind_step_bps: int = 2_500, unwind_slippage_bps: int = 100, unwind_interval_s: float = 2.0,
                 refresh_interval_s: float = 30.0, busy_refresh_interval_s: float = 5.0, claim: bool = True,
                 checkpoint_interval_s: float = 60.0, upkeep: bool = True,
                 venue_factory: Callable[[Any], Venue] = KeeperVenue) -> None:
        self.limits = limits
        self.tuning = tuning
        self.unwind_step_bps = unwind_step_bps
        self.unwind_slippage_bps = unwind_slippage_bps
        self.unwind_interval_ms = int(unwind_interval_s * 1000)
        self.refresh_interval_ms = int(refresh_interval_s * 1000)
        self.busy_refresh_interval_ms = int(busy_refresh_interval_s * 1000)
        self.checkpoint_interval_ms = int(checkpoint_interval_s * 1000)
        self.upkeep = upkeep
        self.claim = claim
        self.venue_factory = venue_factory
        self.venue: Venue | None = None
        self.factory = ""
        self.vaults: dict[str, TrackedVault] = {}
        self.lock = asyncio.Lock()

    # -- Runner hooks -----------------------------------------------------------------------------
    async def on_start(self, keeper: Any) -> None:
        venue = self.venue = self.venue_factory(keeper)
        self.factory = keeper.config.contracts.factory if hasattr(keeper, "config") else ""
        async with self.lock:
            for address in await venue.chain.vaults():
                await self._track(address)

    async def on_mark(self, market: int, price: int) -> None:
        return None

    async def on_fill(self, fill: Any) -> None:
        tracked = self.vaults.get(getattr(fill, "maker_account", ""))
        if tracked is None or tracked.maker is None or self.venue is None:
            return
        async with self.lock:
            if tracked.maker.on_fill(fill, self.venue.now_ms()) and tracked.mode in (VaultMode.RUN,
                                                                                      VaultMode.CLOSE_ONLY):
                await self._act(tracked)

    async def on_fill_rejected(self, fill: Any) -> None:
        """The chain skipped a fill of a vault order: undo the grid's flip, re-quote."""
        tracked = self.vaults.get(getattr(fill, "maker_account", ""))
        if tracked is None or tracked.maker is None or self.venue is None:
            return
        async with self.lock:
            if tracked.maker.on_fill_rejected(fill) and tracked.mode in (VaultMode.RUN, VaultMode.CLOSE_ONLY):
                await self._act(tracked)

    async def on_timer(self, now: float) -> None:
        if self.venue is None:
            return
        async with self.lock:
            now_ms = self.venue.now_ms()
            for tracked in list(self.vaults.values()):
                if now_ms - tracked.refreshed_at >= self._refresh_interval(tracked):
                    await self._refresh(tracked)
                await self._act(tracked)
                if self.upkeep and (tracked.upkeep is None or tracked.upkeep.done()) and self._upkeep_due(tracked):
                    tracked.upkeep = asyncio.get_running_loop().create_task(self._upkeep(tracked))

    async def on_chain_log(self, entry: dict) -> None:
        if self.venue is None or not entry.get("topics"):
            return
        address = entry["address"]
        topics = entry["topics"]
        async with self.lock:
            if self.factory and address.lower() == self.factory.lower():
                if topics[0] == FACTORY_TOPICS["VaultCreated"]:
                    await self._track(topic_address(topics[1]))
                return
            if topics[0] in ACCOUNT_CONFIG_TOPICS and len(topics) > 1:
                address = topic_address(topics[1])  # an Exchange log about this account
            tracked = self._find(address)
            if tracked is not None:
                await self._refresh(tracked)
                await self._act(tracked)

    def pending_upkeep(self) -> list[asyncio.Task]:
        """Upkeep transactions still running (tests await them)."""
        return [t.upkeep for t in self.vaults.values() if t.upkeep is not None and not t.upkeep.done()]

    async def on_stop(self) -> None:
        if self.venue is None:
            return
        for task in self.pending_upkeep():
            task.cancel()
        async with self.lock:
            for tracked in self.vaults.values():
                await self._pull(tracked)

    # -- tracking ---------------------------------------------------------------------------------
    def _find(self, address: str) -> TrackedVault | None:
        found = self.vaults.get(address)
        if found is None:
            found = next((t for a, t in self.vaults.items() if a.lower() == address.lower()), None)
        return found

    def _refresh_interval(self, tracked: TrackedVault) -> int:
        snap = tracked.snapshot
        busy = snap is not None and (snap.queue_length > 0 or snap.unwinding)
        return self.busy_refresh_interval_ms if busy else self.refresh_interval_ms

    async def _track(self, address: str) -> TrackedVault:
        tracked = self.vaults.get(address)
        if tracked is None:
            tracked = self.vaults[address] = TrackedVault(address)
            self.venue.watch(address)  # type: ignore[union-attr]
            await self._refresh(tracked)
            await self._act(tracked)
        return tracked

    async def _refresh(self, tracked: TrackedVault) -> None:
        venue = self.venue
        assert venue is not None
        try:
            snap = await venue.chain.read_vault(tracked.address)
        except Exception:  # noqa: BLE001 - RPC hiccup: keep the last snapshot
            log.exception("vault %s: state read failed", tracked.address)
            return
        tracked.snapshot = snap
        tracked.refreshed_at = venue.now_ms()
        signer_address = vault_signer(snap, venue.held_agents())
        if signer_address is None:
            if tracked.signer is not None or tracked.mode is None:
                log.info("vault %s: no agent key held for %s; skipped", tracked.address,
                         snap.unwind_agent if snap.unwinding else snap.agent)
            tracked.signer = None
            tracked.maker = None
            tracked.strategy = None
            return
        if tracked.signer is None or tracked.signer.agent.lower() != signer_address.lower():
            key = venue.agent_key(signer_address)
            first = getattr(venue, "first_nonce", None)
            tracked.signer = OrderSigner(venue.domain, key, tracked.address,  # type: ignore[arg-type]
                                         first_nonce=first() if callable(first) else venue.now_ms() * 1000)
            if tracked.maker is not None:
                tracked.maker.signer = tracked.signer
        if tracked.strategy != snap.strategy:
            if tracked.maker is not None:
                await tracked.maker.pull(venue)
            tracked.strategy = snap.strategy
            tracked.maker = build_maker(tracked.address, snap.strategy, tracked.signer, self.limits, self.tuning)
            if tracked.maker is not None:
                tracked.markets_touched.add(tracked.maker.market)
                log.info("vault %s: running %s on market %s", tracked.address,
                         StrategyKind(snap.strategy.kind).name.lower(), snap.strategy.market)

    # -- acting ---------------------------------------------------------------------------------
    async def _act(self, tracked: TrackedVault) -> None:
        venue, snap = self.venue, tracked.snapshot
        if venue is None or snap is None:
            return
        signer_address = tracked.signer.agent if tracked.signer is not None else None
        mode = vault_mode(snap, signer_address)
        if mode != tracked.mode:
            log.info("vault %s: %s -> %s", tracked.address, tracked.mode and tracked.mode.value, mode.value)
        tracked.mode = mode
        try:
            if mode is VaultMode.SKIP:
                return
            if mode is VaultMode.IDLE:
                await self._pull(tracked)
            elif mode is VaultMode.UNWIND:
                await self._unwind(tracked)
            elif tracked.maker is not None:
                now = venue.now_ms()
                account = venue.account_state(tracked.address, tracked.maker.market)
                # quotes inside the vault's trade guard: a level the chain would skip is
                # never placed, one a mark move left outside it is cancelled
                limits = cap_limits(self.limits, position_cap=snap.position_cap,
                                    leverage_cap_bps=snap.leverage_cap_bps, equity=account.equity,
                                    mark_distance_bps=snap.max_mark_distance_bps)
                await tracked.maker.step(venue, now, limits=limits, close_only=mode is VaultMode.CLOSE_ONLY)
            if self.claim and snap.claimable and (tracked.claimed_head != snap.queue_head
                                                  or venue.now_ms() - tracked.claimed_at >= self.busy_refresh_interval_ms):
                await self._claim(tracked)
        except Exception:  # noqa: BLE001 - one vault's failure must not stop the others
            log.exception("vault %s: %s step failed", tracked.address, mode.value)

    async def _pull(self, tracked: TrackedVault) -> None:
        if tracked.maker is not None and tracked.signer is not None:
            await tracked.maker.pull(self.venue)  # type: ignore[arg-type]

    async def _unwind(self, tracked: TrackedVault) -> None:
        """Cancel the vault's orders, then close a bounded fraction of each position."""
        venue, signer = self.venue, tracked.signer
        assert venue is not None and signer is not None
        for market in venue.markets():
            live = venue.account_state(tracked.address, market).open_orders
            if live:
                await venue.cancel(signer, market, [o.order_id for o in live])
        now = venue.now_ms()
        if now - tracked.last_unwind_ms < self.unwind_interval_ms:
            return
        positions = venue.positions(tracked.address)
        states = {}
        for market in positions:
            state = await venue.market_state(market, tracked.address)
            if state is not None:
                states[market] = state
        # inside the vault's trade guard, else every fill is skipped "mark distance" and retried
        slippage = unwind_slippage_bps(self.unwind_slippage_bps, tracked.snapshot)
        orders = unwind_orders(positions, states, step_bps=self.unwind_step_bps, slippage_bps=slippage)
        tracked.last_unwind_ms = now
        if orders:
            log.info("vault %s: unwind step, shortfall %s: %s", tracked.address, tracked.snapshot.shortfall,
                     [(o.market, "buy" if o.is_buy else "sell", o.size) for o in orders])
            await place_takers(venue, signer, orders, "IOC", now // 1000)  # single-fill where covered

    # -- upkeep (operator transactions) ---------------------------------------------------------
    def _upkeep_due(self, tracked: TrackedVault) -> bool:
        snap, venue = tracked.snapshot, self.venue
        if snap is None or venue is None:
            return False
        now = venue.now_ms()
        if snap.unwind_due and not snap.unwinding and now - tracked.unwind_sent_at >= self.busy_refresh_interval_ms:
            return True
        return (not snap.halted and not snap.unwinding
                and now - tracked.checkpoint_at >= self.checkpoint_interval_ms)

    async def _upkeep(self, tracked: TrackedVault) -> None:
        """start_unwind() when due, else checkpoint() when due. Runs outside the runner's lock
        (it waits for a receipt); re-reads the vault under the lock afterwards."""
        venue = self.venue
        assert venue is not None
        snap = tracked.snapshot
        if snap is None:
            return
        vault = contract("Vault", tracked.address)
        now = venue.now_ms()
        try:
            if snap.unwind_due and not snap.unwinding:
                tracked.unwind_sent_at = now
                log.info("vault %s: head withdrawal past its grace period: start_unwind()", tracked.address)
                await venue.transact(vault, "start_unwind")
            elif not snap.halted and not snap.unwinding:
                tracked.checkpoint_at = now
                await venue.transact(vault, "checkpoint")
            else:
                return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried at the next interval
            log.exception("vault %s: upkeep transaction failed", tracked.address)
            return
        async with self.lock:
            await self._refresh(tracked)
            await self._act(tracked)

    async def _claim(self, tracked: TrackedVault) -> None:
        snap = tracked.snapshot
        assert snap is not None and self.venue is not None
        tracked.claimed_head = snap.queue_head
        tracked.claimed_at = self.venue.now_ms()
        await self.venue.transact(contract("Vault", tracked.address), "claim", snap.queue_head)
        await self._refresh(tracked)
