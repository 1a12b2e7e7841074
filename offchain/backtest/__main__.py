"""CLI: python -m offchain.backtest [options]  (`make backtest`)

Replays a price path (generated GBM with jumps, or --csv) with synthetic order flow
through the keeper's matching core and the pool's grid / vault's quote engines, prints a
summary table and writes one self-contained HTML report. --sweep runs a grid of pool
spacings x vault spreads on the same path and flow and prints the comparison table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from offchain.backtest.flow import FlowConfig
from offchain.backtest.paths import USDC, GbmConfig, csv_path, gbm_path
from offchain.backtest.report import backtest_report, config_rows, figure_rows, figures, sweep_rows
from offchain.backtest.sim import BacktestConfig, PoolGrid, VaultQuotes, run_backtest


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m offchain.backtest", description=__doc__.splitlines()[0])
    g = p.add_argument_group("path")
    g.add_argument("--csv", help="CSV price path (header ts,price) instead of a generated one")
    g.add_argument("--seconds", type=int, default=3_600, help="generated path length (default 3600)")
    g.add_argument("--seed", type=int, default=1, help="path seed (default 1)")
    g.add_argument("--start-price", type=int, default=2_000, help="whole USDC (default 2000)")
    g.add_argument("--vol-bps", type=int, default=8_000, help="annual volatility in bps (default 8000 = 80%%)")
    g.add_argument("--jumps-per-day", type=float, default=4.0)
    g.add_argument("--jump-bps", type=int, default=100)
    g = p.add_argument_group("flow")
    g.add_argument("--events-per-s", type=float, default=10.0)
    g.add_argument("--informed-bps", type=int, default=500, help="share of informed events (bps)")
    g.add_argument("--edge-bps", type=int, default=2, help="informed traders' minimum edge")
    g.add_argument("--horizon-s", type=int, default=10, help="how far ahead informed traders see")
    g.add_argument("--taker-bps", type=int, default=3_000, help="share of noise events that cross")
    g.add_argument("--flow-seed", type=int, default=2)
    g = p.add_argument_group("makers")
    g.add_argument("--pool-levels", type=int, default=PoolGrid().levels)
    g.add_argument("--pool-spacing-bps", type=int, default=PoolGrid().spacing_bps)
    g.add_argument("--pool-size", type=float, default=PoolGrid().size_per_level / 1e18, help="base units per level")
    g.add_argument("--vault-levels", type=int, default=VaultQuotes().levels)
    g.add_argument("--vault-spread-bps", type=int, default=VaultQuotes().spread_bps)
    g.add_argument("--vault-size", type=float, default=VaultQuotes().size_per_level / 1e18)
    g.add_argument("--no-pool", action="store_true")
    g.add_argument("--no-vault", action="store_true")
    g = p.add_argument_group("output")
    g.add_argument("--out", default="var/backtest/report.html", help="HTML report path")
    g.add_argument("--bar", help="return sampling grid (pandas offset; default 1s under 2 h, else 1min)")
    g.add_argument("--sample-ms", type=int, default=1_000, help="book sampling period for market quality")
    g.add_argument("--sweep", action="store_true", help="sweep pool spacing x vault spread")
    g.add_argument("--sweep-pool-bps", default="5,10,20,30")
    g.add_argument("--sweep-vault-bps", default="10,20,40")
    g.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p


def build(args: argparse.Namespace) -> tuple[BacktestConfig, object]:
    from offchain.backtest.sim import MarketSpec

    market = MarketSpec()
    if args.csv:
        path = csv_path(args.csv, market.tick)
    else:
        path = gbm_path(GbmConfig(seconds=args.seconds, start_price=args.start_price * USDC, vol_bps=args.vol_bps,
                                  jumps_per_day=args.jumps_per_day, jump_bps=args.jump_bps, seed=args.seed),
                        market.tick)
    flow = FlowConfig(events_per_s=args.events_per_s, informed_bps=args.informed_bps, edge_bps=args.edge_bps,
                      horizon_s=args.horizon_s, taker_bps=args.taker_bps, seed=args.flow_seed)
    pool = None if args.no_pool else PoolGrid(args.pool_levels, args.pool_spacing_bps, int(round(args.pool_size * 1e18)))
    vault = None if args.no_vault else VaultQuotes(args.vault_levels, args.vault_spread_bps,
                                                   int(round(args.vault_size * 1e18)))
    return BacktestConfig(market=market, pool=pool, vault=vault, flow=flow, sample_ms=args.sample_ms), path


def _print_table(title: str, header: list[str], rows: list[tuple[str, ...]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is pinned; plain text if an environment lacks it
        print(title)
        print(" | ".join(header))
        for row in rows:
            print(" | ".join(row))
        return
    t = Table(title=title)
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        t.add_row(*row)
    Console(width=max(120, len(header) * 14)).print(t)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg, path = build(args)
    started = time.monotonic()
    sweep_header, sweep_table = None, None
    if args.sweep:
        variants = []
        for pool_bps in [int(x) for x in args.sweep_pool_bps.split(",") if x]:
            for vault_bps in [int(x) for x in args.sweep_vault_bps.split(",") if x]:
                c = cfg
                if c.pool is not None:
                    c = dataclasses.replace(c, pool=dataclasses.replace(c.pool, spacing_bps=pool_bps))
                if c.vault is not None:
                    c = dataclasses.replace(c, vault=dataclasses.replace(c.vault, spread_bps=vault_bps))
                variants.append((f"pool {pool_bps} bps / vault {vault_bps} bps", c))
        total = len(variants)
        done = [0]

        def tick(label: str) -> None:
            done[0] += 1
            print(f"[sweep {done[0]}/{total}] {label} ({time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)

        sweep_header, sweep_table, _ = sweep_rows(cfg, path, variants, tick)  # type: ignore[arg-type]
        _print_table("sweep (same path, same flow)", sweep_header, sweep_table)

    def progress(i: int, n: int) -> None:
        print(f"[backtest] {i:,}/{n:,} marks ({time.monotonic() - started:.1f} s)", file=sys.stderr, flush=True)

    result = run_backtest(cfg, path, progress=progress)  # type: ignore[arg-type]
    fig = figures(result)
    if args.json:
        print(json.dumps(fig.as_dict(), indent=1))
    else:
        _print_table("backtest", ["setting / figure", "value"], [*config_rows(cfg, path), *figure_rows(fig)])  # type: ignore[arg-type]
    report = backtest_report(result, bar=args.bar, sweep=sweep_table, sweep_header=sweep_header or ())
    out = report.write(Path(args.out))
    print(f"report: {out.resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
