"""The main job (`make run`): a whole MMX devnet, running, for DURATION seconds.

Starts anvil on a free loopback port, deploys the suite, funds demo accounts from the
USDC faucet, deposits into the liquidity pool, creates a market-maker vault with a
two-sided quoting strategy, starts the keeper (a separate process, with its oracle feed
and the pool and vault strategy runners), and runs simulated traders that sign orders
through the SDK and send them over the keeper's HTTP API. Ends with a report: orders,
fills, batches, gas per fill, order-to-settlement latency, equity of every party, and
the analytics tables and charts. anvil and the keeper are stopped on exit or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient, KeeperError
from offchain.deploy import DEFAULT_MARKETS, USDC, Deployment, SuiteConfig, Web3Deployer, deploy_suite
from offchain.devnet import PROJECT_ROOT, Anvil, project_env, reap
from offchain.order import POST_ONLY, address_of
from offchain.stats import percentile

# anvil account indices (its well-known devnet mnemonic): the roles of the demo
ADMIN, OPERATOR, REPORTER, POOL_AGENT, LP, VAULT_OWNER, VAULT_MANAGER, FOLLOWER = range(8)
FIRST_TRADER = 8
TRADER_DEPOSIT = 500_000 * USDC
LP_DEPOSIT = 2_000_000 * USDC
VAULT_OWNER_DEPOSIT = 200_000 * USDC
FOLLOWER_DEPOSIT = 300_000 * USDC
QUOTE_KIND = 2
FAUCET_MAX = 1_000_000 * USDC
# The makers' defaults come from a backtest on the default flow (docs/backtest.md): a
# 10 bps grid step puts the pool's first levels at the vault's distance from mid, so the
# pool is at the top of the book most of the time and both quote two-sided all the time
# (with the old 30 bps step the pool sat behind the vault's quotes and never traded).
POOL_GRID_SPACING_BPS = 10
# one-minute funding intervals so a run of a few minutes pays funding (docs/funding.md)
FUNDING_INTERVAL_S = 60
RUN_SUITE = SuiteConfig(markets=tuple(dataclasses.replace(m, grid_spacing_bps=POOL_GRID_SPACING_BPS)
                                      for m in DEFAULT_MARKETS), funding_interval_s=FUNDING_INTERVAL_S)
VAULT_QUOTE_LEVELS, VAULT_QUOTE_SPACING_BPS, VAULT_QUOTE_SIZE, VAULT_QUOTE_SPREAD_BPS = 3, 10, 2 * 10**17, 20


@dataclass
class TraderStats:
    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    ack_ms: list[float] = field(default_factory=list)
    placed_at: dict[str, float] = field(default_factory=dict)  # taker order hash -> ack time
    settle_ms: list[float] = field(default_factory=list)
    settled: set[str] = field(default_factory=set)
    samples: dict[int, list] = field(default_factory=dict)  # market -> analytics BookSamples


def say(text: str) -> None:
    print(text, flush=True)


class Devnet:
    """The chain side of the demo: deploy, fund, pool deposit, vault."""

    def __init__(self, anvil: Anvil):
        self.anvil = anvil
        self.w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))
        self.keys = anvil.private_keys()
        self.deployment: Deployment | None = None
        self.vault: str | None = None

    def address(self, index: int) -> str:
        return address_of(self.keys[index])

    def sender(self, index: int) -> Web3Deployer:
        return Web3Deployer(self.w3, self.keys[index])

    def contract(self, name: str, address: str):
        return self.w3.eth.contract(address=address, abi=abi(name))

    def deploy(self) -> Deployment:
        self.deployment = deploy_suite(
            self.sender(ADMIN), operator=self.address(OPERATOR), reporter=self.address(REPORTER),
            keeper_agent=self.address(POOL_AGENT), config=RUN_SUITE,
        )
        return self.deployment

    def faucet(self, index: int, amount: int, spender: str) -> Web3Deployer:
        who = self.sender(index)
        d = self.deployment
        remaining = amount
        while remaining:  # the faucet gives at most FAUCET_MAX per call
            chunk = min(remaining, FAUCET_MAX)
            who.transact("TestUSDC", d.usdc, "faucet", chunk)
            remaining -= chunk
        who.transact("TestUSDC", d.usdc, "approve", spender, amount)
        return who

    def fund_trader(self, index: int) -> None:
        d = self.deployment
        self.faucet(index, TRADER_DEPOSIT, d.exchange).transact(
            "Exchange", d.exchange, "deposit", TRADER_DEPOSIT
        )

    def pool_deposit(self) -> int:
        d = self.deployment
        lp = self.faucet(LP, LP_DEPOSIT, d.pool)
        lp.transact("LiquidityPool", d.pool, "deposit", LP_DEPOSIT, lp.address, 0)
        return self.contract("LiquidityPool", d.pool).functions.balanceOf(lp.address).call()

    def create_vault(self) -> str:
        d = self.deployment
        owner = self.sender(VAULT_OWNER)
        owner.transact("VaultFactory", d.vault_factory, "create_vault", "MMX Demo Quotes",
                       self.address(VAULT_MANAGER))
        factory = self.contract("VaultFactory", d.vault_factory)
        vault = factory.functions.vaults(factory.functions.vault_count().call() - 1).call()
        self.faucet(VAULT_OWNER, VAULT_OWNER_DEPOSIT, vault).transact(
            "Vault", vault, "deposit", VAULT_OWNER_DEPOSIT, 0
        )
        self.faucet(FOLLOWER, FOLLOWER_DEPOSIT, vault).transact(
            "Vault", vault, "deposit", FOLLOWER_DEPOSIT, 0
        )
        # kind, market, levels, lower, upper, spacing_bps, size_per_level, spread_bps, hedge, custom
        strategy = (QUOTE_KIND, 1, VAULT_QUOTE_LEVELS, 0, 0, VAULT_QUOTE_SPACING_BPS, VAULT_QUOTE_SIZE,
                    VAULT_QUOTE_SPREAD_BPS, 0, b"")
        self.sender(VAULT_MANAGER).transact("Vault", vault, "set_strategy", strategy)
        self.vault = vault
        return vault

    def equity(self, account: str) -> int:
        return self.contract("Exchange", self.deployment.exchange).functions.equity(account).call()

    def settlement_gas(self) -> tuple[int, int, int, int]:
        """(settle txs, fills settled, fills skipped, gas used by settle txs) from the chain."""
        exchange = self.contract("Exchange", self.deployment.exchange)
        settled = exchange.events.FillSettled().get_logs(from_block=0)
        skipped = exchange.events.FillSkipped().get_logs(from_block=0)
        tx_hashes = {log["transactionHash"] for log in settled} | {
            log["transactionHash"] for log in skipped
        }
        gas = sum(self.w3.eth.get_transaction_receipt(h)["gasUsed"] for h in tx_hashes)
        return len(tx_hashes), len(settled), len(skipped), gas


class KeeperProcess:
    """The keeper as its own process (`python -m offchain.keeper`), as an operator runs it."""

    def __init__(self, devnet: Devnet, workdir: Path):
        self.devnet = devnet
        self.workdir = workdir
        # port 0: the keeper binds its API socket at the OS's pick and writes its URL to the
        # ready file; a port picked here could be taken before the keeper binds it, and then
        # the health check below might be answered by another process's server
        self.port = 0
        self.url = ""
        self.ready = workdir / "keeper.ready"
        self.process: subprocess.Popen | None = None

    def write_config(self) -> Path:
        deployment_path = self.workdir / "deployment.json"
        self.devnet.deployment.save(deployment_path)
        config = self.workdir / "keeper.toml"
        config.write_text(f"""\
