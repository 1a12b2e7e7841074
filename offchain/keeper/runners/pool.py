"""PoolGridRunner: the liquidity pool's grid on every market in LiquidityPool.grid_markets.

- start: read `grid_markets` and `grid(m)`; follow `GridSet` logs of the pool (a change
  rebuilds that market's grid around the current mark; `active=False` pulls it);
- signs post-only orders for the pool account with the keeper agent key the pool
  approved on the Exchange (`LiquidityPool.set_agent`);
- every timer tick and after each fill of a grid order: engine -> RiskGate -> reconcile
  -> cancel / place batches through the keeper gateway (MarketMaker.step);
- fills of the pool's resting orders go to the grid (flip one step);
- upkeep: `LiquidityPool.distribute_fees()` every `fee_interval_s` (operator key, in its
  own task): the Exchange's accrued fees reach the pool and every gain is booked as
  locked profit, released into the LP price over the pool's unlock window (docs/pool.md).

Register: `Keeper(config, runners=[PoolGridRunner()])` (the keeper's agent keys must hold
the pool's agent key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from offchain.strategies import GridEngine, RiskLimits

from .chainview import EXCHANGE_TOPICS, POOL_TOPICS, contract, decode_grid_set, topic_address
from .configs import KeeperTuning, PoolGridParams, pool_grid_config
from .maker import MarketMaker
from .signer import OrderSigner
from .venue import KeeperVenue, Venue

log = logging.getLogger("mmx.keeper.runners.pool")

# Defaults for the pool's own risk gate: stale marks (the Oracle's max_age is 1h; the
# pool stops quoting on a mark older than 2 minutes) and a per-market position cap.
DEFAULT_POOL_LIMITS = RiskLimits(max_mark_age_ms=120_000)


class PoolGridRunner:
    def __init__(self, *, pool: str | None = None, agent: str | None = None,
                 limits: RiskLimits = DEFAULT_POOL_LIMITS, market_limits: dict[int, RiskLimits] | None = None,
                 tuning: KeeperTuning = KeeperTuning(), fee_interval_s: float = 300.0,
                 venue_factory: Callable[[Any], Venue] = KeeperVenue) -> None:
        self.pool = pool
        self.fee_interval_ms = int(fee_interval_s * 1000)
        self.fees_at = 0  # ms; last distribute_fees() sent
        self.fees_task: asyncio.Task | None = None
        self.agent = agent
        self.limits = limits
        self.market_limits = dict(market_limits or {})
        self.tuning = tuning
        self.venue_factory = venue_factory
        self.venue: Venue | None = None
        self.params: dict[int, PoolGridParams] = {}
        self.makers: dict[int, MarketMaker] = {}
        self.signer: OrderSigner | None = None
        self.lock = asyncio.Lock()

    # -- Runner hooks -----------------------------------------------------------------------------
    async def on_start(self, keeper: Any) -> None:
        venue = self.venue = self.venue_factory(keeper)
        self.pool = self.pool or keeper.config.contracts.pool
        key = venue.agent_key(self.agent) if self.agent else self._pool_agent_key()
        if key is None:
            log.warning("pool grid: the keeper holds no agent key for pool %s; not quoting", self.pool)
            return
        self.signer = OrderSigner(venue.domain, key, self.pool, first_nonce=_first_nonce(venue))
        async with self.lock:
            for market in await venue.chain.grid_markets():
                self.apply(await venue.chain.pool_grid(market))
            await self._step_all()

    async def on_mark(self, market: int, price: int) -> None:
        if market in self.makers:
            async with self.lock:
                await self._step(market)

    async def on_fill(self, fill: Any) -> None:
        maker = self.makers.get(getattr(fill, "market", None))
        if maker is None or self.venue is None:
            return
        async with self.lock:
            if maker.on_fill(fill, self.venue.now_ms()):
                await self._step(fill.market)  # place the flip at once

    async def on_fill_rejected(self, fill: Any) -> None:
        """The chain skipped a fill of a pool order: undo the grid's flip, re-quote."""
        maker = self.makers.get(getattr(fill, "market", None))
        if maker is None or self.venue is None:
            return
        async with self.lock:
            if maker.on_fill_rejected(fill):
                await self._step(fill.market)

    async def on_timer(self, now: float) -> None:
        self._fees_upkeep()
        if self.signer is None:
            return
        async with self.lock:
            await self._step_all()

    def _fees_upkeep(self) -> None:
        """Send distribute_fees() when due; its own task, so a receipt never blocks the runner."""
        venue = self.venue
        if venue is None or not self.pool or not hasattr(venue, "transact"):
            return
        now = venue.now_ms()
        if now - self.fees_at < self.fee_interval_ms or (self.fees_task is not None and not self.fees_task.done()):
            return
        self.fees_at = now
        self.fees_task = asyncio.create_task(self._distribute_fees())

    async def _distribute_fees(self) -> None:
        assert self.venue is not None and self.pool is not None
        try:
            await self.venue.transact(contract("LiquidityPool", self.pool), "distribute_fees")
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried at the next interval
            log.exception("pool %s: distribute_fees failed", self.pool)

    async def on_chain_log(self, entry: dict) -> None:
        if self.venue is None or not self.pool or not entry.get("topics"):
            return
        topics = entry["topics"]
        if (topics[0] == EXCHANGE_TOPICS["AgentSet"] and len(topics) > 1
                and topic_address(topics[1]).lower() == self.pool.lower()):
            async with self.lock:
                await self._agent_changed()
            return
        if self.signer is None or entry["address"].lower() != self.pool.lower():
            return
        if entry["topics"] and entry["topics"][0] == POOL_TOPICS["GridSet"]:
            params = decode_grid_set(entry)
            async with self.lock:
                await self.apply_and_pull(params)
                await self._step(params.market)

    async def on_stop(self) -> None:
        # Nothing should rest for the pool while no runner manages (flips) it.
        if self.venue is None:
            return
        async with self.lock:
            for maker in self.makers.values():
                try:
                    await maker.pull(self.venue)
                except Exception:  # noqa: BLE001 - stopping anyway
                    log.exception("pool grid: pulling market %s failed", maker.market)

    # -- config -----------------------------------------------------------------------------------
    def apply(self, params: PoolGridParams) -> MarketMaker | None:
        """Install (or drop) the grid of one market; returns the replaced maker, if any."""
        old = self.makers.pop(params.market, None)
        self.params[params.market] = params
        if not params.active:
            return old
        assert self.signer is not None
        limits = self.market_limits.get(params.market, self.limits)
        tuning = self.tuning

        def build(anchor: int, params: PoolGridParams = params) -> GridEngine:
            config = pool_grid_config(params, anchor, tuning)
            assert config is not None
            log.info("pool grid market %s: %s levels/side, %s bps, size %s, around %s", params.market,
                     params.levels, params.spacing_bps, params.size_per_level, anchor)
            return GridEngine(config)

        self.makers[params.market] = MarketMaker(self.pool, params.market, self.signer, limits=limits,
                                                 engine_factory=build, reanchor_when_paused=True)
        return old

    async def apply_and_pull(self, params: PoolGridParams) -> None:
        if self.params.get(params.market) == params and params.market in self.makers:
            return
        old = self.apply(params)
        if old is not None and self.venue is not None:
            await old.pull(self.venue)  # the new grid is built fresh around the current mark

    # -- internals --------------------------------------------------------------------------------
    async def _step(self, market: int) -> None:
        maker = self.makers.get(market)
        if maker is None or self.venue is None:
            return
        try:
            await maker.step(self.venue, self.venue.now_ms())
        except Exception:  # noqa: BLE001 - one market's failure must not stop the others
            log.exception("pool grid: market %s step failed", market)

    async def _step_all(self) -> None:
        for market in sorted(self.makers):
            await self._step(market)

    async def _agent_changed(self) -> None:
        """The pool approved or revoked an agent on the Exchange: sign with the first held
        key it (still) approves. Orders signed by a revoked agent were already dropped by
        the keeper (agent_revoked); the grids' engines keep their state and re-place."""
        if self.agent:
            return  # a fixed agent= was asked for
        key = self._pool_agent_key()
        current = self.signer.agent.lower() if self.signer is not None else None
        if (key.address.lower() if key is not None else None) == current:
            return
        if key is None:
            log.warning("pool grid: the pool no longer approves any agent key the keeper holds; not quoting")
            self.signer = None
            return
        log.info("pool grid: now signing with agent %s", key.address)
        self.signer = OrderSigner(self.venue.domain, key, self.pool, first_nonce=_first_nonce(self.venue))
        for maker in self.makers.values():
            maker.signer = self.signer
        if not self.makers:
            for market in await self.venue.chain.grid_markets():
                self.apply(await self.venue.chain.pool_grid(market))
        await self._step_all()

    def _pool_agent_key(self):
        """The first held key the pool approved as agent (the keeper's AgentSet view)."""
        venue = self.venue
        assert venue is not None and self.pool
        agents = {a.lower() for a in venue.approved_agents(self.pool)}
        for address in venue.held_agents():
            if address.lower() in agents:
                return venue.agent_key(address)
        return None


def _first_nonce(venue: Venue) -> int:
    first = getattr(venue, "first_nonce", None)
    return first() if callable(first) else venue.now_ms() * 1000
