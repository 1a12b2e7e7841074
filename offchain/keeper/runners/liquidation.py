"""The keeper's liquidation runner: finds accounts below maintenance and closes them,
journaling every step so a crash in the middle resumes it without doing a step twice.

When it looks (docs/liquidation.md):
- every mark update and every fill (`on_mark`, `on_fill`) kicks a scan of the accounts
  whose keeper view (chain snapshot + unsettled fills, `AccountState`) is within
  `near_bps` of maintenance; every `full_scan_s` (timer) a scan of every account with a
  position. Kicks coalesce: one scan runs at a time, and a kick during a scan runs one more.
- a scan reconciles with the chain before it acts: it reads the candidates' collateral and
  positions (one JSON-RPC batch) and each market's oracle price, and decides on those
  (offchain.risk.liquidation.next_step: the Exchange's own arithmetic), never on the
  keeper's estimate alone.

How it acts: each step is an operator transaction, signed, journaled
(liquidation_journal: planned -> submitted -> confirmed | reverted | dead) and only then
broadcast; the nonce comes from the operator's one NonceManager, shared with settlement.
A step is simulated (eth_call) first, so a step the chain would refuse (already
liquidated by someone else, healthy again after a fill, halted market) costs no nonce.

Execution paths (docs/liquidation.md, "Book liquidations"):
- BOOK: an unsigned reduce-only IOC liquidation order (flag LIQUIDATION) goes into the
  keeper's own book (`Gateway.place_liquidation`, journaled like any place) and its fills
  settle in a normal batch; the Exchange takes them only while the account is
  liquidatable, in steps of <= 20% of a large position with a 1 s cool-down. The journal
  row (kind `book`) holds the order hash and is written before the order is placed: after
  a crash, an order the keeper journal has is followed to its fills, one it lacks was
  never placed (dead), so a step is never placed twice. With nothing on the book within
  the step's limit price, the step goes to the backstop instead.
- BACKSTOP (below 2/3 of maintenance, or no book liquidity): `liquidate(account, market)`
  moves the position to the pool at mark; if the fund cannot cover what it leaves, `adl`.
- The backstop itself below maintenance: nobody takes its position over (the Exchange
  refuses liquidate(backstop)) and a liquidation order of it would meet the pool's own
  quotes, so its whole position is deleveraged (`adl` against the ranked profitable
  opposite side, never the backstop itself; at mark while the fund covers its deficit)
  and what they do not take is socialised among the opposite side.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from eth_abi import decode as abi_decode
from web3 import Web3

from offchain.artifacts import abi as artifact_abi

from offchain.funding.risk import account_with_funding
from offchain.order import LIQUIDATION, REDUCE_ONLY, Order, order_hash
from offchain.wire import checksum
from offchain.risk.liquidation import (
    AccountRisk,
    Health,
    LiquidationParams,
    MarketRisk,
    Step,
    StepKind,
    adl_plan,
    adl_price,
    adl_rank,
    health,
    next_step,
    socialise_list,
)

from ..chain import RpcError
from ..core import FillRecord
from ..journal import REJECTED as FILL_REJECTED
from ..journal import SETTLED as FILL_SETTLED
from ..txjournal import receipt_block, receipt_ok
from .liquidation_journal import (
    CONFIRMED,
    DEAD,
    OPEN_STATES,
    PLANNED,
    REVERTED,
    SUBMITTED,
    LiquidationJournal,
    StepRecord,
)

log = logging.getLogger("mmx.keeper.liquidation")

BPS = 10_000
ADL_KIND = "adl"
SOCIALISE_KIND = "socialise"
BOOK_KIND = StepKind.BOOK.value
MAX_ADL_COUNTERPARTIES = 32  # Exchange.adl takes DynArray[address, 32]


@dataclass
class LiquidationStats:
    scans: int = 0
    checked: int = 0          # account snapshots read from chain
    steps: int = 0            # steps journaled
    confirmed: int = 0
    reverted: int = 0
    dead: int = 0
    simulated_refusals: int = 0
    blocked: dict[str, str] = field(default_factory=dict)  # account -> why it cannot be liquidated now


class LiquidationRunner:
    """A keeper Runner (service.Runner protocol)."""

    def __init__(self, params: LiquidationParams = LiquidationParams(), *, near_bps: int = 2_000,
                 full_scan_s: float = 5.0, max_inflight: int = 32, gas: int = 800_000,
                 receipt_timeout: float = 60.0, book: bool = True, order_ttl_s: int = 300,
                 crash_point: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.params = params
        self.book = book                # BOOK steps through the book (False: every step via liquidate)
        self.order_ttl_s = order_ttl_s  # a liquidation order's expiry (it settles in the next batch)
        self._book_at: dict[str, float] = {}  # account -> monotonic time of its last book step
        self.near_bps = near_bps
        self.full_scan_s = full_scan_s
        self.max_inflight = max_inflight
        self.gas = gas
        self.receipt_timeout = receipt_timeout
        self.stats = LiquidationStats()
        self.journal: LiquidationJournal | None = None
        self.busy: set[str] = set()          # accounts with a step in flight
        self.backstop = ""
        self._loss = None  # the socialise ABI at the Exchange (built on first use)
        self.markets: dict[int, MarketRisk] = {}
        self._scan_task: asyncio.Task | None = None
        self._again = False
        self._full = True
        self._last_full = 0.0
        self._tasks: set[asyncio.Task] = set()
        self._slots: asyncio.Semaphore | None = None
        # test hook awaited at each named point (settlement.stall_at); None: the keeper's own
        # (the command line builds it from MMX_TEST_CRASH_POINT), read in on_start
        self.crash_point = crash_point
        self.last_marks: dict[int, int] = {}
        # the last block fully processed: a scan that started with the watcher at (or past)
        # it finished, and every step it (or an earlier scan) decided reached the mempool /
        # the book. A test that mines block by block waits for it (GET /risk), not for time.
        self.processed_block = -1
        self._scan_cursor = -1          # the watcher's cursor when the last finished scan started
        self._unsent: set[str] = set()  # accounts whose decided step is not yet broadcast / placed

    # -- Runner protocol -----------------------------------------------------------------
    async def on_start(self, keeper) -> None:
        self.keeper = keeper
        self.chain = keeper.chain
        self.key = keeper.operator
        self.nonces = self.chain.nonces_for(self.key)
        self.journal = LiquidationJournal(keeper.config.journal.url, leadership=getattr(keeper, "leadership", None))
        self.markets = {m: MarketRisk.of(info) for m, info in keeper.core.markets.items()}
        self.backstop = (await self.chain.call(self.chain.exchange, "backstop")).lower()
        self._slots = asyncio.Semaphore(self.max_inflight)
        if self.crash_point is None:
            self.crash_point = getattr(keeper, "crash_point", None)
        keeper.liquidation = self  # the API's handle (api.py reads liquidations and ADL ranks here)
        await self.resume()
        self.kick(full=True)

    async def on_mark(self, market: int, price: int) -> None:
        self.kick()

    async def on_fill(self, fill: Any) -> None:
        self.kick()

    async def on_timer(self, now: float) -> None:
        if now - self._last_full >= self.full_scan_s:
            self.kick(full=True)

    async def on_chain_log(self, entry: dict) -> None:
        from ..transfers import touched  # a position or collateral moved outside settle

        if touched(entry) is not None:
            self.kick()

    async def on_stop(self) -> None:
        tasks = [t for t in (self._scan_task, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.journal is not None:
            self.journal.close()

    # -- scanning ------------------------------------------------------------------------
    def kick(self, full: bool = False) -> None:
        self._full = self._full or full
        if self._scan_task is not None and not self._scan_task.done():
            self._again = True
            return
        self._scan_task = asyncio.get_running_loop().create_task(self._scan_loop(), name="liquidation-scan")

    async def _scan_loop(self) -> None:
        while True:
            self._again = False
            full, self._full = self._full, False
            watcher = getattr(self.keeper, "watcher", None)
            cursor = getattr(watcher, "cursor", -1)  # the chain view this scan starts from
            try:
                await self.scan(full)
                self._scan_cursor = max(self._scan_cursor, cursor)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next kick tries again
                log.exception("liquidation scan failed")
            if not self._again:
                self._caught_up(scanning=False)
                return

    def _caught_up(self, scanning: bool) -> None:
        """Advance processed_block when no scan is running and nothing decided is unsent."""
        if not scanning and not self._unsent:
            self.processed_block = max(self.processed_block, self._scan_cursor)

    def _sent(self, account: str) -> None:
        """The account's decided step is on its way (broadcast, placed, refused or dropped)."""
        if account in self._unsent:
            self._unsent.discard(account)
            self._caught_up(scanning=self._scan_task is not None and not self._scan_task.done())

    def keeper_view(self) -> list[AccountRisk]:
        """Every account with a position in the keeper's view (chain snapshot + unsettled fills),
        the backstop included (below maintenance it is resolved like any account)."""
        out = []
        for address, state in self.keeper.core.accounts.items():
            rows = {}
            for book in (state.positions, state.pending):
                for market, (size, cost) in book.items():
                    s, c = rows.get(market, (0, 0))
                    rows[market] = (s + size, c + cost)
            # each position's unsettled funding in its own cost, as the chain values a
            # counterparty's PnL for ADL (offchain/funding/risk.py); the rest of the
            # unsettled funding off the collateral: equity is the chain's either way
            owed = state.funding_owed
            positions = tuple((m, s, c + owed.get(m, 0)) for m, (s, c) in sorted(rows.items()) if s != 0)
            if positions:
                folded = sum(owed.get(m, 0) for m, _, _ in positions)
                out.append(AccountRisk(address, state.collateral - (state.funding - folded), positions))
        return out

    def near(self, h: Health) -> bool:
        """Within near_bps above maintenance (or below it) in the keeper's view."""
        return h.open and h.equity * BPS < h.maintenance * (BPS + self.near_bps)

    async def read_marks(self) -> tuple[dict[int, int], set[int]]:
        """The oracle's prices now and the markets in which the chain would refuse (halted / stale)."""
        marks, blocked = {}, set()
        oracle = self.chain.oracle
        markets = sorted(self.markets)
        if oracle is None:  # no oracle configured: nothing can be valued, nothing is acted on
            return {m: 0 for m in markets}, set(markets)
        head, max_age, *infos = await asyncio.gather(
            self.chain.head_block(), self.chain.call(oracle, "max_age"),
            *(self.chain.call(oracle, "price_info", m) for m in markets))
        now = head[1]
        for market, (price, updated_at, halted) in zip(markets, infos):
            marks[market] = int(price)
            if halted or price == 0 or (max_age and updated_at + max_age < now):
                blocked.add(market)
        return marks, blocked

    async def scan(self, full: bool) -> list[Step]:
        self.stats.scans += 1
        if full:
            self._last_full = time.time()
        view = self.keeper_view()
        core_marks = self.keeper.core.marks
        if not full:
            view = [a for a in view if self.near(health(a, core_marks, self.markets))]
        todo = [a.account for a in view if a.account not in self.busy]
        if self.backstop and self.backstop not in {a.lower() for a in todo} and not self._is_busy(self.backstop):
            # the backstop (the pool) may hold positions the keeper's view lacks (taken over
            # at liquidation): its chain snapshot is read on every scan
            todo.append(checksum(self.backstop))
        if not todo:
            return []
        # positions, prices and the head in parallel: the breach-to-transaction time is
        # what liquidation latency is made of
        head, (marks, blocked), snaps = await asyncio.gather(
            self.chain.block_number(), self.read_marks(),
            self.chain.account_snapshots(todo, sorted(self.markets), "latest"))
        self.last_marks = marks
        self.stats.checked += len(snaps)
        steps = []
        for account, (collateral, positions, _, funding) in snaps.items():
            acc = AccountRisk(account, collateral - funding,
                              tuple((m, s, c) for m, (s, c) in sorted(positions.items()) if s != 0))
            step = next_step(acc, marks, self.markets, self.params, backstop=self._is_backstop(account))
            if step is None:
                self.stats.blocked.pop(account, None)
                continue
            stuck = {m for m, _, _ in acc.positions} & blocked
            if stuck:
                # the Exchange values every market of the account with a fresh mark: nothing to do
                # until the oracle recovers (or the market's final settlement, docs/liquidation.md)
                self.stats.blocked[account] = f"markets {sorted(stuck)} halted or stale"
                continue
            if account in self.busy:
                continue
            self.busy.add(account)
            self._unsent.add(account)
            steps.append(step)
            h = health(acc, marks, self.markets)
            self._spawn(self.execute(step, h, head))
        return steps

    def _is_backstop(self, account: str) -> bool:
        return bool(self.backstop) and account.lower() == self.backstop

    def _is_busy(self, account: str) -> bool:
        return account.lower() in {a.lower() for a in self.busy}

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- execution -----------------------------------------------------------------------
    async def _crash_point(self, name: str) -> None:
        """Test hook: stall here (the hook decides how long) so a test can SIGKILL us."""
        if self.crash_point is not None:
            await self.crash_point(name)

    def _calldata(self, step: Step) -> bytes:
        fn = self.chain.exchange.functions.liquidate(step.account, step.market)
        return bytes.fromhex(fn._encode_transaction_data()[2:])

    async def _simulate(self, data: bytes) -> str:
        """'' if the call would succeed now, else the revert reason."""
        try:
            await self.chain.rpc.call("eth_call", [{"from": self.key.address, "to": self.chain.exchange.address,
                                                    "data": "0x" + data.hex(), "gas": hex(self.gas)}, "latest"])
            return ""
        except RpcError as exc:
            return exc.message

    async def execute(self, step: Step, h: Health, seen_block: int) -> None:
        assert self._slots is not None and self.journal is not None
        try:
            async with self._slots:
                if self._is_backstop(step.account):
                    data, kind, refusal = await self._backstop_calldata(step)
                else:
                    if step.kind is StepKind.BOOK and self.book and await self._book_step(step, h, seen_block):
                        return  # on the book (or cooling down): the account is scanned again after
                    data, kind, refusal = await self._handover_calldata(step)
                if refusal:
                    self.stats.simulated_refusals += 1
                    log.info("liquidation of %s in %s refused by simulation: %s", step.account, step.market, refusal)
                    return
                nonce = await self.nonces.allocate()
                raw, tx_hash = self.chain.sign(self.key, self.chain.exchange.address, data, nonce, self.gas)
                step_id = await asyncio.to_thread(
                    self.journal.plan, ts=int(time.time() * 1000), account=step.account, market=step.market,
                    kind=kind, size=step.size, equity=h.equity, maintenance=h.maintenance,
                    seen_block=seen_block, nonce=nonce, tx_hash=tx_hash, raw_tx=raw)
                self.stats.steps += 1
                await self._crash_point("liquidation_after_journal")
                try:
                    await self.chain.send_raw(raw)
                except Exception as exc:  # noqa: BLE001
                    if await self.chain.tx_unknown(tx_hash):
                        self.nonces.release(nonce)
                        await self.nonces.sync()
                        await self._mark(step_id, DEAD, error=str(exc)[:200])
                        return
                    raise
                self._sent(step.account)
                await asyncio.to_thread(self.journal.update, step_id, state=SUBMITTED)
                await self._crash_point("liquidation_after_send")
                receipt = await self.chain.wait_receipt(tx_hash, timeout=self.receipt_timeout)
                if receipt is not None:
                    await self._finish(step_id, receipt)
        finally:
            self.busy.discard(step.account)
            self._sent(step.account)
        self.kick()  # the account may need another step (another market, another slice)

    async def _handover_calldata(self, step: Step) -> tuple[bytes, str, str]:
        """(calldata, journal kind, simulated refusal or '') of a step that leaves the book:
        liquidate, else ADL, else socialise."""
        data = self._calldata(step)
        kind = StepKind.BACKSTOP.value  # a handover (a BOOK step the book could not take too)
        refusal = await self._simulate(data)
        if "insurance short" in refusal:
            # the fund cannot cover what the handover would leave: auto-deleverage the
            # position against the opposite side's most profitable, most levered accounts
            adl = await self._adl_calldata(step)
            if adl is not None:
                data, kind = adl, ADL_KIND
                refusal = await self._simulate(data)
            if "backstop margin" in refusal:
                # the backstop cannot take the rest: the ranked accounts alone (a
                # partial ADL; the next scan socialises what is left)
                adl = await self._adl_calldata(step, backstop=False)
                if adl is not None:
                    data, kind = adl, ADL_KIND
                    refusal = await self._simulate(data)
        if "backstop margin" in refusal:
            # fund, ADL and backstop exhausted: the last tier shares the deficit
            # (docs/exchange.md, "Loss socialisation"); refused "no adl" while the
            # account's equity is not negative (it waits for the book or a move)
            data, kind = await self._socialise_calldata(step), SOCIALISE_KIND
            refusal = await self._simulate(data)
        return data, kind, refusal

    async def _backstop_calldata(self, step: Step) -> tuple[bytes, str, str]:
        """The backstop's own waterfall (docs/liquidation.md): adl against the ranked
        profitable opposite side (never the backstop itself; the chain closes at mark
        while the fund covers the deficit, at the bankruptcy price when it is short); with
        none left (or each refused), socialise among the opposite side -- refused "no adl"
        while the backstop's equity is not negative (it waits for a move or a fill)."""
        data = await self._adl_calldata(step, backstop=False)
        refusal = "no adl counterparty" if data is None else await self._simulate(data)
        kind = ADL_KIND
        if data is None or "adl counterparty" in refusal or "adl equity" in refusal:
            data, kind = await self._socialise_calldata(step), SOCIALISE_KIND
            refusal = await self._simulate(data)
        return data, kind, refusal

    # -- the book path ---------------------------------------------------------------------
    def _book_has(self, step: Step) -> bool:
        """Is there resting liquidity on the other side within the step's limit price?"""
        engine = self.keeper.core.engine
        if step.is_buy:
            best = engine.best_ask(step.market)
            return best is not None and best <= step.limit_price
        best = engine.best_bid(step.market)
        return best is not None and best >= step.limit_price

    async def _book_step(self, step: Step, h: Health, seen_block: int) -> bool:
        """One BOOK step as a liquidation order in the keeper's book. False: it did not reach
        the book (nothing within the limit, or the engine refused it), the caller hands the
        position to the backstop instead. True: placed and followed to its fills, or the
        account is cooling down (the Exchange allows one book step a second; a kick
        follows)."""
        if not self._book_has(step):
            return False
        wait = self._book_at.get(step.account, -1e9) + self.params.cooldown_s - time.monotonic()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self.kick)
            return True
        keeper = self.keeper
        order = Order(step.account, step.market, step.is_buy, step.limit_price, step.size, time.time_ns(),
                      int(keeper.clock()) + self.order_ttl_s, LIQUIDATION | REDUCE_ONLY)
        hash_hex = "0x" + order_hash(order, keeper.domain).hex()
        # journaled before it is placed: on restart, the keeper journal says whether it was
        step_id = await asyncio.to_thread(
            self.journal.plan, ts=int(time.time() * 1000), account=step.account, market=step.market,
            kind=BOOK_KIND, size=step.size, equity=h.equity, maintenance=h.maintenance,
            seen_block=seen_block, nonce=order.nonce, tx_hash=hash_hex, raw_tx="")
        self.stats.steps += 1
        self._book_at[step.account] = time.monotonic()
        await self._crash_point("liquidation_after_journal")
        result = await keeper.gateway.place_liquidation(order)
        if result["status"] != "accepted" or not result["fills"]:
            await self._mark(step_id, DEAD, error=f"book: {result.get('reason') or 'no fill'}"[:200])
            return False
        self._sent(step.account)  # in the book: its fills settle in the next batch
        await asyncio.to_thread(self.journal.update, step_id, state=SUBMITTED)
        await self._crash_point("liquidation_after_send")
        await self._follow_book(step_id, hash_hex, step.account)
        self.kick()
        return True

    async def _follow_book(self, step_id: int, hash_hex: str, account: str) -> None:
        """Wait until every fill of the liquidation order is settled or skipped on chain, then
        record the step: confirmed with the account's signed change, the average price and the
        LiquidationFill penalties, or dead if the chain skipped every fill (the next scan
        decides afresh, e.g. the backstop below 2/3 of maintenance)."""
        core = self.keeper.core
        h = bytes.fromhex(hash_hex[2:])
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            # pending fills are in the sequencer's live state; final ones only in the journal
            if not any(f.taker_hash == h or f.maker_hash == h for f in core.fills.values()):
                fills = [FillRecord.from_row(r) for r in await asyncio.to_thread(self.keeper.journal.fills_of, hash_hex)]
                if all(f.state in (FILL_SETTLED, FILL_REJECTED) for f in fills):
                    break
            if time.monotonic() > deadline:
                return  # left submitted: a later resume follows it again
            await asyncio.sleep(0.05)
        settled = [f for f in fills if f.state == FILL_SETTLED]
        if not settled:
            reasons = ", ".join(sorted({f.reason for f in fills})) or "no fill"
            await self._mark(step_id, DEAD, error=f"skipped: {reasons}"[:200])
            return
        moved = sum(f.size if (f.maker_hash == h) == f.maker_is_buy else -f.size for f in settled)
        size = sum(f.size for f in settled)
        price = sum(f.price * f.size for f in settled) // size
        penalty, block = 0, 0
        topic = self.chain.topics.get("LiquidationFill")
        for tx in sorted({f.tx_hash for f in settled if f.tx_hash}):
            receipt = await self.chain.receipt(tx)
            if receipt is None:
                continue
            n = receipt["blockNumber"]
            block = max(block, int(n, 16) if isinstance(n, str) else n)
            for entry in receipt.get("logs", []):
                t = entry["topics"]
                if t and t[0] == topic and len(t) > 3 and t[3].lower() == hash_hex.lower():
                    _, _, fee, _ = abi_decode(["int256", "uint256", "uint256", "uint256"],
                                              bytes.fromhex(entry["data"][2:]))
                    penalty += fee
        self.stats.confirmed += 1
        await self._mark(step_id, CONFIRMED, block=block, moved=moved, price=price, penalty=penalty)

    async def _resume_book(self, row: StepRecord) -> None:
        try:
            await self._follow_book(row.id, row.tx_hash, row.account)
        finally:
            self.busy.discard(row.account)
        self.kick()

    async def _mark(self, step_id: int, state: str, **values) -> None:
        await asyncio.to_thread(self.journal.update, step_id, state=state, **values)
        if state == DEAD:
            self.stats.dead += 1

    async def _chain_accounts(self, exclude: str) -> list[AccountRisk]:
        """The keeper view's other accounts as chain snapshots (latest block)."""
        others = [a.account for a in self.keeper_view() if a.account.lower() != exclude.lower()]
        if self.backstop and self.backstop not in {a.lower() for a in others} and self.backstop != exclude.lower():
            others.append(checksum(self.backstop))
        if not others:
            return []
        snaps = await self.chain.account_snapshots(others, sorted(self.markets), "latest", by_market=True)
        # each position's unsettled funding in its cost: ranked by PnL including it, as
        # the Exchange checks a counterparty (offchain/funding/risk.py)
        return [account_with_funding(a, coll, pos, owed) for a, (coll, pos, _, owed) in snaps.items()]

    async def _adl_calldata(self, step: Step, backstop: bool = True) -> bytes | None:
        """adl(account, market, counterparties): the opposite side in profit (PnL including
        unsettled funding), ranked by PnL % x leverage on chain snapshots, as many as cover
        the position (<= 32), skipping those the bankruptcy price would leave below zero
        (`adl equity`)."""
        everyone = await self._chain_accounts("")
        me = next((a for a in everyone if a.account.lower() == step.account.lower()), None)
        accounts = [a for a in everyone if a is not me]
        plan: list[tuple[str, int]] = []
        if accounts:
            ranked = adl_rank(not step.is_buy, step.market, accounts, self.last_marks, self.markets,
                              exclude=[self.backstop] if self.backstop else ())
            gap = 0
            mark = self.last_marks.get(step.market, 0)
            if me is not None and mark:
                size, cost = me.position(step.market)
                h = health(me, self.last_marks, self.markets)
                fund = int(await self.chain.call(self.chain.exchange, "insurance_fund")) if self._is_backstop(me.account) else 0
                gap = abs(adl_price(size, cost, h.equity, mark, fund, self._is_backstop(me.account)) - mark)
            plan = adl_plan(step.size, ranked, self.markets[step.market].lot, price_gap=gap)
        counterparties = [a for a, _ in plan][:MAX_ADL_COUNTERPARTIES - 1]
        if backstop and sum(q for _, q in plan[:len(counterparties)]) < step.size and self.backstop:
            # the profitable opposite side does not cover it (or there is none): the
            # backstop, listed last, takes the rest at the bankruptcy price (docs/exchange.md)
            counterparties.append(checksum(self.backstop))
        if not counterparties:
            return None
        fn = self.chain.exchange.functions.adl(step.account, step.market, counterparties)
        return bytes.fromhex(fn._encode_transaction_data()[2:])

    async def _socialise_calldata(self, step: Step) -> bytes:
        """socialise(account, market, counterparties): the whole opposite side plus the
        backstop, in increasing address order (offchain/risk/liquidation.socialise_list)."""
        accounts = await self._chain_accounts(step.account)
        listed = socialise_list(not step.is_buy, step.market, accounts, checksum(self.backstop) if self.backstop else "",
                                step.account)
        fn = self._loss_contract().functions.socialise(step.account, step.market, listed)
        return bytes.fromhex(fn._encode_transaction_data()[2:])

    def _loss_contract(self):
        """The Exchange's address with the ExchangeAccounts ABI (socialise runs there)."""
        if self._loss is None:
            self._loss = Web3().eth.contract(address=self.chain.exchange.address, abi=artifact_abi("ExchangeAccounts"))
        return self._loss

    def _decode_liquidation(self, receipt: dict) -> tuple[int, int, int] | None:
        """(moved size, price, penalty) from a Liquidation log, or the sum of Adl logs."""
        topic, adl_topic = self.chain.topics.get("Liquidation"), self.chain.topics.get("Adl")
        exchange = self.chain.exchange.address.lower()
        moved, price = 0, 0
        for entry in receipt.get("logs", []):
            if entry["address"].lower() != exchange or not entry["topics"]:
                continue
            if entry["topics"][0] == topic:
                size, price, penalty, _ = abi_decode(["int256", "uint256", "uint256", "address"],
                                                     bytes.fromhex(entry["data"][2:]))
                return size, price, penalty
            if adl_topic and entry["topics"][0] == adl_topic:
                size, price = abi_decode(["int256", "uint256"], bytes.fromhex(entry["data"][2:]))
                moved += size
        return (moved, price, 0) if moved else None

    async def _finish(self, step_id: int, receipt: dict) -> None:
        block = receipt_block(receipt)
        if not receipt_ok(receipt):
            self.stats.reverted += 1
            await self._mark(step_id, REVERTED, block=block)
            return
        decoded = self._decode_liquidation(receipt) or (0, 0, 0)
        self.stats.confirmed += 1
        await self._mark(step_id, CONFIRMED, block=block, moved=decoded[0], price=decoded[1], penalty=decoded[2])

    # -- recovery ------------------------------------------------------------------------
    async def resume(self) -> None:
        """Resolve every step a crash left planned / submitted, before any new step.

        A receipt -> processed as live. No receipt and the nonce already used on chain ->
        dead (it can never be mined). Otherwise the same raw bytes are broadcast again
        (idempotent: same nonce, same hash) and its receipt awaited in the background, the
        account busy until then."""
        assert self.journal is not None
        rows = await asyncio.to_thread(self.journal.steps, OPEN_STATES)
        core = self.keeper.core
        # (a `book` row with a raw tx is an older journal's handover: resolved as a tx below)
        for row in [r for r in rows if r.kind == BOOK_KIND and not r.raw_tx]:
            # a book step is an order in the keeper journal: placed (follow its fills) or not
            # (it never reached the book: dead, the next scan decides afresh)
            if bytes.fromhex(row.tx_hash[2:]) in core.seen:
                self.busy.add(row.account)
                self._spawn(self._resume_book(row))
            else:
                await self._mark(row.id, DEAD, error="never placed")
        rows = [r for r in rows if r.kind != BOOK_KIND or r.raw_tx]
        # broadcast every unsent step first (nonce order); their receipts are awaited in the
        # background with the accounts busy (no second step for them meanwhile), so the
        # keeper's start never waits for a block to be mined. The nonce sync counts them
        # (the node's pending count includes the mempool).
        sent = [row for row in sorted(rows, key=lambda r: r.nonce) if await self.resolve(row)]
        if rows:
            await self.nonces.sync()
        for row in sent:
            self.busy.add(row.account)
            self._spawn(self._resume_tx(row))

    async def _resume_tx(self, row: StepRecord) -> None:
        try:
            receipt = await self.chain.wait_receipt(row.tx_hash, timeout=self.receipt_timeout)
            if receipt is not None:
                await self._finish(row.id, receipt)
        finally:
            self.busy.discard(row.account)
        self.kick()

    async def resolve(self, row: StepRecord) -> bool:
        """Settle a step left open from what the chain knows; True if it was (re)broadcast
        and its receipt is still to come."""
        receipt = await self.chain.receipt(row.tx_hash)
        if receipt is not None:
            await self._finish(row.id, receipt)
            return False
        mined_nonce = int(await self.chain.rpc.call("eth_getTransactionCount", [self.key.address, "latest"]), 16)
        if row.nonce < mined_nonce:
            await self._mark(row.id, DEAD, error="nonce used by another tx")
            return False
        try:
            await self.chain.send_raw(row.raw_tx)
        except Exception as exc:  # noqa: BLE001 - e.g. already known, or nonce too low after a race
            if "already known" not in str(exc).lower() and await self.chain.tx_unknown(row.tx_hash):
                await self._mark(row.id, DEAD, error=str(exc)[:200])
                return False
        if row.state == PLANNED:
            await asyncio.to_thread(self.journal.update, row.id, state=SUBMITTED)
        return True

    # -- views (API) -----------------------------------------------------------------------
    def liquidations(self, account: str | None = None, limit: int = 500) -> list[dict]:
        if self.journal is None:
            return []
        return [r.to_json() for r in self.journal.steps(account=account, limit=limit)]

    def adl_ranks(self) -> dict[str, dict]:
        """Per account and market: its ADL rank (1 = first to be deleveraged) among the
        accounts on its side that are in profit, from the keeper's view at the keeper's marks.
        The side a position is on is the one deleveraged against a bankrupt opposite side."""
        view = self.keeper_view()
        marks = dict(self.keeper.core.marks)
        out: dict[str, dict] = {}
        for market in self.markets:
            for bankrupt_is_long in (True, False):
                ranked = adl_rank(bankrupt_is_long, market, view, marks, self.markets, exclude=[self.backstop])
                for i, c in enumerate(ranked, start=1):
                    out.setdefault(c.account, {})[str(market)] = {
                        "rank": i, "of": len(ranked), "side": "short" if bankrupt_is_long else "long",
                        "score": f"{float(c.score):.6g}", "size": str(c.size)}
        return out

    def summary(self) -> dict:
        s = self.stats
        rows = self.journal.steps() if self.journal is not None else []
        confirmed = [r for r in rows if r.state == CONFIRMED]
        latency = sorted(r.block - r.seen_block for r in confirmed if r.block)
        return {"scans": s.scans, "checked": s.checked, "steps": s.steps, "confirmed": len(confirmed),
                "reverted": sum(r.state == REVERTED for r in rows), "dead": sum(r.state == DEAD for r in rows),
                "open": sum(r.state in OPEN_STATES for r in rows), "simulated_refusals": s.simulated_refusals,
                "adl": sum(r.state == CONFIRMED and r.kind == ADL_KIND for r in rows),
                "socialised": sum(r.state == CONFIRMED and r.kind == SOCIALISE_KIND for r in rows),
                "book": sum(r.state == CONFIRMED and r.kind == BOOK_KIND for r in rows),
                "penalties": str(sum(r.penalty for r in confirmed)),
                "latency_blocks_max": latency[-1] if latency else 0,
                "processed_block": self.processed_block,
                "blocked": dict(s.blocked)}
