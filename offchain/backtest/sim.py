"""The backtester: a price path and a synthetic flow through the keeper's own engines.

No chain and no keeper process, but the same pieces the keeper runs:
- the matching core (`offchain.matching.Engine`) with the market's registry values;
- the pool's grid and the vault's quotes built by the keeper's own config mapping
  (`keeper.runners.configs.pool_grid_config` / `vault_quote_config`) and stepped by the
  one strategy step every host runs, `strategies.decide` (engine -> RiskGate -> reconcile), with the pool runner's
  re-centring when the price leaves its grid;
- the runners' timing: every maker steps on each mark and again right after a fill of one
  of its orders (the pool runner places the flip at once; the quote engine's own refresh
  and fill-delay rules decide whether it requotes).

Per mark (in path order): set the mark, expire due orders, step the makers, sample the
book, then play the flow events up to the next mark. Everything is integers and seeded:
the same configs give the same fills.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field

from offchain.analytics.quality import (OTHERS, BookSample, MarketQuality, Trade, market_quality, split_book,
                                        summarize_book)
from offchain.analytics.records import MarkPoint, SettledFill
from offchain.keeper.runners.configs import (KeeperTuning, PoolGridParams, StrategyKind, VaultStrategy,
                                             pool_grid_config, vault_quote_config)
from offchain.matching import Engine, Fill, MarketConfig, Place, PostOnly, TimeInForce
from offchain.matching import Accepted, Cancelled, Expired, Rejected
from offchain.strategies import (AccountState, Fill as EngineFill, GridEngine, LiveOrder, MarketState, Plan,
                                 QuoteEngine, RiskGate, RiskLimits, book_top_excluding, decide, reconcile)

from .flow import Flow, FlowConfig, Kind, generate_flow
from .paths import PricePath

WAD = 10**18
BPS = 10_000
USDC = 10**6
BOOK_DEPTH_FOR_TOP = 64  # as the keeper's venue
SAMPLE_DEPTH = 400  # L2 levels read per book sample (covers 100 bps on the default markets)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """The registry values the matching engine and the makers need (deploy.MarketSpec)."""

    market: int = 1
    tick: int = 10_000
    lot: int = 10**15
    min_size: int = 10**15
    band_bps: int = 500


@dataclass(frozen=True, slots=True)
class PoolGrid:
    """LiquidityPool.set_grid(market, levels per side, spacing bps, size per level)."""

    levels: int = 10
    spacing_bps: int = 10  # the make run default (docs/backtest.md)
    size_per_level: int = 10**17
    capital: int = 2_000_000 * USDC


@dataclass(frozen=True, slots=True)
class VaultQuotes:
    """Vault.set_strategy((QUOTE, market, levels, 0, 0, spacing, size, spread_bps, 0, b""))."""

    levels: int = 3
    spread_bps: int = 20
    size_per_level: int = 2 * 10**17
    spacing_bps: int = 10
    capital: int = 500_000 * USDC


@dataclass(frozen=True, slots=True)
class Fees:
    taker_fee_bps: int = 5  # the first tier of deploy.SuiteConfig.fee_tiers
    maker_rebate_bps: int = 1
    pool_fee_share_bps: int = 5_000  # the pool's share of net fees (taker fee - maker rebate)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    market: MarketSpec = MarketSpec()
    pool: PoolGrid | None = PoolGrid()
    vault: VaultQuotes | None = VaultQuotes()
    flow: FlowConfig = FlowConfig()
    fees: Fees = Fees()
    tuning: KeeperTuning = KeeperTuning()
    limits: RiskLimits = RiskLimits(max_mark_age_ms=120_000)  # the runners' defaults
    sample_ms: int = 1_000  # book sampling period for the market-quality figures
    markout_s: float = 10.0  # adverse selection horizon


class _Maker:
    """One account making the market: the MarketMaker loop without the I/O."""

    __slots__ = ("name", "factory", "engine", "gate", "live", "position", "cash", "capital", "reanchor", "fills",
                 "placed", "dirty", "memo")

    def __init__(self, name: str, factory: Callable[[int], GridEngine | QuoteEngine], limits: RiskLimits,
                 capital: int, reanchor: bool) -> None:
        self.name = name
        self.factory = factory
        self.engine: GridEngine | QuoteEngine | None = None
        self.gate = RiskGate(limits)
        self.live: dict[int, LiveOrder] = {}  # in placement order (oldest first)
        self.position = 0
        self.cash = 0  # USDC units from trading, fees and rebates
        self.capital = capital
        self.reanchor = reanchor
        self.fills: list[SettledFill] = []
        self.placed = 0  # base units offered
        self.dirty = False
        self.memo: tuple | None = None  # ((allowed, live, min size), plan) of the last reconcile

    def equity(self, mark: int) -> int:
        return self.capital + self.cash + self.position * mark // WAD


@dataclass
class BacktestResult:
    config: BacktestConfig
    path: PricePath
    trades: list[Trade]
    maker_fills: dict[str, list[SettledFill]]
    samples: list[BookSample]
    placed: dict[str, int]
    final_equity: dict[str, int]
    pool_fee_income: int
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def marks(self) -> list[MarkPoint]:
        m = self.config.market.market
        return [MarkPoint(t, m, p) for t, p in zip(self.path.ts, self.path.prices)]

    def quality(self) -> MarketQuality:
        return market_quality(self.samples, self.trades, zip(self.path.ts, self.path.prices),
                              horizon_s=self.config.markout_s, placed=self.placed,
                              participants=[*self.maker_fills, OTHERS])

    def pnl(self, name: str) -> int:
        """Trading result of a maker (USDC units): equity at the last mark minus capital."""
        capital = {"pool": self.config.pool, "vault": self.config.vault}[name]
        return self.final_equity[name] - capital.capital  # type: ignore[union-attr]


def _participant(account: str) -> str:
    return account if account in ("pool", "vault") else OTHERS


class Backtest:
    def __init__(self, config: BacktestConfig, path: PricePath, flow: Flow | None = None) -> None:
        self.config = config
        self.path = path
        self.flow = flow if flow is not None else generate_flow(config.flow, path.ts[0], path.ts[-1])
        spec = config.market
        self.m = spec.market
        self.engine = Engine([MarketConfig(spec.market, spec.tick, spec.lot, spec.min_size, band_bps=spec.band_bps)])
        self.makers: dict[str, _Maker] = {}
        tuning = config.tuning
        if config.pool is not None:
            grid = config.pool
            params = PoolGridParams(spec.market, grid.levels, grid.spacing_bps, grid.size_per_level, True)

            def pool_engine(anchor: int) -> GridEngine:
                cfg = pool_grid_config(params, anchor, tuning)
                assert cfg is not None
                return GridEngine(cfg)

            self.makers["pool"] = _Maker("pool", pool_engine, config.limits, grid.capital, True)
        if config.vault is not None:
            q = config.vault
            strategy = VaultStrategy(StrategyKind.QUOTE, spec.market, q.levels, 0, 0, q.spacing_bps,
                                     q.size_per_level, q.spread_bps)
            quote = vault_quote_config(strategy, tuning)
            self.makers["vault"] = _Maker("vault", lambda anchor: QuoteEngine(quote), config.limits, q.capital,
                                          False)
        self.trades: list[Trade] = []
        self.samples: list[BookSample] = []
        self.next_id = 0
        self.mark = path.prices[0]
        self.mark_ts = path.ts[0]
        self.fee_income = 0
        self.stale: tuple[int | None, int | None] | None = None  # the touch noise makers see (book_lag_marks)
        self.counters = {"events": 0, "maker_orders": 0, "taker_orders": 0, "informed_orders": 0,
                         "informed_passed": 0, "no_liquidity": 0, "rejected": 0, "maker_steps": 0,
                         "maker_rejected": 0}

    # -- the loop ---------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None) -> BacktestResult:
        # Hundreds of thousands of long-lived trade records: the cyclic GC would rescan
        # them on every collection, and none of them forms a cycle.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if was_enabled:
                gc.enable()

    def _run(self, progress: Callable[[int, int], None] | None) -> BacktestResult:
        path, flow, cfg = self.path, self.flow, self.config
        ts_path, px_path = path.ts, path.prices
        n = len(ts_path)
        horizon = max(0, cfg.flow.horizon_s * 1000)
        step_ms = (ts_path[1] - ts_path[0]) if n > 1 else 1000
        ahead = max(1, horizon // step_ms) if horizon else 0
        f_ts, f_kind, f_buy, f_lots, f_off, f_trader = (flow.ts.tolist(), flow.kind.tolist(), flow.is_buy.tolist(),
                                                        flow.lots.tolist(), flow.offset.tolist(),
                                                        flow.trader.tolist())
        j, nf = 0, len(f_ts)
        next_sample = ts_path[0]
        report_every = max(1, n // 10)
        lag = cfg.flow.book_lag_marks
        touches: list[tuple[int | None, int | None]] = []
        for i in range(n):
            ts, price = ts_path[i], px_path[i]
            self.mark, self.mark_ts = price, ts
            self.engine.set_mark(self.m, price, ts)
            for ev in self.engine.expire(ts):
                self._forget(ev)
            for maker in self.makers.values():
                self._step(maker, ts)
            if lag:
                touches.append((self.engine.best_bid(self.m), self.engine.best_ask(self.m)))
                self.stale = touches[max(0, len(touches) - 1 - lag)]
                if len(touches) > 4 * lag:
                    del touches[:2 * lag]
            if ts >= next_sample:
                self._sample(ts)
                next_sample = ts + cfg.sample_ms
            end = ts_path[i + 1] if i + 1 < n else ts + step_ms
            future = px_path[min(n - 1, i + ahead)]
            while j < nf and f_ts[j] < end:
                self._event(f_ts[j], f_kind[j], f_buy[j], f_lots[j], f_off[j], f_trader[j], future)
                j += 1
            if progress is not None and (i % report_every == 0 or i == n - 1):
                progress(i + 1, n)
        last = px_path[-1]
        return BacktestResult(
            cfg, path, self.trades, {k: m.fills for k, m in self.makers.items()}, self.samples,
            {k: m.placed for k, m in self.makers.items()}, {k: m.equity(last) for k, m in self.makers.items()},
            self.fee_income, dict(self.counters),
        )

    # -- makers -----------------------------------------------------------------------------
    def _state(self, maker: _Maker, ts: int) -> MarketState:
        spec = self.config.market
        # The top few levels nearly always hold a price that is not all ours; read the
        # keeper's 64 only when they do not (same answer, a tenth of the copying).
        bids, asks = self.engine.depth(self.m, 8)
        best_bid, best_ask = book_top_excluding(bids, asks, maker.live.values())
        if (best_bid is None and len(bids) == 8) or (best_ask is None and len(asks) == 8):
            bids, asks = self.engine.depth(self.m, BOOK_DEPTH_FOR_TOP)
            best_bid, best_ask = book_top_excluding(bids, asks, maker.live.values())
        return MarketState(self.m, best_bid, best_ask, self.mark, self.mark_ts, False, spec.tick, spec.lot,
                           spec.min_size)

    def _step(self, maker: _Maker, ts: int) -> None:
        maker.dirty = False
        state = self._state(maker, ts)
        if maker.engine is None:
            maker.engine = maker.factory(state.mark_price)
        account = AccountState(maker.position, maker.equity(self.mark), tuple(maker.live.values()))
        plan = self._plan(maker, state, account, ts)
        if maker.reanchor and maker.engine.paused:
            maker.engine = maker.factory(state.mark_price)  # the pool runner re-centres its grid
            plan = self._plan(maker, state, account, ts)
        self.counters["maker_steps"] += 1
        engine = self.engine
        if plan.cancels:
            for ev in engine.cancel_many(plan.cancels, ts):
                self._forget(ev)
        for a in plan.amends:
            engine.amend(a.order_id, ts, size=a.new_size)
            old = maker.live.get(a.order_id)
            if old is not None:
                maker.live[a.order_id] = LiveOrder(old.order_id, old.market, old.is_buy, old.price, a.new_size)
        for d in plan.places:
            oid = self.next_id = self.next_id + 1
            cmd = Place(oid, maker.name, self.m, d.is_buy, d.size, d.price, ts,
                        post_only=PostOnly.REJECT if d.post_only else PostOnly.NONE, reduce_only=d.reduce_only)
            self._handle(engine.place(cmd), maker)

    def _plan(self, maker: _Maker, state: MarketState, account: AccountState, ts: int) -> Plan:
        """The one strategy step every host runs (strategies.decide).

        For a grid, whose `desired` always returns a set (never "keep"), this is decide's
        own path written out so that its reconcile can be memoised: reconcile is a pure
        function of (live orders, allowed orders, min size), and on most marks neither
        changed (the grid wants what already rests), so the last plan comes back. Same
        plans, a fraction of the time; the quote engine goes through decide itself."""
        engine = maker.engine
        if not isinstance(engine, GridEngine):
            return decide(engine, maker.gate, state, account, ts).plan  # type: ignore[arg-type]
        desired = engine.desired(state, account, ts)
        allowed, _ = maker.gate.filter(desired, account, state, ts)
        key = (tuple(allowed), account.open_orders, state.min_size)
        memo = maker.memo
        if memo is not None and memo[0] == key:
            return memo[1]
        plan = reconcile(account.open_orders, allowed, min_size=state.min_size)
        maker.memo = (key, plan)
        return plan

    def _forget(self, ev: object) -> None:
        if isinstance(ev, (Cancelled, Expired)):
            maker = self.makers.get(ev.account)
            if maker is not None:
                if getattr(ev, "remaining", 0):
                    old = maker.live[ev.order_id]
                    maker.live[ev.order_id] = LiveOrder(old.order_id, old.market, old.is_buy, old.price, ev.remaining)
                else:
                    maker.live.pop(ev.order_id, None)

    def _handle(self, events: list, maker: _Maker | None = None) -> None:
        """Apply a place's events: live orders, fills (to the makers' engines), trades."""
        for ev in events:
            cls = ev.__class__
            if cls is Fill:
                self._fill(ev)
            elif cls is Accepted:
                if maker is not None:
                    remaining = ev.size
                    maker.live[ev.order_id] = LiveOrder(ev.order_id, ev.market, ev.is_buy, ev.price, remaining)
                    maker.placed += ev.size
            elif cls is Cancelled or cls is Expired:
                self._forget(ev)
            elif cls is Rejected:
                self.counters["maker_rejected" if maker is not None else "rejected"] += 1

    def _fill(self, ev: Fill) -> None:
        fees = self.config.fees
        notional = ev.price * ev.size // WAD
        fee = notional * fees.taker_fee_bps // BPS
        rebate = notional * fees.maker_rebate_bps // BPS
        self.fee_income += (fee - rebate) * fees.pool_fee_share_bps // BPS
        maker_p, taker_p = _participant(ev.maker_account), _participant(ev.taker_account)
        self.trades.append(Trade(ev.ts, ev.price, ev.size, maker_p, taker_p, ev.maker_is_buy))
        maker = self.makers.get(ev.maker_account)
        if maker is not None:
            live = maker.live.get(ev.maker_id)
            if live is not None:
                if ev.maker_remaining:
                    maker.live[ev.maker_id] = LiveOrder(live.order_id, live.market, live.is_buy, live.price,
                                                        ev.maker_remaining)
                else:
                    del maker.live[ev.maker_id]
            signed = ev.size if ev.maker_is_buy else -ev.size
            maker.position += signed
            maker.cash += (-notional if ev.maker_is_buy else notional) + rebate
            maker.fills.append(SettledFill(ev.ts, ev.market, ev.maker_is_buy, ev.price, ev.size, True, 0, rebate))
            ours = EngineFill(ev.market, ev.maker_is_buy, ev.price, ev.size, ev.ts)
            if maker.engine is not None:
                maker.engine.on_fill(ours, ev.ts)
            maker.dirty = True
        taker = self.makers.get(ev.taker_account)
        if taker is not None:  # a maker's own crossing order (not used by the default makers)
            taker.position += -ev.size if ev.maker_is_buy else ev.size
            taker.cash += (notional if ev.maker_is_buy else -notional) - fee
            taker.fills.append(SettledFill(ev.ts, ev.market, not ev.maker_is_buy, ev.price, ev.size, False, fee, 0))

    # -- flow -------------------------------------------------------------------------------
    def _event(self, ts: int, kind: int, is_buy: bool, lots: int, offset: int, trader: int, future: int) -> None:
        spec, engine, m = self.config.market, self.engine, self.m
        self.counters["events"] += 1
        size = lots * max(spec.lot, spec.min_size // spec.lot * spec.lot)
        tick = spec.tick
        if kind == Kind.NOISE_MAKER:
            self.counters["maker_orders"] += 1
            if self.stale is not None:  # a trader pricing off the book it read a while ago
                best = self.stale[0] if is_buy else self.stale[1]
            else:
                best = engine.best_bid(m) if is_buy else engine.best_ask(m)
            ref = best if best is not None else self.mark
            price = ref - offset * tick if is_buy else ref + offset * tick
            if price <= 0:
                return
            cmd = Place(self._id(), f"noise{trader}", m, is_buy, size, price, ts, tif=TimeInForce.GTD,
                        expiry=ts + self.config.flow.passive_ttl_s * 1000, post_only=PostOnly.REJECT)
        elif kind == Kind.NOISE_TAKER:
            self.counters["taker_orders"] += 1
            best = engine.best_ask(m) if is_buy else engine.best_bid(m)
            if best is None:
                self.counters["no_liquidity"] += 1
                return
            slip = self.config.flow.taker_slippage_ticks * tick
            cmd = Place(self._id(), f"noise{trader}", m, is_buy, size, best + slip if is_buy else best - slip, ts,
                        tif=TimeInForce.IOC)
        else:
            edge = self.config.flow.edge_bps
            ask, bid = engine.best_ask(m), engine.best_bid(m)
            buy_limit = future * (BPS - edge) // BPS // tick * tick
            sell_limit = -(-future * (BPS + edge) // BPS) // tick * tick
            if ask is not None and ask <= buy_limit:
                is_buy, price = True, buy_limit
            elif bid is not None and bid >= sell_limit:
                is_buy, price = False, sell_limit
            else:
                self.counters["informed_passed"] += 1
                return
            self.counters["informed_orders"] += 1
            cmd = Place(self._id(), f"informed{trader}", m, is_buy, size, price, ts, tif=TimeInForce.IOC)
        self._handle(engine.place(cmd))
        for maker in self.makers.values():
            if maker.dirty:
                self._step(maker, ts)

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self, ts: int) -> None:
        bids, asks = self.engine.depth(self.m, SAMPLE_DEPTH)
        own = {name: [(o.is_buy, o.price, o.size) for o in maker.live.values()] for name, maker in self.makers.items()}
        self.samples.append(summarize_book(ts, *split_book(bids, asks, own)))


def run_backtest(config: BacktestConfig, path: PricePath, flow: Flow | None = None,
                 progress: Callable[[int, int], None] | None = None) -> BacktestResult:
    return Backtest(config, path, flow).run(progress)


__all__ = ["Backtest", "BacktestConfig", "BacktestResult", "Fees", "MarketSpec", "PoolGrid", "VaultQuotes",
           "run_backtest"]
