"""The backstop unwind (HLP's liquidator): positions the pool took over from liquidated
accounts leave it through the book, in steps, within its risk limits.

Every `interval_s` per market where the pool (the Exchange's backstop) holds a position in
the keeper's view (chain snapshot + unsettled fills):
- one resting order closes `step_bps` of the position (at least `min_step_notional` USDC
  units and min size, the whole position when the rest would be dust, at most
  `max_step_notional`), so a large position leaves in a few steps the book can absorb;
- it is priced `edge_bps` on the pool's side of the mark (a long sells at
  mark * (1 + edge), rounded up to the tick; a short buys at mark * (1 - edge), rounded
  down): the pool never pays more than the mark to get out, and traders closing the
  other side (or the grid's makers) take it; one step at a time, sized on the chain
  position, the next one only after the last one's fills settled;
- when the mark moves more than `reprice_bps` from the price the order was made for, or
  the order is gone (filled, expired), it is cancelled and replaced.

Only what the pool TOOK OVER is unwound, not the pool grid's own inventory on the same
account (docs/liquidation.md, "The backstop unwind"):
  taken[m]    = sum of the pool's position changes in the chain's `Liquidation` logs
                (backstop = the pool) and `Adl` logs (counterparty = the pool), read from
                the keeper's start block on; an `Adl` of the pool itself (account = the
                pool: the backstop deleveraged below maintenance) takes what it closed off
                the taken-over part first, never past zero (`after_deleverage`);
  unwound[m]  = the signed filled size of this runner's own orders (their hashes are in
                the `backstop_unwind_orders` table, written before each order is placed;
                the fills are the keeper's, undone when the chain skips one);
  target[m]   = taken[m] + unwound[m], clipped to the pool's chain position (same sign,
                no larger): that is what the unwind sells (a long) or buys back (a short).
Nothing else is state: after a restart the logs are read again and the table gives back
the unwind orders, whose fills the keeper journal replays.

Signed with the keeper agent key the pool approved (as the pool's grid is).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from sqlalchemy import Integer, String, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from offchain.keeper.txjournal import SideJournal
from offchain.order import order_hash
from offchain.strategies import DesiredOrder

from .signer import OrderSigner
from .venue import KeeperVenue

log = logging.getLogger("mmx.keeper.backstop")

BPS = 10_000


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class UnwindParams:
    step_bps: int = 2_500
    edge_bps: int = 5
    reprice_bps: int = 20
    interval_s: float = 0.5  # the keeper's timer ticks every second: every tick
    ttl_s: int = 300
    min_step_notional: int = 50_000 * 10**6  # a step is at least this much (USDC units) ...
    max_step_notional: int = 0  # ... and at most this much; 0 = no cap beyond step_bps


class _Base(DeclarativeBase):
    pass


class UnwindOrderRow(_Base):
    __tablename__ = "backstop_unwind_orders"
    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    market: Mapped[int] = mapped_column(Integer)


class UnwindOrders(SideJournal):
    """The hashes of the unwind's own orders, in the keeper's database (own metadata);
    writes fenced by the leader lock like every side journal (txjournal.SideJournal)."""

    metadata = _Base.metadata

    def add(self, hash_hex: str, market: int) -> None:
        with self.begin() as conn:
            conn.execute(insert(UnwindOrderRow).values(hash=hash_hex, market=market))

    def all(self) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            return [(r.hash, r.market) for r in conn.execute(select(UnwindOrderRow)).all()]

def unwind_target(taken: int, unwound: int, position: int) -> int:
    """What is left of the taken-over position (taken + the unwind's own signed fills),
    clipped to the pool's chain position: same sign and no larger, 0 when they disagree
    (the grid's inventory has already offset it)."""
    left = taken + unwound
    if left == 0 or position == 0 or (left > 0) != (position > 0):
        return 0
    return left if abs(left) <= abs(position) else position


def after_deleverage(taken: int, unwound: int, change: int) -> int:
    """`taken` after the pool itself was deleveraged by `change` (its signed position
    change in an Adl of the pool; docs/liquidation.md, "The backstop's own waterfall").
    A deleverage closes the position whatever part of it was taken over: it removes the
    taken-over remainder (taken + unwound) first, toward zero and never past it, so the
    unwind never goes on to sell the grid's inventory for a takeover that is gone. A
    change that does not oppose the remainder (the grid's inventory was the other way)
    leaves it."""
    left = taken + unwound
    if left == 0 or change == 0 or (change > 0) == (left > 0):
        return taken
    left = 0 if abs(change) >= abs(left) else left + change
    return left - unwound


def unwind_order(position: int, mark: int, tick: int, lot: int, min_size: int, p: UnwindParams,
                 market: int) -> DesiredOrder | None:
    """The next unwind step of `position` at `mark` (pure)."""
    whole = abs(position)
    if whole == 0 or mark <= 0:
        return None
    q = max(ceil_div(whole * p.step_bps, BPS), p.min_step_notional * 10**18 // mark)
    if p.max_step_notional:
        q = min(q, p.max_step_notional * 10**18 // mark)
    q = max(ceil_div(q, lot) * lot, min_size, lot)
    if q >= whole or whole - q < max(min_size, lot):
        q = whole
    is_buy = position < 0
    if is_buy:
        price = mark * (BPS - p.edge_bps) // BPS // tick * tick
    else:
        price = ceil_div(ceil_div(mark * (BPS + p.edge_bps), BPS), tick) * tick
    if price <= 0 or q % lot:
        return None  # a dust position off the lot grid cannot be closed by an order
    # not flagged reduce-only: the pool's engine position (reduce-only checks) is re-synced
    # from chain only when none of its fills is in flight, which the grid rarely allows, so
    # after a takeover it can lag; the step is sized on the chain position (clipped to what
    # was taken over) and only one is in flight at a time instead
    return DesiredOrder(market, is_buy, price, q, post_only=False, reduce_only=False)


class BackstopUnwindRunner:
    """A keeper Runner (service.Runner protocol)."""

    def __init__(self, params: UnwindParams = UnwindParams(), *, pool: str | None = None) -> None:
        self.params = params
        self.pool = pool
        self.signer: OrderSigner | None = None
        self.live: dict[int, tuple[bytes, int]] = {}  # market -> (order hash, mark it was priced at)
        self._last = 0.0
        self.placed = 0
        self.taken: dict[int, int] = {}   # market -> the pool's signed takeovers (chain logs)
        self.mine: dict[bytes, int] = {}  # the unwind's order hashes -> market
        self._log_cursor = -1             # last block whose takeover logs were read
        self.store: UnwindOrders | None = None

    async def on_start(self, keeper: Any) -> None:
        self.keeper = keeper
        self.venue = KeeperVenue(keeper)
        self.pool = self.pool or keeper.config.contracts.pool
        self.store = UnwindOrders(keeper.config.journal.url, leadership=getattr(keeper, "leadership", None))
        self.mine = {bytes.fromhex(h[2:]): m for h, m in self.store.all()}
        self._log_cursor = keeper.config.chain.start_block - 1
        self._signer()

    async def read_takeovers(self) -> None:
        """Add the pool's takeovers from the Liquidation / Adl logs since the last read."""
        chain = self.keeper.chain
        head = await chain.block_number()
        if head <= self._log_cursor or not self.pool:
            return
        t_liq, t_adl = chain.topics["Liquidation"], chain.topics["Adl"]
        pool_topic = "0x" + "0" * 24 + self.pool.lower()[2:]
        lo = self._log_cursor + 1
        while lo <= head:
            hi = min(head, lo + 9_999)
            logs = await chain.get_logs(chain.exchange.address, lo, hi, [[t_liq, t_adl]])
            for entry in logs:
                t = entry["topics"]
                if t[0] == t_liq and len(t) > 3 and t[3].lower() == pool_topic:
                    market = int(t[2], 16)
                elif t[0] == t_adl and len(t) > 3 and t[2].lower() == pool_topic:
                    market = int(t[3], 16)
                elif t[0] == t_adl and len(t) > 3 and t[1].lower() == pool_topic:
                    # the pool itself deleveraged: its change is -size (the bankrupt side's
                    # closed amount, signed like its position)
                    market = int(t[3], 16)
                    (size,) = abi_decode(["int256"], bytes.fromhex(entry["data"][2:66]))
                    self.taken[market] = after_deleverage(self.taken.get(market, 0), self.unwound(market), -size)
                    continue
                else:
                    continue
                (size,) = abi_decode(["int256"], bytes.fromhex(entry["data"][2:66]))
                self.taken[market] = self.taken.get(market, 0) + size  # the pool's change
            lo = hi + 1
        self._log_cursor = head

    def unwound(self, market: int) -> int:
        """The signed filled size of the unwind's own orders in `market` (keeper view)."""
        total = 0
        for h, m in self.mine.items():
            if m != market:
                continue
            order = self.keeper.core.orders.get(h)
            if order is not None:
                total += order.filled if order.order.is_buy else -order.filled
                continue
            # finished: out of the sequencer's live state, its final filled size is journaled
            found = self.keeper.journal.order("0x" + h.hex())
            if found is not None and found[1] is not None:
                total += found[1].filled if found[0].is_buy else -found[1].filled
        return total

    def _signer(self) -> OrderSigner | None:
        if self.signer is None and self.pool:
            approved = self.venue.approved_agents(self.pool)
            for agent in self.venue.held_agents():
                if agent in approved:
                    key = self.venue.agent_key(agent)
                    self.signer = OrderSigner(self.venue.domain, key, self.pool,
                                              first_nonce=time.time_ns() // 1000 + 7 * 10**15,
                                              ttl_s=self.params.ttl_s)
                    break
        return self.signer

    async def on_mark(self, market: int, price: int) -> None:
        return None

    async def on_fill(self, fill: Any) -> None:
        return None

    async def on_chain_log(self, entry: dict) -> None:
        return None

    async def on_stop(self) -> None:
        if self.store is not None:
            self.store.close()

    async def on_timer(self, now: float) -> None:
        if now - self._last < self.params.interval_s or not self.pool:
            return
        self._last = now
        signer = self._signer()
        if signer is None:
            return
        await self.step(signer)

    def _open(self, market: int) -> bytes | None:
        live = self.live.get(market)
        if live is None:
            return None
        order = self.keeper.core.orders.get(live[0])
        return live[0] if order is not None and order.open > 0 else None

    async def step(self, signer: OrderSigner) -> None:
        core = self.keeper.core
        # the pool's position from the chain (the keeper's snapshot of it may lag a
        # liquidation by a refresh interval); a market with unsettled fills of the pool
        # waits for their settlement, so a step is never sized on a position in flux
        await self.read_takeovers()
        snap = await self.keeper.chain.account_snapshots([self.pool], sorted(core.markets), "latest")
        _, chain_positions, _, _ = snap[self.pool]
        state = core.accounts.get(self.pool)
        for market, info in core.markets.items():
            if state is not None and state.pending.get(market, [0, 0])[0] != 0:
                continue
            # only what the pool took over, never the grid's own inventory
            position = unwind_target(self.taken.get(market, 0), self.unwound(market),
                                     chain_positions.get(market, (0, 0))[0])
            mark = core.marks.get(market, 0)
            open_hash = self._open(market)
            if open_hash is not None:
                priced_at = self.live[market][1]
                moved = abs(mark - priced_at) * BPS > priced_at * self.params.reprice_bps
                if position != 0 and not moved:
                    continue
                await self.venue.cancel(signer, market, [open_hash])
                self.live.pop(market, None)
            if position == 0 or market in core.oracle.halted:
                continue
            desired = unwind_order(position, mark, info.tick, info.lot, info.min_size, self.params, market)
            if desired is None:
                continue
            items = signer.batch([desired], "GTC", int(time.time()))
            h = order_hash(items[0][0], self.venue.domain)
            # before it is placed: after a crash its fills still count as unwound
            await asyncio.to_thread(self.store.add, "0x" + h.hex(), market)
            self.mine[h] = market
            (result,) = await self.venue.place(items)
            if result.get("status") == "accepted":
                self.placed += 1
                self.live[market] = (bytes.fromhex(result["hash"].removeprefix("0x")), mark)
