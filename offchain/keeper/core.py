"""The keeper's sequencer: journaled commands -> matching engine -> fills and views.

Every state change of the books is a command with a sequence number. `apply()` is the one
function that executes a command, live and on replay, so replaying the journal in
sequence order rebuilds the books, the order registry, the fills (same ids: fill ids are
a counter advanced in command order) and the account views exactly. No I/O here: the
caller collects the rows in a WriteSet, writes it (group commit) and only then sends
acknowledgements, stream events and fills to settlement.

Command kinds (body JSON):
  place         {hash, order, sig, signer, tif,        a signed order, admitted before; with its
                 intent?, isig?}                        signed intent (offchain/intent.py) when it
                                                        has one: kind, trigger, STP, ... come from it
  cancel        {account, hashes, market,               hashes empty: cancel all (market 0 = any);
                 timestamp?, cids?}                     timestamp: a cancel-all's or (with cids, the
                                                        client ids asked for) a cancel-by-client-id's
                                                        replay floor
  amend         {replaces, + place's fields}            replace the live order `replaces` by a new
                                                        signed order (Core.amend: keeps its queue
                                                        place or cancels old + places new)
  mark          {market, price, updated_at}             oracle mark (triggers, bands, margin);
                                                        updated_at: the PriceUpdated chain time
                                                        (absent in older journals: 0)
  market_halt   {market, halted, reason}                Oracle Halted / Resumed seen on chain (or
                                                        the state read at start-up): a halted market
                                                        admits no order and runs no matching
  expire        {}                                      expire orders with expiry <= ts, and cancel all
                                                        orders of accounts whose schedule-cancel
                                                        deadline <= ts (then the deadline is spent)
  schedule_cancel {account, deadline, timestamp}        the account's signed dead-man's switch
                                                        (deadline unix ms; 0 clears it)
  chain_cancel  {hash}                                  OrderCancelled seen on chain
  min_nonce     {account, min_nonce}                    MinNonceSet seen on chain
  fill_rejected {fill, reason}                          the chain skipped a fill: undo it
  market_set    {market, tick, lot, min_size, im, mm,   the Exchange's MarketSet: the market's new
                 band, active}                          rules from here on (Core.market_set)
  margin_tiers_set {market, rows}                       the Exchange's MarginTiersSet: the market's
                                                        tier table ([threshold, im, mm] rows) from
                                                        here on (Core.margin_tiers_set)
  agent_revoked {account, agent}                        AgentSet(approved=false) seen on chain:
                                                        the account's open orders signed by
                                                        that agent leave the book
  position      {account, market, size}                 the account's position as the chain has it
                                                        (read with no unsettled fill of it in that
                                                        market): the engine's reduce-only checks
                                                        start from it; the engine adds its own
                                                        fills (and core undoes the ones the chain
                                                        skips), so only changes made on chain
                                                        outside the keeper's fills (start-up,
                                                        liquidation, ADL, delisting) are journaled

Halted markets: admission refuses every new order ("halted"); resting orders stay on the
book and can be cancelled or expire. Marks keep coming (the Oracle takes any price while
halted) and are recorded, but are not fed to the engine until the resume: the engine's
band and mark triggers catch up to the latest mark in the `market_halt` (resume) command,
so nothing can match in a halted market, not even through a trigger.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable

from offchain.matching import events as ev
from offchain.matching.types import MarketConfig, OrderKind, Place, PostOnly, TimeInForce
from offchain.intent import Intent, engine_fields
from offchain.wire import INTENT_INTS
from offchain.order import ONE_FILL, POST_ONLY, REDUCE_ONLY, Order, Signature

from .admission import AccountState, ChainOrders, MarketInfo, OracleState
from .blame import MARKET_WIDE
from .journal import MATCHED, REJECTED, SETTLED, WriteSet, dumps

TIF = {"GTC": TimeInForce.GTD, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}


class OrderStatus(StrEnum):
    """A signed order's status in the keeper (GET /orders/{hash} `status`; StrEnum, so the
    API and the stream keep the plain strings)."""

    NEW = "new"              # admitted, not yet through the engine (never seen by clients)
    OPEN = "open"            # resting with open size
    FILLED = "filled"        # matched in full
    DONE = "done"            # off the book, partly or not matched (IOC / FOK remainder, or a fill undone)
    CANCELLED = "cancelled"  # cancelled (signed or on-chain cancel, nonce floor, agent revoked, or
                             # blamed for a fill the chain skipped)
    EXPIRED = "expired"
    REJECTED = "rejected"    # refused by the engine (post only, FOK unfillable, band, ...)
    WAITING = "waiting for trigger"  # a stop / take-profit / trailing order the mark has not fired


NEW, OPEN, FILLED, DONE, CANCELLED, EXPIRED, REJECTED_ORDER, WAITING = OrderStatus


class SignedOrder:
    __slots__ = ("hash", "hex", "order", "signature", "signer", "seq", "tif", "open", "filled", "status",
                 "intent", "intent_signature", "replaced_by", "client_id")

    def __init__(self, hash: bytes, order: Order, signature: Signature, signer: str, seq: int, tif: str,
                 intent: Intent | None = None, intent_signature: Signature | None = None, client_id: str = ""):
        self.intent = intent  # the signed OrderIntent; None: a plain limit order (unsigned tif)
        self.intent_signature = intent_signature
        self.hash = hash
        self.hex = "0x" + hash.hex()
        self.order = order
        self.signature = signature
        self.signer = signer
        self.seq = seq
        self.tif = tif
        self.open = 0      # open size on the book
        self.filled = 0    # matched size (keeper view: undone when the chain skips)
        self.status = NEW
        self.replaced_by: str | None = None  # the hash (hex) of the order an amend replaced it by
        # the client's id: the signed intent's, or (a plain order) the request's unsigned one
        self.client_id = intent.client_id if intent is not None else client_id

    def to_json(self) -> dict:
        o = self.order
        return {
            "hash": self.hex, "account": o.account, "market": str(o.market), "is_buy": o.is_buy,
            "price": str(o.price), "size": str(o.size), "nonce": str(o.nonce), "expiry": str(o.expiry),
            "flags": str(o.flags), "tif": self.tif, "open": str(self.open), "filled": str(self.filled),
            "status": self.status, "signer": self.signer,
            **({"intent": self.intent.to_json()} if self.intent is not None else {}),
            **({"replaced_by": self.replaced_by} if self.replaced_by is not None else {}),
            **({"client_id": self.client_id} if self.client_id else {}),
        }


@dataclass(slots=True, eq=False)  # eq=False: a fill is itself (identity), not equal to a copy
class FillRecord:
    """One fill the keeper matched, through settlement (`state`: journal.FillState)."""

    id: int
    seq: int
    ts: int
    market: int
    price: int
    size: int
    maker_hash: bytes
    taker_hash: bytes
    maker_account: str
    taker_account: str
    maker_is_buy: bool
    state: str = MATCHED
    batch_id: int | None = None
    reason: str = ""
    tx_hash: str = ""

    def row(self) -> dict:
        """The fill as a journal row: every field, the hashes as 0x-hex."""
        row = {f.name: getattr(self, f.name) for f in _FILL_FIELDS}
        row["maker_hash"], row["taker_hash"] = "0x" + self.maker_hash.hex(), "0x" + self.taker_hash.hex()
        return row

    @classmethod
    def from_row(cls, row) -> FillRecord:
        """A journaled fill (a `row()` read back, journal.FillRow) as a FillRecord."""
        values = {f.name: getattr(row, f.name) for f in _FILL_FIELDS}
        values["maker_hash"], values["taker_hash"] = bytes.fromhex(row.maker_hash[2:]), bytes.fromhex(row.taker_hash[2:])
        return cls(**values)

    def to_json(self) -> dict:
        return {
            "id": self.id, "market": str(self.market), "price": str(self.price), "size": str(self.size),
            "maker_hash": "0x" + self.maker_hash.hex(), "taker_hash": "0x" + self.taker_hash.hex(),
            "maker": self.maker_account, "taker": self.taker_account,
            "taker_is_buy": not self.maker_is_buy, "state": self.state, "batch_id": self.batch_id,
            "reason": self.reason, "tx_hash": self.tx_hash, "ts": self.ts,
        }


_FILL_FIELDS = dataclasses.fields(FillRecord)


@dataclass(slots=True)
class Outbox:
    """What a command produced, for the caller to publish after the journal commit."""

    order_updates: list  # (account, dict | SignedOrder)
    fills: list          # FillRecord
    markets: set         # markets whose book changed
    marks: list          # (market, price, updated_at, moved) marks applied; moved: the price changed
    rejected: list       # FillRecord undone because the chain skipped it (fill_rejected)
    halts: list          # (market, halted, reason) halt state changes
    # what happened to each order, in order: (hash, event, reason, size, price) with event one
    # of ORDER_EVENTS; the WebSocket `user` channel's order updates (docs/api.md)
    order_events: list

    @classmethod
    def new(cls) -> "Outbox":
        return cls([], [], set(), [], [], [], [])


# engine event -> the `user` channel's order event name (fills: partially_filled / filled)
_EVENT_NAMES = {ev.Accepted: "placed", ev.Cancelled: "cancelled", ev.Expired: "expired",
                ev.Triggered: "triggered", ev.Amended: "amended"}
ORDER_EVENTS = ("placed", "triggered", "partially_filled", "filled", "cancelled", "expired", "rejected",
                "amended", "replaced", "fill_undone", "reinstated")


class Core:
    def __init__(self, engine, markets: dict[int, MarketInfo]) -> None:
        self.engine = engine
        self.markets = markets
        self.seq = 0
        self.fill_seq = 0
        # The live state (what a snapshot holds; docs/keeper.md "Live state"): `orders` are
        # the orders on the book or waiting for a trigger, plus finished ones that a fill
        # not yet final (matched / submitted) still needs (settlement signs them, a skip
        # restores them); `fills` are the fills not yet final. A finished order leaves
        # `orders` once its last fill is final (its status row goes to the journal's
        # order_states table, where the API reads it); a fill leaves `fills` when it is
        # settled or rejected (the fills table has it).
        self.orders: dict[bytes, SignedOrder] = {}
        self.accounts: dict[str, AccountState] = {}
        self.fills: dict[int, FillRecord] = {}
        self.seen: set[bytes] = set()       # every order hash ever placed (duplicates); rebuilt from the orders table
        # (account, nonce) of every single-fill order ever placed: the chain consumes the nonce
        # (offchain/order.py ONE_FILL); rebuilt from the orders table like `seen`
        self.one_fill_nonces: set[tuple[str, int]] = set()
        self.refs: dict[bytes, int] = {}    # order hash -> fills of it in `fills`
        self.final_counts: dict[str, int] = {}  # fills that left `fills`, per final state (for /stats)
        self.marks: dict[int, int] = {}
        self.oracle = OracleState()  # halted markets, marks' updated_at, max_age, block time
        self.chain_orders = ChainOrders()  # orders settled / cancelled on chain (watcher; not journaled)
        self.by_nonce_account: dict[str, set[bytes]] = {}  # live orders per account
        # (account, signed client_id) -> order hash; a client id names one order of an
        # account for good (rebuilt by replay, so a reuse is refused the same way after a restart)
        self.client_ids: dict[tuple[str, str], bytes] = {}
        self.replaced: dict[bytes, bytes] = {}  # amended order hash -> its replacement's
        self.cid_cancel_ts: dict[str, int] = {}  # account -> latest CancelByClientId timestamp
        # markets the keeper halted itself because the chain skipped a fill there for a
        # market-wide reason (fill_rejected): market -> the mark's updated_at at that moment
        self.chain_halts: dict[int, int] = {}
        self.cancel_deadlines: dict[str, int] = {}  # account -> schedule-cancel deadline (unix ms)
        self.schedule_ts: dict[str, int] = {}       # account -> latest ScheduleCancel timestamp
        self.on_fill_rejected: Callable[[FillRecord], None] | None = None
        # reduce-only needs positions: the engine applies every fill it matches from the first
        # command on (journaled `position` commands correct it for changes made on chain)
        engine.track_positions()

    # -- views ----------------------------------------------------------------------------
    def account(self, address: str) -> AccountState:
        state = self.accounts.get(address)
        if state is None:
            state = self.accounts[address] = AccountState(address)
        return state

    def by_client_id(self, address: str, client_id: str) -> SignedOrder | None:
        """The account's order with this signed client id (any status), or None."""
        h = self.client_ids.get((address, client_id))
        return None if h is None else self.orders.get(h)

    def open_orders(self, address: str) -> list[SignedOrder]:
        return [self.orders[h] for h in self.by_nonce_account.get(address, ()) if h in self.orders]

    # -- commands -------------------------------------------------------------------------
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def journal_command(self, ws: WriteSet | None, seq: int, ts: int, kind: str, account: str, body: dict) -> None:
        if ws is not None:
            ws.commands.append({"seq": seq, "ts": ts, "kind": kind, "account": account, "body": dumps(body)})

    def _journal_place(self, signed: SignedOrder, ts: int, ws: WriteSet | None, kind: str = "place",
                       extra: dict | None = None) -> None:
        if ws is None:
            return
        o = signed.order
        body = {"hash": signed.hex, "order": [o.account, o.market, o.is_buy, str(o.price), str(o.size),
                                              str(o.nonce), str(o.expiry), o.flags],
                "sig": signed.signature.to_hex(), "signer": signed.signer, "tif": signed.tif}
        if signed.intent is not None:
            body["intent"] = signed.intent.to_json()
            body["isig"] = signed.intent_signature.to_hex()
        elif signed.client_id:
            body["cid"] = signed.client_id  # a plain order's (unsigned) client id
        if extra:
            body.update(extra)
        self.journal_command(ws, signed.seq, ts, kind, o.account, body)
        ws.orders.append({
            "hash": signed.hex, "seq": signed.seq, "account": o.account, "market": o.market,
            "is_buy": o.is_buy, "price": o.price, "size": o.size, "nonce": o.nonce, "expiry": o.expiry,
            "flags": o.flags, "signature": signed.signature.to_hex(), "signer": signed.signer,
        })

    @staticmethod
    def _place_cmd(signed: SignedOrder, ts: int) -> Place:
        """The engine's Place for a signed order (its intent's kind, tif, trigger, ... if any)."""
        o = signed.order
        return Place(
            id=signed.hash, account=o.account, market=o.market, is_buy=o.is_buy, size=o.size,
            price=o.price, ts=ts, expiry=o.expiry * 1000, reduce_only=bool(o.flags & REDUCE_ONLY),
            **(engine_fields(signed.intent) if signed.intent is not None else {
                "tif": TIF[signed.tif],
                "post_only": PostOnly.REJECT if o.flags & POST_ONLY else PostOnly.NONE}),
        )

    def place(self, signed: SignedOrder, ts: int, ws: WriteSet | None, out: Outbox) -> list:
        """Place an admitted signed order; returns the engine events."""
        self._journal_place(signed, ts, ws)
        o = signed.order
        self.orders[signed.hash] = signed
        self.seen.add(signed.hash)
        if o.flags & ONE_FILL:
            self.one_fill_nonces.add((o.account, o.nonce))
        if signed.client_id:
            self.client_ids.setdefault((o.account, signed.client_id), signed.hash)
        events = self.engine.place(self._place_cmd(signed, ts))
        self._handle(events, signed.seq, ts, ws, out)
        return events

    def amend(self, old: SignedOrder, new: SignedOrder, ts: int, ws: WriteSet | None,
              out: Outbox) -> tuple[str, str | None]:
        """Replace the live order `old` by the admitted signed order `new` in one command
        (docs/api.md "Amend"). Returns (priority, reason): priority "kept" when `new` took
        `old`'s place in its queue (a resting limit replaced by a limit at the same price,
        same side, open size at most the old one's: only the size went down), "lost" when
        `old` was cancelled and `new` placed like any order (it may match at once); reason
        is None, or why the engine refused `new`, and then nothing changed (old still
        live). The gateway checked ownership, market and side, and that `old` is live.
        Invariant: at no point do both orders rest; the replacement is checked (a dry run
        against the book, or for a trigger kind placed first, which never matches on
        arrival) before the old one leaves, so a refused amend keeps the old order."""
        self._journal_place(new, ts, ws, "amend", {"replaces": old.hex})
        engine = self.engine
        self.orders[new.hash] = new
        self.seen.add(new.hash)
        cmd = self._place_cmd(new, ts)
        o, n = old.order, new.order
        cid = new.client_id
        woken = engine.expire(ts)  # due expiries first, as a place would: they may take `old`
        self._handle(woken, new.seq, ts, ws, out)
        if old.status not in (OPEN, WAITING):  # it expired just now
            return self._amend_refused(new, EXPIRED.value, out)
        if (old.status == OPEN and cmd.kind == OrderKind.LIMIT and cmd.tif == TimeInForce.GTD
                and n.price == o.price and n.size <= old.open):
            events = engine.rekey(old.hash, cmd)
            if type(events[-1]) is ev.Amended:
                self._retire(old, new, cid, out, ws)
                out.order_updates.append((o.account, old))
                out.markets.add(o.market)
                self._handle(events, new.seq, ts, ws, out)
                return "kept", None
        if cmd.kind == OrderKind.LIMIT:
            refused = engine.check_limit(cmd)
            if refused is not None:
                return self._amend_refused(new, str(refused.reason), out)
            events = engine.cancel_many([old.hash], ts)
            self._retire(old, new, cid, out, ws)
            events += engine.place(cmd)
        else:  # a trigger kind: it waits on arrival, so place it first, then take the old off
            events = engine.place(cmd)
            if any(type(e) is ev.Rejected for e in events):
                return self._amend_refused(new, str(events[-1].reason), out)
            events += engine.cancel_many([old.hash], ts)
            self._retire(old, new, cid, out, ws)
        self._handle(events, new.seq, ts, ws, out)
        return "lost", None

    def _retire(self, old: SignedOrder, new: SignedOrder, cid: str, out: Outbox, ws: WriteSet | None = None) -> None:
        """`old` is replaced by `new`: cancelled, pointing at its replacement; the client id
        (if `new` carries old's) names the replacement from now on."""
        old.status = CANCELLED
        out.order_events.append((old.hash, "replaced", "amend", str(old.open), ""))
        old.replaced_by = new.hex
        self.replaced[old.hash] = new.hash
        if cid and self.client_ids.get((old.order.account, cid)) == old.hash:
            self.client_ids[(old.order.account, cid)] = new.hash
        self._sync_open(old)
        self._drop_finished(old, ws)

    def _amend_refused(self, new: SignedOrder, reason: str, out: Outbox) -> tuple[str, None | str]:
        new.status = REJECTED_ORDER
        out.order_updates.append((new.order.account, {"type": "rejected", "hash": new.hex, "reason": reason}))
        return "", reason

    def cancel(self, seq: int, ts: int, account: str, hashes: list[bytes], market: int,
               ws: WriteSet | None, out: Outbox, kind: str = "cancel", timestamp: int = 0,
               client_ids: list[str] | None = None) -> list:
        """Cancel `hashes` of `account` (empty: all its orders in `market`, 0 = every market).
        `timestamp`: the signed cancel-all's or cancel-by-client-id's (`client_ids`), kept
        as the account's replay floor and journaled so a restart keeps it."""
        if ws is not None:
            body = {"account": account, "hashes": ["0x" + h.hex() for h in hashes], "market": market}
            if timestamp:
                body["timestamp"] = str(timestamp)
            if client_ids is not None:
                body["cids"] = client_ids
            self.journal_command(ws, seq, ts, kind, account, body)
        if timestamp:
            if client_ids is not None:
                self.cid_cancel_ts[account] = max(self.cid_cancel_ts.get(account, 0), timestamp)
            elif not hashes:
                state = self.account(account)
                state.last_cancel_all = max(state.last_cancel_all, timestamp)
        if hashes or client_ids is not None:  # by client id: only the orders named, never all
            targets = [h for h in hashes if (signed := self.orders.get(h)) is not None
                       and signed.order.account == account and signed.open]
        else:
            targets = sorted((h for h in self.by_nonce_account.get(account, ())
                              if market == 0 or self.orders[h].order.market == market),
                             key=lambda h: self.orders[h].seq)
        events = self.engine.cancel_many(targets, ts)
        self._handle(events, seq, ts, ws, out)
        return events

    def set_mark(self, seq: int, ts: int, market: int, price: int, ws: WriteSet | None, out: Outbox,
                 updated_at: int = 0) -> list:
        """A new oracle mark (a new price, or the same price with a newer `updated_at`)."""
        self.journal_command(ws, seq, ts, "mark", "", {"market": market, "price": str(price),
                                                       "updated_at": str(updated_at)})
        moved = self.marks.get(market) != price
        self.marks[market] = price
        known = self.oracle.updated_at
        if updated_at > known.get(market, 0):
            known[market] = updated_at
        out.marks.append((market, price, known.get(market, 0), moved))
        since = self.chain_halts.get(market)
        if since is not None and updated_at > since and self.oracle.halted.get(market) in ("chain: stale", "chain: band"):
            # a fresh mark answers a stale / out-of-band skip: the market trades again
            reason = self.oracle.halted.pop(market)
            del self.chain_halts[market]
            out.halts.append((market, False, reason))
        if market in self.oracle.halted or self.engine.mark(market) == price:
            return []  # halted: the engine gets the mark at the resume (no triggers fire meanwhile)
        events = self.engine.set_mark(market, price, ts=ts)
        self._handle(events, seq, ts, ws, out)
        return events

    def market_halt(self, seq: int, ts: int, market: int, halted: bool, reason: str, ws: WriteSet | None,
                    out: Outbox) -> list:
        """The Oracle halted (halted=True) or resumed the market. A resume feeds the engine the
        latest mark (held back while halted), so its band and triggers catch up."""
        self.journal_command(ws, seq, ts, "market_halt", "", {"market": market, "halted": halted,
                                                              "reason": reason})
        events: list = []
        if halted:
            self.oracle.halted[market] = reason
        else:
            self.oracle.halted.pop(market, None)
            self.chain_halts.pop(market, None)
            mark = self.marks.get(market)
            if mark and self.engine.mark(market) != mark:
                events = self.engine.set_mark(market, mark, ts=ts)
                self._handle(events, seq, ts, ws, out)
        out.halts.append((market, halted, reason))
        return events

    def market_set(self, seq: int, ts: int, info: MarketInfo, ws: WriteSet | None, out: Outbox) -> list:
        """The Exchange's registry changed (`MarketSet`: a new market, or tick, lot, min
        size, margins, band, active). The keeper follows it at this point of the sequence:
        admission and the engine use the new rules from the next command on. Live orders
        the chain would now skip leave the book (cancelled): every order of a market that
        became inactive, and orders whose price is off the new tick or whose size is off the
        new lot. Margin tiers (MarginTiersSet) are kept as they were."""
        self.journal_command(ws, seq, ts, "market_set", "", {
            "market": info.market, "tick": str(info.tick), "lot": str(info.lot), "min_size": str(info.min_size),
            "im": info.initial_margin_bps, "mm": info.maintenance_margin_bps, "band": info.band_bps,
            "active": info.active})
        old = self.markets.get(info.market)
        if old is not None and old.tiers is not None:
            info = dataclasses.replace(info, tiers=old.tiers)
        self.markets[info.market] = info
        self.engine.update_market(market_config(info))
        void = sorted((h for hs in self.by_nonce_account.values() for h in hs
                       if (o := self.orders[h].order).market == info.market
                       and (not info.active or o.price % info.tick or o.size % info.lot)),
                      key=lambda h: self.orders[h].seq)
        events = self.engine.cancel_many(void, ts)
        self._handle(events, seq, ts, ws, out)
        out.markets.add(info.market)
        return events

    def margin_tiers_set(self, seq: int, ts: int, market: int, rows: list[tuple[int, int, int]],
                         ws: WriteSet | None, out: Outbox) -> None:
        """The Exchange's tier table of `market` changed (`MarginTiersSet`). Admission's
        margin pre-check and the risk runners use it from the next command on, as the chain
        does from that block; resting orders stay (the chain checks margin at settle, and
        the keeper's own check is for new orders). A market the keeper does not know yet
        is ignored (its MarketSet comes first on chain)."""
        from offchain.risk.margin import TierTable

        self.journal_command(ws, seq, ts, "margin_tiers_set", "", {
            "market": market, "rows": [[str(t), im, mm] for t, im, mm in rows]})
        info = self.markets.get(market)
        if info is not None:
            self.markets[market] = dataclasses.replace(info, tiers=TierTable.of(rows) if rows else None)
        out.markets.add(market)

    def journal_registry(self, ts: int, ws: WriteSet | None, out: Outbox) -> None:
        """The registry as `market_set` + `margin_tiers_set` commands (a fresh journal's
        first commands): a replay from zero then starts from the registry this journal
        began with, not from whatever the chain holds at the restart."""
        for market in sorted(self.markets):
            info = self.markets[market]
            self.market_set(self.next_seq(), ts, info, ws, out)
            # always, also an empty (flat) table: market_set keeps the tiers it finds, and
            # a replay starts from the chain's registry of the restart
            rows = [] if info.tiers is None else [(t.threshold, t.initial_bps, t.maintenance_bps)
                                                  for t in info.tiers.tiers]
            self.margin_tiers_set(self.next_seq(), ts, market, rows, ws, out)

    def is_halted(self, market: int) -> bool:
        return market in self.oracle.halted

    def one_fill_refusal(self, order: Order, tif: str, intent: Intent | None) -> str | None:
        """Why a single-fill (ONE_FILL) order cannot be placed, or None. The chain settles such
        an order only by one fill of its whole size and consumes its nonce, so the keeper takes
        one only when that is certain: a plain IOC / FOK taker (no intent, not post-only)
        whose whole size the first order it meets covers (another account's, at a crossing
        price) and, if reduce-only, the position allows whole, with a nonce no single-fill
        order of the account used before. It never rests,
        so no resting order is single-fill and a partial fill of one cannot happen."""
        if (order.account, order.nonce) in self.one_fill_nonces:
            return "nonce used"
        if tif not in ("IOC", "FOK") or intent is not None or order.flags & POST_ONLY:
            return "one fill"
        head = self.engine.best_order(order.market, not order.is_buy)
        if head is None:
            return "one fill"
        account, open_size, price = head
        crossing = order.price >= price if order.is_buy else order.price <= price
        if not crossing or account == order.account or open_size < order.size:
            return "one fill"
        if order.flags & REDUCE_ONLY:  # the engine clips reduce-only to the position: not whole
            position = self.engine.position(order.account, order.market)
            if (-position if order.is_buy else position) < order.size:
                return "one fill"
        return None

    def crosses(self, order: Order) -> bool:
        """Would `order` match against the book right now (an aggressive order)?"""
        if order.is_buy:
            best = self.engine.best_ask(order.market)
            return best is not None and order.price >= best
        best = self.engine.best_bid(order.market)
        return best is not None and order.price <= best

    def expire(self, seq: int, ts: int, ws: WriteSet | None, out: Outbox) -> list:
        self.journal_command(ws, seq, ts, "expire", "", {})
        events = self.engine.expire(ts)
        due = sorted(a for a, deadline in self.cancel_deadlines.items() if deadline <= ts)
        for account in due:  # the dead-man's switch: all the account's orders, in seq order
            del self.cancel_deadlines[account]
            targets = sorted(self.by_nonce_account.get(account, ()), key=lambda h: self.orders[h].seq)
            events += self.engine.cancel_many(targets, ts)
        self._handle(events, seq, ts, ws, out)
        return events

    def schedule_cancel(self, seq: int, ts: int, account: str, deadline: int, timestamp: int,
                        ws: WriteSet | None, out: Outbox) -> None:
        """Set (deadline > 0) or clear (0) the account's schedule-cancel deadline."""
        self.journal_command(ws, seq, ts, "schedule_cancel", account,
                             {"account": account, "deadline": str(deadline), "timestamp": str(timestamp)})
        self.schedule_ts[account] = max(self.schedule_ts.get(account, 0), timestamp)
        if deadline:
            self.cancel_deadlines[account] = deadline
        else:
            self.cancel_deadlines.pop(account, None)

    def min_nonce(self, seq: int, ts: int, account: str, min_nonce: int, ws: WriteSet | None, out: Outbox) -> list:
        self.journal_command(ws, seq, ts, "min_nonce", account, {"account": account, "min_nonce": str(min_nonce)})
        state = self.account(account)
        state.min_nonce = max(state.min_nonce, min_nonce)
        stale = sorted((h for h in self.by_nonce_account.get(account, ())
                        if self.orders[h].order.nonce < min_nonce),
                       key=lambda h: self.orders[h].seq)
        events = self.engine.cancel_many(stale, ts)
        self._handle(events, seq, ts, ws, out)
        return events

    def revoked_orders(self, account: str, agent: str) -> list[bytes]:
        """Open orders of `account` signed by `agent` (not by the account itself), in seq order."""
        if agent == account:
            return []
        found = [h for h in self.by_nonce_account.get(account, ()) if self.orders[h].signer == agent]
        return sorted(found, key=lambda h: self.orders[h].seq)

    def agent_revoked(self, seq: int | None, ts: int, account: str, agent: str, ws: WriteSet | None,
                      out: Outbox) -> list:
        """The account revoked `agent` on chain: its orders signed by that agent are void (the
        Exchange checks the signer at settlement), so they leave the book. Live callers pass
        seq=None: nothing is journaled (and no seq used) when no such order is open; replay
        passes the journaled seq."""
        targets = self.revoked_orders(account, agent)
        if seq is None:
            if not targets:
                return []
            seq = self.next_seq()
        self.journal_command(ws, seq, ts, "agent_revoked", account, {"account": account, "agent": agent})
        events = self.engine.cancel_many(targets, ts)
        self._handle(events, seq, ts, ws, out)
        return events

    def set_position(self, seq: int, ts: int, account: str, market: int, size: int, ws: WriteSet | None,
                     out: Outbox) -> None:
        """The account's chain position (signed size) in `market`, for the engine's reduce-only
        checks (callers journal it only when it differs from `engine.position`)."""
        self.journal_command(ws, seq, ts, "position", account,
                             {"account": account, "market": market, "size": str(size)})
        self.engine.set_position(account, market, size)

    def unsettled_markets(self, account: str) -> set[int]:
        """Markets in which the account has a fill matched but not yet settled or undone
        (`fills` holds only those, and the ones final this very step)."""
        return {f.market for f in self.fills.values()
                if account in (f.maker_account, f.taker_account) and f.state != SETTLED and f.state != REJECTED}

    def position_drift(self, account: str, busy: set[int]) -> list[tuple[int, int]]:
        """(market, chain size) where the engine's position differs from the account's chain
        snapshot, in markets not in `busy`: the caller passes every market in which the account
        had an unsettled fill before or after the snapshot was read at the latest block, so in
        the others the snapshot alone is the position (a fill settling during the read could
        be missing from it)."""
        state = self.accounts.get(account)
        if state is None or not state.loaded:
            return []
        out = []
        for market in sorted(self.markets):
            if market in busy:
                continue
            chain = state.positions.get(market)
            size = chain[0] if chain else 0
            if size != self.engine.position(account, market):
                out.append((market, size))
        return out

    def fill_rejected(self, seq: int, ts: int, fill_id: int, reason: str, ws: WriteSet | None, out: Outbox,
                      blame: tuple[str, ...] = ("maker", "taker")) -> list:
        """Undo a fill the chain skipped: positions and filled amounts go back; the order of
        each blamed side (`blame`, from keeper.blame) leaves the book; the other side's order
        gets the undone size back (`_reinstate`). Old journals have no `blame`: both.
        A market-wide reason with nobody blamed (blame.MARKET_WIDE: inactive, halted, stale,
        delisted, band) first halts the market in the keeper ("chain: <reason>", until the
        chain says otherwise: a Resumed / the start-up state read, or for stale and band a
        newer mark), then gives both orders their size back, so the pair is not matched
        again into the same skip."""
        body = {"fill": fill_id, "reason": reason}
        if tuple(blame) != ("maker", "taker"):
            body["blame"] = list(blame)
        self.journal_command(ws, seq, ts, "fill_rejected", "", body)
        fill = self.fills.get(fill_id)
        events: list = []
        if fill is None or fill.state == REJECTED:
            return events
        fill.state = REJECTED
        fill.reason = reason
        if not blame and reason in MARKET_WIDE and fill.market not in self.oracle.halted:
            self.oracle.halted[fill.market] = "chain: " + reason
            self.chain_halts[fill.market] = self.oracle.updated_at.get(fill.market, 0)
            out.halts.append((fill.market, True, "chain: " + reason))
        self.account(fill.maker_account).apply_fill(fill.market, fill.maker_is_buy, fill.price, fill.size, -1)
        self.account(fill.taker_account).apply_fill(fill.market, not fill.maker_is_buy, fill.price, fill.size, -1)
        engine = self.engine  # the engine's positions (reduce-only) lose the fill too
        maker_delta = fill.size if fill.maker_is_buy else -fill.size
        engine.set_position(fill.maker_account, fill.market,
                            engine.position(fill.maker_account, fill.market) - maker_delta)
        engine.set_position(fill.taker_account, fill.market,
                            engine.position(fill.taker_account, fill.market) + maker_delta)
        for side, h in (("maker", fill.maker_hash), ("taker", fill.taker_hash)):
            signed = self.orders.get(h)
            if signed is None:
                continue
            signed.filled -= fill.size
            out.order_events.append((h, "fill_undone", reason, str(fill.size), str(fill.price)))
            if side in blame:
                if signed.open:
                    events += self.engine.cancel(h, ts=ts)
                elif signed.status in (FILLED, DONE):
                    signed.status = CANCELLED  # void: the chain refused it, nothing of it rests
                    out.order_updates.append((signed.order.account, signed))
            else:
                events += self._reinstate(signed, fill.size, ts, out)
        self._handle(events, seq, ts, ws, out)
        for account in (fill.maker_account, fill.taker_account):
            out.order_updates.append((account, {"type": "fill_rejected", "fill": fill.to_json()}))
        out.rejected.append(fill)
        self.fill_final(fill, ws)
        return events

    # -- the live state ---------------------------------------------------------------------
    def fill_final(self, fill: FillRecord, ws: WriteSet | None) -> None:
        """`fill` is settled or rejected (its state is set): it leaves the live state, and so
        does each of its orders that is off the book with no other fill still pending."""
        if self.fills.pop(fill.id, None) is None:
            return
        self.final_counts[fill.state] = self.final_counts.get(fill.state, 0) + 1
        for h in (fill.maker_hash, fill.taker_hash):
            n = self.refs.get(h, 0) - 1
            if n > 0:
                self.refs[h] = n
                continue
            self.refs.pop(h, None)
            signed = self.orders.get(h)
            if signed is not None:
                self._drop_finished(signed, ws)

    def _drop_finished(self, signed: SignedOrder, ws: WriteSet | None) -> None:
        """Drop a finished order from the live state, unless it rests, waits or a pending
        fill needs it; its final status is journaled (order_states) for the API."""
        if signed.open or signed.status in (NEW, OPEN, WAITING) or self.refs.get(signed.hash):
            return
        if self.orders.pop(signed.hash, None) is not None and ws is not None:
            ws.order_states.append({"hash": signed.hex, "status": str(signed.status), "filled": signed.filled,
                                    "replaced_by": signed.replaced_by or ""})

    def _reinstate(self, signed: SignedOrder, size: int, ts: int, out: Outbox) -> list:
        """Give an innocent order back the size of a fill the chain skipped.

        - still resting: its open size grows in place, so it keeps its exact time priority;
        - gone from the book because that fill (or later ones) used it up: it rests again
          with the size, FIRST in its price level ("re-offered first": its original place
          in the queue no longer exists), or, if the book now crosses its price, it is
          placed and matches like any order;
        - IOC / FOK orders, and orders cancelled or expired since, get nothing back: their
          time in force is over.
        This reaches into the engine's book (RestingOrder, Level) because the engine has no
        "restore" command; tests/offchain/keeper/test_skip_blame.py pins the behaviour."""
        o = signed.order
        # intent orders other than GTC/GTD limits (market, triggered kinds) are over once
        # they ran: they get nothing back, like IOC
        intent = signed.intent
        not_resting = signed.tif not in ("GTC", "GTD") or (intent is not None and intent.kind != "limit")
        if not_resting or signed.status in (CANCELLED, EXPIRED, REJECTED_ORDER) or o.expiry * 1000 <= ts:
            if signed.status == FILLED and signed.filled < o.size:
                signed.status = DONE  # its time in force is over and it is no longer filled
                out.order_updates.append((o.account, signed))
            return []
        engine = self.engine
        resting = engine._orders.get(signed.hash)
        out.order_events.append((signed.hash, "reinstated", "", str(size), ""))
        if resting is not None and resting.size:
            resting.size += size
            resting.level.size += size
            self._sync_open(signed)
            out.markets.add(o.market)
            out.order_updates.append((o.account, signed))
            return []
        crossing = self.crosses(o)
        if crossing and o.market in self.oracle.halted:
            # nothing matches in a halted market: an order used up by the skipped fill that
            # would cross the book again is done (not cancelled); its trader can send it again
            if signed.status == FILLED:
                signed.status = DONE
                out.order_updates.append((o.account, signed))
            return []
        before, signed.status = signed.status, OPEN
        events = engine.place(Place(
            id=signed.hash, account=o.account, market=o.market, is_buy=o.is_buy, size=size,
            price=o.price, ts=ts, tif=TIF["GTC"], expiry=o.expiry * 1000,
            post_only=PostOnly.REJECT if o.flags & POST_ONLY else PostOnly.NONE,
            reduce_only=bool(o.flags & REDUCE_ONLY),
        ))
        if any(type(e) is ev.Rejected for e in events):  # e.g. post-only that would now cross
            signed.status = before
            return []
        resting = engine._orders.get(signed.hash)
        if not crossing and resting is not None and resting.size == size:
            level = resting.level.orders
            level.remove(resting)
            level.appendleft(resting)
        return events

    # -- snapshots ------------------------------------------------------------------------
    SNAPSHOT_VERSION = 4  # 4: the market registry and tier tables

    def snapshot(self) -> bytes:
        """The live state replay would have after command `self.seq`, pickled (uint256
        integers, bytes ids, intents and enums as they are; the body is the keeper's own,
        sha256-checked on load, from its own journal, which is trusted as the commands are).
        Only the live state: the engine, the orders in `orders` (resting, waiting, or needed
        by a pending fill), the pending fills, open sizes per account, nonce floors, marks,
        halts, client ids, amends, schedule-cancel switches. Its size follows the live book,
        not the journal's age. Recomputed by `restore`: `refs` and the accounts' unsettled
        positions (every pending fill, until the fills table says settled); `seen` is rebuilt
        from the orders table; the chain snapshot, agents and settlement states are re-read
        at start."""
        orders = [[h, s.order.as_tuple(), (s.signature.v, s.signature.r, s.signature.s), s.signer, s.seq, s.tif,
                   s.open, s.filled, str(s.status), s.intent, s.intent_signature] for h, s in self.orders.items()]
        fills = [[f.id, f.seq, f.ts, f.market, f.price, f.size, f.maker_hash, f.taker_hash, f.maker_account,
                  f.taker_account, f.maker_is_buy] for f in self.fills.values()]
        return pickle.dumps({
            "version": self.SNAPSHOT_VERSION, "seq": self.seq, "fill_seq": self.fill_seq,
            "engine": self.engine.snapshot(), "orders": orders, "fills": fills,
            "min_nonce": [[a, s.min_nonce] for a, s in self.accounts.items() if s.min_nonce],
            "live": [[a, list(hs)] for a, hs in self.by_nonce_account.items() if hs],
            "open": [[a, dict(s.open_buy), dict(s.open_sell)] for a, s in self.accounts.items()
                     if s.open_buy or s.open_sell],
            "marks": [[m, p] for m, p in self.marks.items()],
            "halted": [[m, r] for m, r in self.oracle.halted.items()],
            "updated_at": [[m, t] for m, t in self.oracle.updated_at.items()],
            "client_ids": [[a, c, h] for (a, c), h in self.client_ids.items()],
            "chain_halts": list(self.chain_halts.items()),
            "cancel_deadlines": list(self.cancel_deadlines.items()),
            "schedule_ts": list(self.schedule_ts.items()),
            "replaced": list(self.replaced.items()),  # amends: old hash -> replacement
            "plain_cids": [[h, s.client_id] for h, s in self.orders.items() if s.intent is None and s.client_id],
            "cid_cancel_ts": list(self.cid_cancel_ts.items()),
            "cancel_all_ts": [[a, s.last_cancel_all] for a, s in self.accounts.items() if s.last_cancel_all],
            # the registry as the journal made it (market_set, margin_tiers_set up to seq):
            # at start the chain's registry is the latest, not the one of this seq
            "markets": [registry_row(info) for info in self.markets.values()],
        }, protocol=5)

    def restore(self, body: bytes) -> None:
        """Load a `snapshot` into this (fresh) core; then replay the commands after its seq.
        ValueError (nothing changed) for a snapshot of another version: replay from the start."""
        snap = pickle.loads(body)
        if snap.get("version") != self.SNAPSHOT_VERSION:
            raise ValueError(f"unsupported keeper snapshot version {snap.get('version')}")
        self.engine = type(self.engine).restore(snap["engine"])
        self.engine.track_positions()  # a snapshot taken before positions were tracked
        self.seq, self.fill_seq = snap["seq"], snap["fill_seq"]
        statuses = {str(v): v for v in OrderStatus}
        for h, o, (v, r, s_), signer, seq, tif, open_, filled, status, intent, isig in snap["orders"]:
            order = Order(*o)
            signed = SignedOrder(h, order, Signature(v, r, s_), signer, seq, tif, intent, isig)
            signed.open, signed.filled, signed.status = open_, filled, statuses[status]
            self.orders[h] = signed
            self.seen.add(h)
            if order.flags & ONE_FILL:
                self.one_fill_nonces.add((order.account, order.nonce))
            self.account(order.account)
        for a, hs in snap["live"]:  # live orders, waiting triggers included
            self.by_nonce_account[a] = set(hs)
        for a, buys, sells in snap["open"]:
            acct = self.account(a)
            acct.open_buy, acct.open_sell = dict(buys), dict(sells)
        refs = self.refs
        for (fid, seq, ts, market, price, size, mh, th, ma, ta, maker_is_buy) in snap["fills"]:
            self.fills[fid] = FillRecord(fid, seq, ts, market, price, size, mh, th, ma, ta, maker_is_buy)
            refs[mh] = refs.get(mh, 0) + 1
            refs[th] = refs.get(th, 0) + 1
            # as replay: every fill pending until the fills table says settled
            self.account(ma).apply_fill(market, maker_is_buy, price, size)
            self.account(ta).apply_fill(market, not maker_is_buy, price, size)
        for a, n in snap["min_nonce"]:
            self.account(a).min_nonce = n
        self.marks.update(dict(snap["marks"]))
        self.oracle.halted.update(dict(snap["halted"]))
        self.oracle.updated_at.update(dict(snap["updated_at"]))
        self.client_ids.update({(a, c): h for a, c, h in snap["client_ids"]})
        self.chain_halts.update(dict(snap["chain_halts"]))
        self.cancel_deadlines.update(dict(snap["cancel_deadlines"]))
        self.schedule_ts.update(dict(snap["schedule_ts"]))
        self.cid_cancel_ts.update(dict(snap["cid_cancel_ts"]))
        for h, cid in snap.get("plain_cids", ()):
            if (signed := self.orders.get(h)) is not None:
                signed.client_id = cid
        for a, t in snap["cancel_all_ts"]:
            self.account(a).last_cancel_all = t
        journaled = set()
        for row in snap["markets"]:  # in place: admission and the runners hold this dict
            info = registry_info(row)
            self.markets[info.market] = info
            journaled.add(info.market)
        for market, info in self.markets.items():  # on chain, not yet in the journal: as a full replay
            if market not in journaled:
                self.engine.update_market(market_config(info))
        for old, new in snap["replaced"]:
            self.replaced[old] = new
            if (signed := self.orders.get(old)) is not None:  # a finished one left the live state
                signed.replaced_by = "0x" + new.hex()

    # -- replay ---------------------------------------------------------------------------
    def apply(self, seq: int, ts: int, kind: str, body: dict, out: Outbox) -> None:
        """Execute a journaled command (replay path; nothing is journaled)."""
        self.seq = max(self.seq, seq)
        if kind in ("place", "amend"):
            account, market, is_buy, price, size, nonce, expiry, flags = body["order"]
            order = Order(account, int(market), bool(is_buy), int(price), int(size), int(nonce), int(expiry), int(flags))
            intent = body.get("intent")
            if intent is not None:
                intent = Intent(**{k: int(v) if k in INTENT_INTS else v for k, v in intent.items()})
            signed = SignedOrder(bytes.fromhex(body["hash"][2:]), order, Signature.from_hex(body["sig"]),
                                 body["signer"], seq, body["tif"], intent,
                                 Signature.from_hex(body["isig"]) if intent is not None else None,
                                 body.get("cid", ""))
            if kind == "amend":
                self.amend(self.orders[bytes.fromhex(body["replaces"][2:])], signed, ts, None, out)
            else:
                self.place(signed, ts, None, out)
        elif kind in ("cancel", "chain_cancel"):
            hashes = [bytes.fromhex(h[2:]) for h in body["hashes"]]
            self.cancel(seq, ts, body["account"], hashes, int(body["market"]), None, out, kind,
                        int(body.get("timestamp", 0)), body.get("cids"))
        elif kind == "mark":
            self.set_mark(seq, ts, int(body["market"]), int(body["price"]), None, out,
                          int(body.get("updated_at", 0)))
        elif kind == "market_halt":
            self.market_halt(seq, ts, int(body["market"]), bool(body["halted"]), body.get("reason", ""),
                             None, out)
        elif kind == "expire":
            self.expire(seq, ts, None, out)
        elif kind == "schedule_cancel":
            self.schedule_cancel(seq, ts, body["account"], int(body["deadline"]), int(body["timestamp"]),
                                 None, out)
        elif kind == "min_nonce":
            self.min_nonce(seq, ts, body["account"], int(body["min_nonce"]), None, out)
        elif kind == "fill_rejected":
            self.fill_rejected(seq, ts, int(body["fill"]), body["reason"], None, out,
                               tuple(body.get("blame", ("maker", "taker"))))
        elif kind == "market_set":
            self.market_set(seq, ts, MarketInfo(int(body["market"]), int(body["tick"]), int(body["lot"]),
                                                int(body["im"]), int(body["mm"]), int(body["band"]),
                                                int(body["min_size"]), bool(body["active"])), None, out)
        elif kind == "margin_tiers_set":
            self.margin_tiers_set(seq, ts, int(body["market"]),
                                  [(int(t), int(im), int(mm)) for t, im, mm in body["rows"]], None, out)
        elif kind == "agent_revoked":
            self.agent_revoked(seq, ts, body["account"], body["agent"], None, out)
        elif kind == "position":
            self.set_position(seq, ts, body["account"], int(body["market"]), int(body["size"]), None, out)
        else:
            raise ValueError(f"unknown journaled command {kind!r}")

    # -- events ---------------------------------------------------------------------------
    def _handle(self, events: list, seq: int, ts: int, ws: WriteSet | None, out: Outbox) -> None:
        touched: dict[bytes, SignedOrder] = {}
        note = out.order_events.append
        for e in events:
            t = type(e)
            if t is ev.Fill:
                self.fill_seq += 1
                maker = self.orders[e.maker_id]
                taker = self.orders[e.taker_id]
                fill = FillRecord(self.fill_seq, seq, ts, e.market, e.price, e.size, maker.hash, taker.hash,
                                  e.maker_account, e.taker_account, e.maker_is_buy)
                self.fills[fill.id] = fill
                maker.filled += e.size
                taker.filled += e.size
                self.refs[maker.hash] = self.refs.get(maker.hash, 0) + 1
                self.refs[taker.hash] = self.refs.get(taker.hash, 0) + 1
                size, price = str(e.size), str(e.price)
                note((maker.hash, "filled" if maker.filled >= maker.order.size else "partially_filled", "",
                      size, price))
                note((taker.hash, "filled" if taker.filled >= taker.order.size else "partially_filled", "",
                      size, price))
                self.account(e.maker_account).apply_fill(e.market, e.maker_is_buy, e.price, e.size)
                self.account(e.taker_account).apply_fill(e.market, not e.maker_is_buy, e.price, e.size)
                touched[maker.hash] = maker
                touched[taker.hash] = taker
                if ws is not None:
                    ws.fills.append(fill.row())
                out.fills.append(fill)
                out.markets.add(e.market)
            elif t is ev.Rejected:
                signed = self.orders.get(e.order_id)
                if signed is not None and signed.status == NEW:
                    note((signed.hash, "rejected", str(e.reason), "", ""))
                    signed.status = REJECTED_ORDER
                    out.order_updates.append((signed.order.account, {"type": "rejected", "hash": signed.hex,
                                                                     "reason": str(e.reason)}))
                    self._drop_finished(signed, ws)
            else:
                oid = getattr(e, "order_id", None)
                signed = self.orders.get(oid) if oid is not None else None
                if signed is None:
                    continue
                touched[signed.hash] = signed
                if t is ev.Cancelled:
                    signed.status = CANCELLED
                    note((signed.hash, "cancelled", str(e.reason), str(e.size), ""))
                elif t is ev.Expired:
                    signed.status = EXPIRED
                    note((signed.hash, "expired", "", str(e.size), ""))
                else:
                    name = _EVENT_NAMES.get(t)
                    if name is not None:
                        note((signed.hash, name, "", "", ""))
                out.markets.add(e.market)
        for signed in touched.values():
            self._sync_open(signed)
            out.order_updates.append((signed.order.account, signed))  # JSON built only if subscribed
            if not signed.open:
                self._drop_finished(signed, ws)

    def _sync_open(self, signed: SignedOrder) -> None:
        info = self.engine.get_order(signed.hash)
        new_open = info.size if info is not None else 0
        delta = new_open - signed.open
        o = signed.order
        if delta:
            acct = self.account(o.account)
            side = acct.open_buy if o.is_buy else acct.open_sell
            side[o.market] = side.get(o.market, 0) + delta
            signed.open = new_open
        live = self.by_nonce_account.setdefault(o.account, set())
        if new_open:
            live.add(signed.hash)
            if signed.status in (NEW, OPEN, WAITING):
                signed.status = WAITING if not info.triggered else OPEN
        else:
            live.discard(signed.hash)
            if signed.status in (NEW, OPEN, WAITING):
                signed.status = FILLED if signed.filled >= o.size else DONE

    # -- settlement bookkeeping ----------------------------------------------------------------
    def mark_fill(self, fill_id: int, state: str, batch_id=None, reason: str = "", tx_hash: str = "") -> FillRecord:
        fill = self.fills[fill_id]
        fill.state = state
        if batch_id is not None:
            fill.batch_id = batch_id
        if reason:
            fill.reason = reason
        if tx_hash:
            fill.tx_hash = tx_hash
        return fill