[chain]
rpc_url = "{self.devnet.anvil.url}"
confirmations = 0
poll_interval = 0.25
deployment = "{deployment_path}"

[keys]
operator = "env:MMX_OPERATOR_KEY"
reporter = "env:MMX_REPORTER_KEY"
agents = ["env:MMX_POOL_AGENT_KEY", "env:MMX_VAULT_AGENT_KEY"]

[settlement]
max_fills = 64
max_wait_ms = 50
max_inflight = 4

[oracle]
source = "random"
seed = 7
interval = 1.0
markets = [1, 2]
max_step_bps = 15

[runners]
pool = true
vaults = true
liquidation = true
backstop_unwind = true

[funding]
enabled = true
interval_s = {FUNDING_INTERVAL_S}
markets = [1, 2]

[api]
host = "127.0.0.1"
port = {self.port}

[journal]
url = "sqlite:///{self.workdir / 'keeper.db'}"
""")
        return config

    def start(self, timeout: float = 60.0) -> None:
        config = self.write_config()
        env = project_env() | {
            "MMX_OPERATOR_KEY": self.devnet.keys[OPERATOR],
            "MMX_REPORTER_KEY": self.devnet.keys[REPORTER],
            "MMX_POOL_AGENT_KEY": self.devnet.keys[POOL_AGENT],
            "MMX_VAULT_AGENT_KEY": self.devnet.keys[VAULT_MANAGER],
            "MMX_LOG_LEVEL": os.environ.get("MMX_LOG_LEVEL", "WARNING"),
        }
        log = open(self.workdir / "keeper.log", "ab")
        self.ready.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "offchain.keeper", "--config", str(config)],
            cwd=PROJECT_ROOT, env=env | {"MMX_READY_FILE": str(self.ready)}, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keeper exited early; see {self.workdir / 'keeper.log'}")
            if not self.ready.exists():
                time.sleep(0.2)
                continue
            self.url = self.ready.read_text().strip()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("keeper did not come up")

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/stats", timeout=10).json()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        reap(process, 15)


async def run_trader(url: str, key: str, seed: int, stop_at: float, stats: TraderStats,
                     markets: dict[int, dict]) -> None:
    """A noisy trader: some orders that cross the book, then passive orders behind it.

    Each round sends its crossing orders first and prices its passive ones off the book
    as it stands after them. Priced off the book read before the takers went in, the
    passive orders landed inside the level the takers had just emptied, and the noise
    traders, not the pool's grid, became the market (docs/backtest.md, default flow)."""
    rng = random.Random(seed)
    async with AsyncKeeperClient(url, key) as client:
        await client.info()
        stream = asyncio.create_task(follow_fills(client, stats))
        try:
            while time.monotonic() < stop_at:
                plan = [(rng.choice(list(markets)), rng.random() < 0.5, rng.random() < 0.3,
                         rng.randint(1, 20), rng.randint(1, 30)) for _ in range(rng.randint(4, 10))]
                sent_any = False
                for crossing in (True, False):
                    orders = []
                    for market, is_buy, is_taker, lots, away_ticks in plan:
                        if is_taker != crossing:
                            continue
                        spec = markets[market]
                        book = await client.book(market, depth=1)
                        best_bid = int(book["bids"][0][0]) if book["bids"] else 0
                        best_ask = int(book["asks"][0][0]) if book["asks"] else 0
                        if not (best_bid and best_ask):
                            continue  # wait for the pool's grid to make a market
                        tick, lot = int(spec["tick"]), int(spec["lot"])
                        size = lot * lots * max(1, int(spec["min_size"]) // lot)
                        if crossing:  # a taker, IOC: a GTC remainder would rest at the old touch
                            price = best_ask if is_buy else best_bid
                        else:  # a maker, a few ticks behind the touch
                            away = tick * away_ticks
                            price = (best_bid - away) if is_buy else (best_ask + away)
                        price = max(tick, price // tick * tick)
                        order = client.order(market, is_buy, price, size,
                                             flags=0 if crossing else POST_ONLY, ttl=600)
                        orders.append(client.signed(order, "IOC") if crossing else order)
                    if orders:
                        sent_any = True
                        await place_round(client, orders, crossing, stats)
                if not sent_any:
                    await asyncio.sleep(0.5)
                    continue
                await asyncio.sleep(rng.uniform(0.02, 0.1))
        finally:
            await asyncio.sleep(0)
            stream.cancel()


async def place_round(client: AsyncKeeperClient, orders: list, crossing: bool,
                      stats: TraderStats) -> None:
    """Send one batch and count its acks (latency of orders that trade on arrival)."""
    sent = time.monotonic()
    try:
        results = await client.place_batch(orders)
    except KeeperError as exc:
        stats.rejected += len(orders)
        stats.reasons[str(exc.detail)] = stats.reasons.get(str(exc.detail), 0) + 1
        await asyncio.sleep(0.2)
        return
    now = time.monotonic()
    stats.ack_ms.append((now - sent) * 1000)
    for result in results:
        if result.get("status") == "accepted":
            stats.accepted += 1
            if crossing:
                stats.placed_at[result["hash"]] = now
        else:
            stats.rejected += 1
            reason = str(result.get("reason"))
            stats.reasons[reason] = stats.reasons.get(reason, 0) + 1


async def follow_fills(client: AsyncKeeperClient, stats: TraderStats) -> None:
    """Order-to-settlement latency of orders that cross on arrival: from the order's ack
    to its first settled fill (a resting maker order's wait for a taker is not latency)."""
    try:
        async for event in client.stream(fills=True):
            if event.get("type") != "fill_state":
                continue
            fill = event.get("fill", {})
            if fill.get("state") != "settled":
                continue
            now = time.monotonic()
            for key in ("taker_hash", "maker_hash"):
                order_hash = fill.get(key)
                if order_hash in stats.placed_at and order_hash not in stats.settled:
                    stats.settled.add(order_hash)
                    stats.settle_ms.append((now - stats.placed_at[order_hash]) * 1000)
    except asyncio.CancelledError:
        pass


async def drive_traders(url: str, keys: list[str], duration: float, keeper: KeeperProcess,
                        devnet: Devnet) -> TraderStats:
    info = httpx.get(f"{url}/info", timeout=10).json()
    markets = {int(market): spec for market, spec in info["markets"].items()}
    stats = TraderStats()
    started = time.monotonic()
    stop_at = started + duration
    tasks = [asyncio.create_task(run_trader(url, key, seed, stop_at, stats, markets))
             for seed, key in enumerate(keys)]
    sampler = asyncio.create_task(sample_books(url, list(markets), book_owners(devnet), stop_at, stats.samples))
    while not all(task.done() for task in tasks):
        await asyncio.sleep(min(5.0, max(0.1, stop_at - time.monotonic())))
        if time.monotonic() >= stop_at and all(task.done() for task in tasks):
            break
        keeper_stats = await asyncio.to_thread(keeper.stats)
        say(
            f"[{time.monotonic() - started:5.0f}s] orders accepted {stats.accepted} "
            f"rejected {stats.rejected} | fills {fill_states(keeper_stats)}"
        )
    sampler.cancel()
    for task in tasks:
        if task.exception():
            raise task.exception()
    return stats


def book_owners(devnet: Devnet) -> dict[str, str]:
    """Participant name -> address of the market makers whose share of the book is sampled."""
    owners = {"pool": devnet.deployment.pool}
    if devnet.vault:
        owners["vault"] = devnet.vault
    return owners


async def sample_books(url: str, markets: list[int], owners: dict[str, str], stop_at: float,
                       samples: dict[int, list], period: float = 1.0) -> None:
    """Every `period` s: each market's book split into the pool's, the vault's and
    everyone else's orders (offchain.analytics.quality), for the market-quality figures."""
    from offchain.analytics.quality import split_book, summarize_book

    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            try:
                books = {m: (await http.get(f"/book/{m}", params={"depth": 200})).json() for m in markets}
                orders = {name: (await http.get(f"/accounts/{address}/orders")).json()["orders"]
                          for name, address in owners.items()}
                ts = int(time.time() * 1000)
                for m, book in books.items():
                    bids = [(int(p), int(q)) for p, q in book["bids"]]
                    asks = [(int(p), int(q)) for p, q in book["asks"]]
                    own = {name: [(o["is_buy"], int(o["price"]), int(o["open"])) for o in os_
                                  if int(o["market"]) == m and int(o["open"])] for name, os_ in orders.items()}
                    samples.setdefault(m, []).append(summarize_book(ts, *split_book(bids, asks, own)))
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # a missed sample only shortens the series; time weighting covers the gap
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))


