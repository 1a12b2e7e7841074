"""Backtester throughput: a day of 1-second marks with 1M order-flow events.

Prints `name: value` lines. The goal (issue 18): the whole day in under a minute. The
flow is the default mix (noise makers / takers, 5% informed); both default makers (the
pool's grid, the vault's quotes) step on every mark and after each of their fills, as
the keeper's runners do. BENCH_BACKTEST_SECONDS shortens the day for a quick look.
"""

from __future__ import annotations

import os
import time

from offchain.backtest import BacktestConfig, FlowConfig, GbmConfig, gbm_path, generate_flow, run_backtest

SECONDS = int(os.environ.get("BENCH_BACKTEST_SECONDS", 86_400))
EVENTS = 1_000_000 * SECONDS // 86_400
SAMPLE_MS = 10_000  # market-quality book samples every 10 s (8,640 a day)


def main() -> None:
    cfg = BacktestConfig(flow=FlowConfig(events_per_s=EVENTS / SECONDS), sample_ms=SAMPLE_MS)
    t0 = time.perf_counter()
    path = gbm_path(GbmConfig(seconds=SECONDS, seed=1), cfg.market.tick)
    flow = generate_flow(cfg.flow, path.ts[0], path.ts[-1])
    t1 = time.perf_counter()
    c1 = time.process_time()
    result = run_backtest(cfg, path, flow)
    t2 = time.perf_counter()
    c2 = time.process_time()
    quality = result.quality()
    t3 = time.perf_counter()
    events = result.counters["events"]
    print(f"backtest_marks: {len(path)}")
    print(f"backtest_events: {events}")
    print(f"backtest_trades: {len(result.trades)}")
    print(f"backtest_maker_steps: {result.counters['maker_steps']}")
    print(f"backtest_sample_ms: {SAMPLE_MS}")
    print(f"backtest_generate_s: {t1 - t0:.2f}")
    print(f"backtest_run_s: {t2 - t1:.2f}")
    # CPU time of the run: on a shared machine the wall time above includes waiting for a core
    print(f"backtest_run_cpu_s: {c2 - c1:.2f}")
    print(f"backtest_quality_s: {t3 - t2:.2f}")
    print(f"backtest_total_s: {t3 - t0:.2f}")
    print(f"backtest_events_per_s: {events / (t2 - t1):.0f}")
    print(f"backtest_events_per_cpu_s: {events / (c2 - c1):.0f}")
    print(f"backtest_pool_uptime: {quality.participants['pool'].two_sided_uptime:.4f}")


if __name__ == "__main__":
    main()
