"""A/B pairs of bench_e2e.py in one run: the keeper of git revision BASE (A) against this
tree's (B), alternating A, B, A, B ... on the same machine, so noise (the other load on
it) falls on both sides. The bench script is this tree's for both sides (same load, same
figures); only the `offchain` package (keeper, wire codec, journal) differs.

    python bench/ab_e2e.py BASE [PAIRS]     e.g. python bench/ab_e2e.py main 3

Env as bench_e2e.py (BENCH_ORDERS defaults to 2,000 here: the closed loop is a warm-up,
the open loop the figure); prints each run's figures and the per-pair medians as
`name: A -> B` lines.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("e2e_orders_accepted_per_s", "e2e_open_loop_acked_per_s", "e2e_open_loop_ack_p50_ms", "e2e_open_loop_ack_p99_ms",
           "e2e_keeper_cpu_us_per_order", "e2e_keeper_loop_cpu_us_per_order",
           "e2e_keeper_cpu_us_per_order_closed", "e2e_keeper_loop_cpu_us_per_order_closed",
           "e2e_journal_commit_p50_ms", "journal_fsync_p50_ms", "loop_cpu_s", "loop_runqueue_s")


def export(rev: str, into: Path) -> None:
    """`rev`'s tracked files in `into`, plus this tree's compiled contracts (.build)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    shutil.copytree(ROOT / ".build", into / ".build")


def run(tree: Path) -> dict[str, str]:
    env = os.environ | {"PYTHONPATH": str(tree)}
    env.setdefault("BENCH_ORDERS", "2000")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_e2e.py")], env=env, cwd=tree,
                         capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    found = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(\w+): (\S+)(.*)", line)
        if m:
            found[m.group(1)] = m.group(2)
        elif line.startswith("# keeper threads"):  # BENCH_STAGES=1: the loop thread's CPU and run-queue wait
            m = re.search(r"loop ([\d.]+)/([\d.]+)/", line)
            if m:
                found["loop_cpu_s"], found["loop_runqueue_s"] = m.group(1), m.group(2)
        elif line.startswith("# open loop"):
            found["open_loop"] = line[2:]
            acked = re.search(r"accepted \((\d+)/s\)", line)
            if acked:
                found["e2e_open_loop_acked_per_s"] = acked.group(1)
    found["load"] = f"{os.getloadavg()[0]:.1f}"
    return found


def main() -> None:
    base, pairs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        export(base, Path(tmp))
        for i in range(pairs):
            for side, tree in (("A", Path(tmp)), ("B", ROOT)):
                figures = run(tree)
                runs[side].append(figures)
                print(f"# pair {i + 1} {side}: load {figures['load']}; "
                      + ", ".join(f"{k.removeprefix('e2e_')} {figures.get(k, '-')}" for k in FIGURES), flush=True)
    for name in FIGURES:
        a = [float(r[name]) for r in runs["A"] if name in r]
        b = [float(r[name]) for r in runs["B"] if name in r]
        if a and b:
            print(f"{name}: {statistics.median(a):.1f} -> {statistics.median(b):.1f}  # A {base}, B this tree; "
                  f"median of {len(a)} / {len(b)} runs")


if __name__ == "__main__":
    main()