def fill_states(keeper_stats: dict) -> str:
    states = keeper_stats.get("fill_states") or {}
    return " ".join(f"{name} {count}" for name, count in sorted(states.items())) or "none yet"


def wait_for_settlement(keeper: KeeperProcess, timeout: float = 30.0) -> dict:
    """Let the keeper settle what it matched before the report reads the chain."""
    deadline = time.monotonic() + timeout
    stats = keeper.stats()
    while time.monotonic() < deadline:
        states = stats.get("fill_states") or {}
        if not states.get("matched") and not states.get("submitted"):
            break
        time.sleep(0.5)
        stats = keeper.stats()
    return stats


def usdc(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // USDC:,}.{amount % USDC:06d}"


@dataclass
class RunContext:
    """What the report parts read: the run's own figures and the chain."""

    devnet: Devnet
    keeper_stats: dict
    trader_stats: TraderStats
    duration: float
    trader_keys: list[str]
    workdir: Path


@dataclass
class ReportPart:
    """One part of the report: lines for the terminal, sections for report.html."""

    lines: list[str] = field(default_factory=list)
    sections: list = field(default_factory=list)  # offchain.analytics.html.Section


def _rows_part(title: str, rows: list[tuple[str, str]]) -> ReportPart:
    from offchain.analytics.html import Section, table

    width = max((len(k) for k, _ in rows), default=0) + 2
    return ReportPart([f"{k:<{width}}{v}" for k, v in rows], [Section(title, table(rows, ["figure", "value"]))])


def run_part(ctx: RunContext) -> ReportPart:
    """Orders, fills, settlement, gas and latency of the run."""
    txs, settled, skipped, gas = ctx.devnet.settlement_gas()
    t = ctx.trader_stats
    rows = [("orders accepted", f"{t.accepted} (traders; runners' orders not counted)"),
            ("orders rejected", str(t.rejected))]
    rows += [(f"    {reason}", str(count)) for reason, count in
             sorted(t.reasons.items(), key=lambda kv: -kv[1])[:8]]
    rows += [
        ("fills (keeper)", fill_states(ctx.keeper_stats)),
        ("fills settled on chain", f"{settled}  skipped by the chain {skipped}"),
        ("settle batches (txs)", str(txs)),
        ("gas per settled fill", f"{gas // settled if settled else 0:,}"),
        ("ack latency p50/p99", f"{percentile(t.ack_ms, .5):.1f} / {percentile(t.ack_ms, .99):.1f} ms"),
        ("order-to-settlement p50/p99", f"{percentile(t.settle_ms, .5):.0f} / {percentile(t.settle_ms, .99):.0f} ms "
                                        f"({len(t.settle_ms)} crossing orders)"),
    ]
    part = _rows_part("Run", rows)
    part.lines = ["=" * 72, f"MMX devnet run: {ctx.duration:.0f} s", "=" * 72, *part.lines]
    return part


def equity_part(ctx: RunContext) -> ReportPart:
    d = ctx.devnet.deployment
    pool = ctx.devnet.contract("LiquidityPool", d.pool)
    locked, unlock_end = pool.functions.profit_unlock_schedule().call()
    rows = [("liquidity pool (assets, USDC)", usdc(pool.functions.totalAssets().call())),
            ("  LP token supply", f"{pool.functions.totalSupply().call():,}"),
            ("  pool fee income (USDC)", usdc(pool.functions.fee_income().call())),
            ("  profit still unlocking (USDC)", f"{usdc(locked)} until unix {unlock_end} "
                                                 f"(window {pool.functions.profit_unlock_time().call()} s)")]
    if ctx.devnet.vault:
        vault = ctx.devnet.contract("Vault", ctx.devnet.vault)
        rows.append(("vault (assets, USDC)", usdc(vault.functions.total_assets().call())))
    rows += [(f"trader {i + 1} (equity, USDC)", usdc(ctx.devnet.equity(address_of(k))))
             for i, k in enumerate(ctx.trader_keys)]
    return _rows_part("Equity", rows)


def analytics_part(ctx: RunContext) -> ReportPart:
    """Market quality, the pool, the vault, each trader, LPs and followers, funding slot;
    returns on a 1 s grid (a devnet run lasts minutes)."""
    from offchain.analytics.chain_report import SUMMARY_HEADER, chain_sections

    say("analytics: reading fills, marks and share prices from the chain ...")
    accounts = {f"trader {i + 1}": address_of(k) for i, k in enumerate(ctx.trader_keys)}
    sections, summary = chain_sections(ctx.devnet.w3, ctx.devnet.deployment, accounts,
                                       ctx.trader_stats.samples, bar="1s",
                                       market_names=dict(ctx.devnet.deployment.markets) or None)
    from offchain.analytics.html import Section, note
    from offchain.analytics.metrics import MIN_PERIODS, periods_per_year

    notes = [f"Returns on a 1 s grid; Sharpe annualised x{periods_per_year('1s') ** 0.5:,.0f} (sqrt of 1 s bars "
             f"a year), n/a below {MIN_PERIODS} periods: a figure from minutes of data, not a forecast.",
             f"Makers' defaults from a backtest (docs/backtest.md): pool grid {POOL_GRID_SPACING_BPS} bps per "
             f"step, vault quotes {VAULT_QUOTE_LEVELS} levels / {VAULT_QUOTE_SPREAD_BPS} bps spread; goal: "
             f"two-sided uptime >= 95% and the pool at the top of the book most of the time."]
    sections.insert(0, Section("How to read this report", "".join(note(n) for n in notes)))
    return ReportPart(_summary_lines(SUMMARY_HEADER, summary) + notes, sections)


def _summary_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """The short summary table, drawn by rich (captured, so it goes through say())."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="analytics summary (details in report.html)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console = Console(width=140, record=True, file=open(os.devnull, "w"))
    console.print(table)
    return console.export_text().rstrip("\n").splitlines()


def liquidation_part(ctx: RunContext) -> ReportPart:
    """Liquidations, backstop handovers and the runner's steps (docs/liquidation.md)."""
    from offchain.keeper.runners.liquidation_report import liquidation_rows

    url = f"sqlite:///{ctx.workdir / 'keeper.db'}"
    return _rows_part("Liquidations", liquidation_rows(ctx.devnet.w3, ctx.devnet.deployment, url))


# The report is these parts in order; add one to add a section (each gets the context).
REPORT_PARTS = [run_part, equity_part, liquidation_part, analytics_part]


def report(devnet: Devnet, keeper_stats: dict, trader_stats: TraderStats, duration: float,
           trader_keys: list[str], workdir: Path) -> Path | None:
    """Print every part and write them all into one self-contained workdir/report.html."""
    from offchain.analytics.html import HtmlReport

    ctx = RunContext(devnet, keeper_stats, trader_stats, duration, trader_keys, workdir)
    html = HtmlReport(f"MMX devnet run: {duration:.0f} s", f"run folder {workdir}")
    say("")
    for part_fn in REPORT_PARTS:
        try:
            part = part_fn(ctx)
        except Exception as exc:  # one part failing must never lose the others' figures
            say(f"{part_fn.__name__} unavailable: {exc!r}")
            continue
        for line in part.lines:
            say(line)
        say("")
        for section in part.sections:
            html.add(section)
    path = html.write(workdir / "report.html")
    say(f"report: {path}")
    say(f"keeper log: {workdir / 'keeper.log'}  journal: {workdir / 'keeper.db'}")
    return path


def run(duration: float = 60.0, traders: int = 4, workdir: Path | None = None) -> None:
    workdir = workdir or PROJECT_ROOT / "var" / time.strftime("run-%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    anvil = Anvil(accounts=FIRST_TRADER + traders, log_path=workdir / "anvil.log")
    keeper: KeeperProcess | None = None
    try:
        say("starting anvil ...")
        anvil.start()
        say(f"anvil on {anvil.url}")
        devnet = Devnet(anvil)
        d = devnet.deploy()
        say(f"deployed: exchange {d.exchange} pool {d.pool} factory {d.vault_factory}")
        trader_keys = devnet.keys[FIRST_TRADER:FIRST_TRADER + traders]
        for index in range(FIRST_TRADER, FIRST_TRADER + traders):
            devnet.fund_trader(index)
        say(f"funded {traders} traders with {usdc(TRADER_DEPOSIT)} USDC each on the Exchange")
        shares = devnet.pool_deposit()
        say(f"LP deposited {usdc(LP_DEPOSIT)} USDC into the pool for {shares:,} LP shares")
        vault = devnet.create_vault()
        say(f"vault {vault}: owner and follower deposited, quoting strategy set by the manager")
        keeper = KeeperProcess(devnet, workdir)
        keeper.start()
        say(f"keeper on {keeper.url} (oracle feed, pool grid and vault runners)")
        say(f"wallet app for LPs and vault followers on {keeper.url}/app/")
        say(f"trading for {duration:.0f} s ...")
        trader_stats = asyncio.run(drive_traders(keeper.url, trader_keys, duration, keeper, devnet))
        keeper_stats = wait_for_settlement(keeper)
        report(devnet, keeper_stats, trader_stats, duration, trader_keys, workdir)
    except KeyboardInterrupt:
        say("\ninterrupted: stopping the keeper and anvil")
    finally:
        if keeper is not None:
            keeper.stop()
        anvil.stop()


def main() -> None:
    """Console entry point `mmx-run` (DURATION and TRADERS from the environment)."""
    run(duration=float(os.environ.get("DURATION", 60)), traders=int(os.environ.get("TRADERS", 4)))
