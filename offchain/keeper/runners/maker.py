"""One account making one market: an engine, its risk gate, its signer, an optional hedger.

`MarketMaker.step` is the host loop of docs/strategies.md for one (account, market):
snapshot -> strategies.decide (engine -> RiskGate -> reconcile) -> cancels, then places,
through a `MakerVenue`; plus the hedger's IOC orders. Both hosts run it: the keeper's
runners over `KeeperVenue`, the standalone bot over the SDK (`bots.venue.BotVenue`). The
engine is built lazily from the first usable mark (`engine_factory(anchor)`), because a
grid defined by its spacing is centred on the price at the time it is built; the anchor
is the oracle mark, not the book mid, which a thin or spoofed book could drag.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from offchain.strategies import (AccountState, Applied, Decision, Engine, Fill, MarketState, RiskGate, RiskLimits,
                                 cancel_all, decide)

from .signer import OrderSigner
from .takers import place_takers

log = logging.getLogger("mmx.keeper.runners")


class VenueRefused(Exception):
    """A venue could not send (refused, or unreachable) and already recorded why; the
    current step stops here (never place next to orders we meant to cancel)."""


class MakerVenue(Protocol):
    """What one MarketMaker needs from its host: snapshots, place and cancel. The keeper
    (KeeperVenue) and the bot over the SDK (bots.venue.BotVenue) implement it."""

    async def market_state(self, market: int, account: str | None = None) -> MarketState | None:
        """The market with our own orders taken out of the book top; None if unusable."""
        ...

    def account_state(self, account: str, market: int) -> AccountState: ...
    async def place(self, items: list) -> list[dict]:
        """Send signed orders, items (Order, Signature, tif): one result per item."""
        ...

    async def cancel(self, signer: OrderSigner, market: int, hashes: list) -> None: ...


EngineFactory = Callable[[int], Engine]
FillId = Any  # the keeper's fill id (an int); None when the host has none


class MarketMaker:
    def __init__(self, account: str, market: int, signer: OrderSigner, *, limits: RiskLimits,
                 engine_factory: EngineFactory | None = None, hedger: Engine | None = None,
                 reanchor_when_paused: bool = False) -> None:
        self.account = account
        self.market = market
        self.signer = signer
        self.base_limits = limits
        self.gate = RiskGate(limits)
        self.engine_factory = engine_factory
        self.engine: Engine | None = None
        # A taker engine (delta-neutral): its orders are sent IOC, not reconciled, and not
        # gated (a hedge takes risk off; the kill switch must not stop it).
        self.hedger = hedger
        # A spacing grid that the price left is rebuilt around the new price (the pool
        # should keep quoting); a range grid waits for the price to come back.
        self.reanchor_when_paused = reanchor_when_paused
        self.last_step: Decision | None = None
        # keeper fill id -> (engine, what it applied): to undo a fill the chain skips.
        # Bounded: a skip comes within a few batches of its match.
        self.applied: OrderedDict[FillId, tuple[Engine, Applied]] = OrderedDict()
        self.max_applied = 10_000

    # -- engine -------------------------------------------------------------------------------
    def _ensure_engine(self, state: MarketState) -> Engine | None:
        if self.engine is None and self.engine_factory is not None and not state.halted:
            self.engine = self.engine_factory(state.mark_price)
        return self.engine

    def on_fill(self, fill: Any, now_ms: int) -> bool:
        """A keeper FillRecord; True if it was one of our resting orders in this market."""
        if fill.market != self.market or fill.maker_account != self.account:
            return False
        return self.apply_fill(_maker_side(fill), getattr(fill, "id", None), now_ms)

    def apply_fill(self, fill: Fill, fill_id: FillId, now_ms: int) -> bool:
        """Our resting order traded (`fill` is our side): tell the engine. True if it took it."""
        engine = self.engine
        if engine is None:
            return False
        applied = engine.on_fill(fill, now_ms)
        if applied is None:
            return False
        if fill_id is not None:
            self.applied[fill_id] = (engine, applied)
            while len(self.applied) > self.max_applied:
                self.applied.popitem(last=False)
        return True

    def on_fill_rejected(self, fill: Any) -> bool:
        """The chain skipped a fill `on_fill` applied: undo it in the engine (the keeper has
        already pulled the order's remainder; the next step re-places the level). True if
        the engine changed (quote engines keep no per-fill state worth undoing)."""
        if fill.market != self.market or fill.maker_account != self.account:
            return False
        return self.undo_fill(_maker_side(fill), getattr(fill, "id", None))

    def undo_fill(self, fill: Fill, fill_id: FillId) -> bool:
        found = self.applied.pop(fill_id, None)
        if found is None or found[0] is not self.engine:
            return False  # not applied, or applied to an engine since replaced
        return found[0].undo_fill(fill, found[1].taken)

    # -- the loop -----------------------------------------------------------------------------
    async def step(self, venue: MakerVenue, now_ms: int, *, limits: RiskLimits | None = None,
                   close_only: bool = False) -> Decision | None:
        """One update; the decision (None: no usable market state, or no engine yet). The
        decision is in `last_step` before anything is sent, so a host whose venue refuses
        a send (VenueRefused) still sees what was decided."""
        state = await venue.market_state(self.market, self.account)
        if state is None:
            self.last_step = None
            await self.pull(venue)
            return None
        account = venue.account_state(self.account, self.market)
        self.gate.limits = limits or self.base_limits
        self.gate.set_close_only(close_only or self.gate.limits.close_only)
        decision = None
        engine = self._ensure_engine(state)
        if engine is not None:
            decision = decide(engine, self.gate, state, account, now_ms)
            if self.reanchor_when_paused and engine.paused and not state.halted:
                log.info("grid %s/%s: price %s left the range, re-centring", self.account, self.market,
                         state.mark_price)
                self.engine = self.engine_factory(state.mark_price)  # type: ignore[misc]
                decision = decide(self.engine, self.gate, state, account, now_ms)
            self.last_step = decision
            await self.execute(venue, decision, now_ms)
        if self.hedger is not None:
            account = venue.account_state(self.account, self.market)
            hedges = self.hedger.desired(state, account, now_ms) or []
            if close_only:
                hedges = [h for h in hedges if h.reduce_only]
            if hedges:  # single-fill where the book's head covers them (takers.py)
                await place_takers(venue, self.signer, hedges, "IOC", now_ms // 1000)
        return decision

    async def execute(self, venue: MakerVenue, decision: Decision, now_ms: int) -> None:
        """Cancels first (one signed cancel), then the places (one batch): a batch never holds
        both the old and the new order against the margin."""
        plan = decision.plan
        if plan.cancels:
            await venue.cancel(self.signer, self.market, list(plan.cancels))
        if plan.places:
            await venue.place(self.signer.batch(plan.places, "GTC", now_ms // 1000))

    async def pull(self, venue: MakerVenue) -> None:
        """Cancel every order of ours resting in this market."""
        plan = cancel_all(venue.account_state(self.account, self.market))
        if plan.cancels:
            await venue.cancel(self.signer, self.market, list(plan.cancels))


def _maker_side(fill: Any) -> Fill:
    """A keeper FillRecord as the maker's side of it."""
    return Fill(fill.market, fill.maker_is_buy, fill.price, fill.size, getattr(fill, "ts", 0))
