"""Figures and the HTML report of a backtest (the same sections as the `make run` report)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from offchain.analytics.html import HtmlReport, note, performance_section, quality_section, table
from offchain.analytics.metrics import PerformanceReport, analyze
from offchain.analytics.quality import MarketQuality
from offchain.analytics.report import usdc

from .sim import BacktestConfig, BacktestResult, run_backtest
from .paths import PricePath


def default_bar(result: BacktestResult) -> str:
    span_s = (result.path.ts[-1] - result.path.ts[0]) / 1000
    return "1s" if span_s < 2 * 3600 else "1min"


def performance(result: BacktestResult, name: str, bar: str | None = None) -> PerformanceReport:
    capital = {"pool": result.config.pool, "vault": result.config.vault}[name]
    return analyze(result.maker_fills[name], result.marks, entity=name, kind="account",
                   initial_equity=capital.capital, bar=bar or default_bar(result))  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Figures:
    """The headline figures of one run (what a sweep compares; same seed, same figures)."""

    trades: int
    volume: int  # USDC units
    spread_bps: float | None
    pool_pnl: int  # trading PnL incl. rebates, at the last mark (USDC units)
    pool_fee_income: int  # the pool's share of net fees on all trades
    pool_total: int  # pnl + fee income
    pool_uptime: float
    pool_top_share: float  # mean of top-bid and top-ask time shares
    pool_markout_bps: float | None
    pool_maker_share: float
    vault_pnl: int
    vault_uptime: float
    vault_top_share: float
    vault_markout_bps: float | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def figures(result: BacktestResult, quality: MarketQuality | None = None) -> Figures:
    q = quality or result.quality()
    pool = q.participants.get("pool")
    vault = q.participants.get("vault")
    has_pool = "pool" in result.maker_fills
    has_vault = "vault" in result.maker_fills
    pool_pnl = result.pnl("pool") if has_pool else 0
    return Figures(
        trades=q.trades, volume=q.volume, spread_bps=q.time_weighted_spread_bps,
        pool_pnl=pool_pnl, pool_fee_income=result.pool_fee_income, pool_total=pool_pnl + result.pool_fee_income,
        pool_uptime=pool.two_sided_uptime if pool else 0.0,
        pool_top_share=(pool.top_bid_share + pool.top_ask_share) / 2 if pool else 0.0,
        pool_markout_bps=pool.markout_bps if pool else None, pool_maker_share=pool.maker_share if pool else 0.0,
        vault_pnl=result.pnl("vault") if has_vault else 0,
        vault_uptime=vault.two_sided_uptime if vault else 0.0,
        vault_top_share=(vault.top_bid_share + vault.top_ask_share) / 2 if vault else 0.0,
        vault_markout_bps=vault.markout_bps if vault else None,
    )


def config_rows(cfg: BacktestConfig, path: PricePath) -> list[tuple[str, str]]:
    f = cfg.flow
    rows = [
        ("path", f"{len(path):,} marks, {(path.ts[-1] - path.ts[0]) / 1000:,.0f} s, "
                 f"{usdc(path.prices[0])} -> {usdc(path.prices[-1])} USDC"),
        ("flow", f"{f.events_per_s:g} events/s, informed {f.informed_bps / 100:g}% (horizon {f.horizon_s} s, "
                 f"edge {f.edge_bps} bps), noise takers {f.taker_bps / 100:g}% of noise, seed {f.seed}"),
        ("market", f"{cfg.market.market}: tick {cfg.market.tick}, lot {cfg.market.lot}"),
        ("fees", f"taker {cfg.fees.taker_fee_bps} bps, maker rebate {cfg.fees.maker_rebate_bps} bps, "
                 f"pool share {cfg.fees.pool_fee_share_bps / 100:g}%"),
    ]
    if cfg.pool is not None:
        p = cfg.pool
        rows.append(("pool grid", f"{p.levels} levels/side, {p.spacing_bps} bps, size {p.size_per_level / 1e18:g}, "
                                  f"capital {usdc(p.capital)}"))
    if cfg.vault is not None:
        v = cfg.vault
        rows.append(("vault quotes", f"{v.levels} levels, spread {v.spread_bps} bps, size {v.size_per_level / 1e18:g}, "
                                     f"capital {usdc(v.capital)}"))
    return rows


def figure_rows(fig: Figures) -> list[tuple[str, str]]:
    def pct(x: float) -> str:
        return f"{x * 100:.1f}%"

    def b(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f} bps"

    return [
        ("trades / volume (USDC)", f"{fig.trades:,} / {usdc(fig.volume)}"),
        ("time-weighted spread", b(fig.spread_bps)),
        ("pool trading PnL (USDC)", usdc(fig.pool_pnl)),
        ("pool fee share (USDC)", usdc(fig.pool_fee_income)),
        ("pool total (USDC)", usdc(fig.pool_total)),
        ("pool two-sided uptime", pct(fig.pool_uptime)),
        ("pool at top of book (mean of sides)", pct(fig.pool_top_share)),
        ("pool maker share of volume", pct(fig.pool_maker_share)),
        ("pool markout", b(fig.pool_markout_bps)),
        ("vault trading PnL (USDC)", usdc(fig.vault_pnl)),
        ("vault two-sided uptime", pct(fig.vault_uptime)),
        ("vault at top of book (mean of sides)", pct(fig.vault_top_share)),
        ("vault markout", b(fig.vault_markout_bps)),
    ]


def backtest_report(result: BacktestResult, *, title: str = "MMX backtest", bar: str | None = None,
                    sweep: Sequence[tuple[str, ...]] | None = None, sweep_header: Sequence[str] = ()) -> HtmlReport:
    q = result.quality()
    fig = figures(result, q)
    report = HtmlReport(title, "Same matching core and strategy engines as the keeper; no chain. "
                               "Same seed, same fills.")
    from offchain.analytics.html import Section

    report.add(Section("Run", table(config_rows(result.config, result.path), ["setting", "value"])
                       + table(figure_rows(fig), ["figure", "value"])
                       + table(sorted(result.counters.items()), ["counter", "count"])))
    if sweep:
        report.add(Section("Parameter sweep", table(sweep, sweep_header)
                           + note("Pool total = trading PnL at the last mark (after adverse selection and "
                                  "rebates) + the pool's share of net fees.")))
    report.add(quality_section(f"Market quality: market {result.config.market.market}", q, result.samples,
                               result.trades, notes=[f"Markout: mark {q.horizon_s:g} s after each maker fill, "
                                                     "signed for the maker (negative = adverse selection)."]))
    for name in result.maker_fills:
        report.add(performance_section(name, performance(result, name, bar)))
    return report


def sweep_rows(base: BacktestConfig, path: PricePath, variants: Iterable[tuple[str, BacktestConfig]],
               progress: Any = None) -> tuple[list[str], list[tuple[str, ...]], list[tuple[str, BacktestConfig, Figures]]]:
    header = ["variant", "pool total (USDC)", "pool PnL", "fee share", "pool markout bps", "pool uptime",
              "pool top", "vault PnL", "vault uptime", "vault top", "spread bps", "trades"]
    rows, raw = [], []
    from .flow import generate_flow

    flow = generate_flow(base.flow, path.ts[0], path.ts[-1])  # one flow for every variant
    for label, cfg in variants:
        result = run_backtest(cfg, path, flow)
        f = figures(result)
        raw.append((label, cfg, f))
        rows.append((label, usdc(f.pool_total), usdc(f.pool_pnl), usdc(f.pool_fee_income),
                     "n/a" if f.pool_markout_bps is None else f"{f.pool_markout_bps:.2f}",
                     f"{f.pool_uptime * 100:.1f}%", f"{f.pool_top_share * 100:.1f}%", usdc(f.vault_pnl),
                     f"{f.vault_uptime * 100:.1f}%", f"{f.vault_top_share * 100:.1f}%",
                     "n/a" if f.spread_bps is None else f"{f.spread_bps:.2f}", f"{f.trades:,}"))
        if progress is not None:
            progress(label)
    return header, rows, raw


__all__ = ["Figures", "backtest_report", "config_rows", "default_bar", "figure_rows", "figures", "performance",
           "sweep_rows"]