def registry_row(info: MarketInfo) -> tuple:
    """A registry entry as plain integers (snapshots); `registry_info` reads it back."""
    tiers = None if info.tiers is None else tuple(
        (t.threshold, t.initial_bps, t.maintenance_bps) for t in info.tiers.tiers)
    return (info.market, info.tick, info.lot, info.initial_margin_bps, info.maintenance_margin_bps,
            info.band_bps, info.min_size, info.active, tiers)


def registry_info(row: tuple) -> MarketInfo:
    from offchain.risk.margin import TierTable

    market, tick, lot, im, mm, band, min_size, active, tiers = row
    return MarketInfo(market, tick, lot, im, mm, band, min_size, active,
                      None if tiers is None else TierTable.of(tiers))


def market_config(info: MarketInfo) -> MarketConfig:
    """The engine's config from the Exchange's market registry entry. `band_bps` is the
    chain's: the engine refuses an aggressive order priced outside mark +- band with the
    chain's own reason ("band") and never trades a maker left outside it, so no fill is
    matched that `Exchange.settle` would skip. The Oracle's circuit breaker reaches the
    keeper as its Halted / Resumed events (`market_halt`); the engine's own trade-based
    breaker stays off (the chain has no such rule, it would refuse trades the chain takes)."""
    return MarketConfig(market=info.market, tick=info.tick, lot=info.lot, min_size=info.min_size,
                        band_bps=info.band_bps)
