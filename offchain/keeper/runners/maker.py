"""One account making one market: an engine, its risk gate, its signer, an optional hedger.

`MarketMaker.step` is the runner loop of docs/strategies.md for one (account, market):
snapshot -> plan.quote_step (engine -> RiskGate -> reconcile) -> cancels, then places,
through the venue; plus the delta-neutral hedger's IOC orders. The engine is built
lazily from the first usable mark (`engine_factory(anchor)`), because a grid defined by
its spacing is centred on the price at the time it is built.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from offchain.strategies import Fill, GridEngine, GridStatus, MarketState, QuoteEngine, RiskGate, RiskLimits
from offchain.strategies.delta_neutral import DeltaNeutralEngine

from .plan import QuoteStep, cancel_all, quote_step
from .signer import OrderSigner
from .venue import Venue

log = logging.getLogger("mmx.keeper.runners")

Engine = GridEngine | QuoteEngine
EngineFactory = Callable[[int], Engine]


class MarketMaker:
    def __init__(self, account: str, market: int, signer: OrderSigner, *, limits: RiskLimits,
                 engine_factory: EngineFactory | None = None, hedger: DeltaNeutralEngine | None = None,
                 reanchor_when_paused: bool = False) -> None:
        self.account = account
        self.market = market
        self.signer = signer
        self.base_limits = limits
        self.gate = RiskGate(limits)
        self.engine_factory = engine_factory
        self.engine: Engine | None = None
        self.hedger = hedger
        # A spacing grid that the price left is rebuilt around the new price (the pool
        # should keep quoting); a range grid waits for the price to come back.
        self.reanchor_when_paused = reanchor_when_paused
        self.last_step: QuoteStep | None = None
        # keeper fill id -> (engine, size the grid took off the level): to undo a fill the
        # chain skips. Bounded: a skip comes within a few batches of its match.
        self.applied: OrderedDict[int, tuple[Engine, int]] = OrderedDict()
        self.max_applied = 10_000

    # -- engine -------------------------------------------------------------------------------
    def _ensure_engine(self, state: MarketState) -> Engine | None:
        if self.engine is None and self.engine_factory is not None and not state.halted:
            self.engine = self.engine_factory(state.mark_price)
        return self.engine

    def on_fill(self, fill: Any, now_ms: int) -> bool:
        """A keeper FillRecord; True if it was one of our resting orders in this market."""
        if fill.market != self.market or fill.maker_account != self.account or self.engine is None:
            return False
        ours = Fill(fill.market, fill.maker_is_buy, fill.price, fill.size, getattr(fill, "ts", 0))
        if isinstance(self.engine, GridEngine):
            taken = self.engine.apply_fill(ours)
            if taken is None:
                return False
            fill_id = getattr(fill, "id", None)
            if fill_id is not None:
                self.applied[fill_id] = (self.engine, taken)
                while len(self.applied) > self.max_applied:
                    self.applied.popitem(last=False)
            return True
        self.engine.on_fill(ours, now_ms)
        return True

    def on_fill_rejected(self, fill: Any) -> bool:
        """The chain skipped a fill `on_fill` applied: undo the grid's flip (the keeper has
        already pulled the order's remainder; the next step re-places the level). True if
        the engine changed. Quote engines keep no per-fill state worth undoing."""
        if fill.market != self.market or fill.maker_account != self.account:
            return False
        found = self.applied.pop(getattr(fill, "id", None), None)
        if found is None or found[0] is not self.engine:
            return False  # not applied, or applied to an engine since replaced
        ours = Fill(fill.market, fill.maker_is_buy, fill.price, fill.size, getattr(fill, "ts", 0))
        return self.engine.undo_fill(ours, found[1])

    # -- the loop -----------------------------------------------------------------------------
    async def step(self, venue: Venue, now_ms: int, *, limits: RiskLimits | None = None,
                   close_only: bool = False) -> QuoteStep | None:
        state = await venue.market_state(self.market, self.account)
        if state is None:
            await self.pull(venue)
            return None
        account = venue.account_state(self.account, self.market)
        self.gate.limits = limits or self.base_limits
        self.gate.set_close_only(close_only or self.gate.limits.close_only)
        step = None
        engine = self._ensure_engine(state)
        if engine is not None:
            step = quote_step(engine, self.gate, state, account, now_ms)
            if (self.reanchor_when_paused and isinstance(engine, GridEngine)
                    and engine.status is GridStatus.PAUSED and not state.halted):
                log.info("grid %s/%s: price %s left the range, re-centring", self.account, self.market,
                         state.mark_price)
                self.engine = self.engine_factory(state.mark_price)  # type: ignore[misc]
                step = quote_step(self.engine, self.gate, state, account, now_ms)
            await self.execute(venue, step, now_ms)
            self.last_step = step
        if self.hedger is not None:
            account = venue.account_state(self.account, self.market)
            hedges = self.hedger.update(state, account, now_ms)
            if close_only:
                hedges = [h for h in hedges if h.reduce_only]
            if hedges:
                await venue.place(self.signer.batch(hedges, "IOC", now_ms // 1000))
        return step

    async def execute(self, venue: Venue, step: QuoteStep, now_ms: int) -> None:
        plan = step.plan
        if plan.cancels:
            await venue.cancel(self.signer, self.market, list(plan.cancels))
        if plan.places:
            await venue.place(self.signer.batch(plan.places, "GTC", now_ms // 1000))

    async def pull(self, venue: Venue) -> None:
        """Cancel every order of ours resting in this market."""
        plan = cancel_all(venue.account_state(self.account, self.market))
        if plan.cancels:
            await venue.cancel(self.signer, self.market, list(plan.cancels))
