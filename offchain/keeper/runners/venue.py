"""The runners' view of the keeper: market and account snapshots, place / cancel.

An adapter over the Keeper service's public pieces (core views, gateway, chain, watcher)
so that the runners never reach into them directly and unit tests can swap in a fake
(`Venue` protocol). Everything here is I/O or a read of the keeper's in-memory state;
decisions live in plan.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from offchain.order import REDUCE_ONLY, Domain
from offchain.strategies import AccountState, LiveOrder, MarketState, book_top_excluding

from ..keys import Key
from .chainview import ChainView
from .maker import MakerVenue, VenueRefused  # noqa: F401 - VenueRefused: part of this module's API
from .signer import OrderSigner

log = logging.getLogger("mmx.keeper.runners")

BOOK_DEPTH_FOR_TOP = 64  # levels read to find the best price that is not ours


class Venue(MakerVenue, Protocol):
    """The runners' view of the keeper: MakerVenue plus keys, chain reads and upkeep."""

    domain: Domain
    chain: ChainView

    def agent_key(self, address: str) -> Key | None: ...
    def held_agents(self) -> list[str]: ...
    def approved_agents(self, account: str) -> set[str]: ...
    def now_ms(self) -> int: ...
    def positions(self, account: str) -> dict[int, int]: ...
    def markets(self) -> list[int]: ...
    def watch(self, address: str) -> None: ...
    async def transact(self, contract: Any, fn: str, *args: Any) -> None: ...


class KeeperVenue:
    def __init__(self, keeper, chain: ChainView | None = None, clock=time.time) -> None:
        self.keeper = keeper
        self.chain = chain or ChainView.from_keeper(keeper)
        self.domain: Domain = keeper.domain
        self.clock = clock
        self._keys = {k.address.lower(): k for k in keeper.agent_keys}

    # -- keys / clock ---------------------------------------------------------------------------
    def agent_key(self, address: str) -> Key | None:
        return self._keys.get(address.lower())

    def held_agents(self) -> list[str]:
        return [k.address for k in self._keys.values()]

    def approved_agents(self, account: str) -> set[str]:
        state = self.keeper.core.accounts.get(account)
        return set(state.agents) if state is not None else set()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def first_nonce(self) -> int:
        return time.time_ns() // 1000

    # -- snapshots ------------------------------------------------------------------------------
    def book_head(self, market: int, bids: bool) -> tuple[str, int, int] | None:
        """(account, open size, price) of the first live order on a side of the keeper's book:
        the order a taker meets first (the runners' single-fill choice, takers.py)."""
        return self.keeper.core.engine.best_order(market, bids)

    def markets(self) -> list[int]:
        return sorted(self.keeper.core.markets)

    async def market_state(self, market: int, account: str | None = None) -> MarketState | None:
        core = self.keeper.core
        info = core.markets.get(market)
        if info is None or not info.active:
            return None
        price, updated_at, halted = await self.chain.price_info(market)
        if price == 0:
            return None
        bids, asks = core.engine.depth(market, BOOK_DEPTH_FOR_TOP)
        own = self._live(account, market) if account else ()
        best_bid, best_ask = book_top_excluding(bids, asks, own)
        funding = getattr(self.keeper, "funding", None)  # the funding runner's predicted rate, if it runs
        rate = funding.runner.predicted_rate(market) if funding is not None and funding.runner is not None \
            and market in funding.params else 0
        return MarketState(market, best_bid, best_ask, price, updated_at * 1000, halted,
                           info.tick, info.lot, info.min_size, rate)

    def _live(self, account: str, market: int) -> tuple[LiveOrder, ...]:
        orders = sorted((o for o in self.keeper.core.open_orders(account) if o.order.market == market),
                        key=lambda o: o.seq)
        return tuple(LiveOrder(o.hash, market, o.order.is_buy, o.order.price, o.open,
                               bool(o.order.flags & REDUCE_ONLY)) for o in orders if o.open)

    def account_state(self, account: str, market: int) -> AccountState:
        core = self.keeper.core
        state = core.accounts.get(account)
        position = state.position(market) if state else 0
        equity = state.equity(core.marks) if state else 0
        return AccountState(position, equity, self._live(account, market))

    def positions(self, account: str) -> dict[int, int]:
        state = self.keeper.core.accounts.get(account)
        if state is None:
            return {}
        return {m: state.position(m) for m in set(state.positions) | set(state.pending) if state.position(m)}

    # -- actions --------------------------------------------------------------------------------
    async def place(self, items: list) -> list[dict]:
        if not items:
            return []
        results = await self.keeper.gateway.place_batch(items)
        for (order, _, _), result in zip(items, results):
            if result.get("status") != "accepted":
                log.warning("runner order rejected: %s %s@%s x%s: %s", order.account, "buy" if order.is_buy else
                            "sell", order.price, order.size, result.get("reason"))
        return results

    async def cancel(self, signer: OrderSigner, market: int, hashes: list[bytes]) -> None:
        if not hashes:
            return
        cancel, signature = signer.cancel(market, hashes, self.now_ms())
        await self.keeper.gateway.cancel(cancel, signature)

    def watch(self, address: str) -> None:
        """Have the keeper's watcher hand this contract's logs to the runners' hook
        (`Watcher.watch`: idempotent; the watcher itself re-derives the factory's vaults
        at start and adds a vault as soon as it reads its VaultCreated)."""
        watcher = getattr(self.keeper, "watcher", None)
        if watcher is not None:
            watcher.watch(address)

    async def transact(self, contract: Any, fn: str, *args: Any) -> None:
        """A plain call from the operator key (vault claim / checkpoint: anyone may call)."""
        receipt = await self.keeper.chain.transact(self.keeper.operator, contract, fn, *args)
        if int(receipt.get("status", "0x1"), 16) != 1:
            log.warning("%s.%s%s reverted", contract.address, fn, args)
