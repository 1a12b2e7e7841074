"""x86 instructions per message of the matching engine, counted by valgrind's callgrind.

Wall-clock figures on this shared 2-core machine move by 10-20% between runs; instruction
counts do not, and they track time (docs/matching.md, "How it is measured"). This is how
each optimisation was judged. The count is a replay of the benchmark's stream minus the
same process without the replay loop, so start-up, imports and the stream's generation
cancel out. The cyclic GC is off in both runs so that the count does not depend on when
a collection happens to fall.

Run: .venv/bin/python bench/matching_instructions.py [messages] [--bands] [--lean]
        [--engine=PACKAGE] [--annotate=FILE]
Prints `matching_instr_per_msg: N` (`..._stp_bands`, or `lean_book_instr_per_msg`).
`--engine=PACKAGE` counts another importable copy's Engine (PACKAGE.Engine; an A/B of two
builds); `--annotate=FILE` writes callgrind_annotate's per-function counts of the replay.
Needs valgrind; ~20 s per figure. Not part of `make bench`: valgrind is not a dependency.
"""
from __future__ import annotations

import gc
import importlib
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import bench_matching as bm  # this script's folder is on sys.path (run as a script)


def child(stream_file: str, bands: bool, lean: bool, run: bool) -> None:
    with open(stream_file, "rb") as f:
        seed_msgs, stream = pickle.load(f)
    other = os.environ.get("MMX_BENCH_ENGINE")
    engine_class = (bm.LeanBook if lean else
                    importlib.import_module(other).Engine if other else bm.Engine)
    engine = engine_class([bm.config(bands)])
    for kind, a, *rest in seed_msgs:
        engine.place(a) if kind == bm.PLACE_CMD else engine.set_mark(bm.MARKET, a, rest[0])
    calls = [
        partial(engine.place, msg[1]) if msg[0] == bm.PLACE_CMD
        else partial(engine.cancel, msg[1], msg[2]) if msg[0] == bm.CANCEL_CMD
        else partial(engine.set_mark, bm.MARKET, msg[1], msg[2])
        for msg in stream
    ]
    gc.collect()
    gc.disable()
    if run:
        for call in calls:
            call()


def instructions(stream_file: str, bands: bool, lean: bool, run: bool,
                 out_file: str = "/dev/null") -> int:
    args = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
            sys.executable, __file__, "--child", stream_file, str(int(bands)), str(int(lean)),
            str(int(run))]
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_function(out_file: str) -> dict[str, int]:
    """Exclusive instruction counts by function from a callgrind output file."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", "--tree=none",
                           out_file], capture_output=True, text=True, check=True).stdout
    counts: dict[str, int] = {}
    for line in text.splitlines():
        found = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)$", line)
        if found and "PROGRAM TOTALS" not in line:
            name = re.sub(r"^.*/", "", found.group(2).split(" [")[0])
            counts[name] = counts.get(name, 0) + int(found.group(1).replace(",", ""))
    return counts


def write_profile(path: str, run: dict[str, int], base: dict[str, int], n: int) -> None:
    """Per-message instructions by function: the replay's run minus the run without it."""
    diff = {k: (run.get(k, 0) - base.get(k, 0)) / n for k in run.keys() | base.keys()}
    with open(path, "w") as f:
        for name, per in sorted(diff.items(), key=lambda x: -x[1]):
            if abs(per) >= 1:
                f.write(f"{per:9.1f}  {name}\n")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        stream_file, bands, lean, run = sys.argv[2:6]
        child(stream_file, bands == "1", lean == "1", run == "1")
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    numbers = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(numbers[0]) if numbers else 40_000
    bands, lean = "--bands" in flags, "--lean" in flags
    options = dict(a[2:].split("=", 1) for a in flags if "=" in a)
    if "engine" in options:
        os.environ["MMX_BENCH_ENGINE"] = options["engine"]
    seed_msgs, stream, _ = bm.generate(n, bands)
    with tempfile.TemporaryDirectory() as tmp:
        stream_file = str(Path(tmp) / "stream.pkl")
        with open(stream_file, "wb") as f:
            pickle.dump((seed_msgs, stream), f)
        outs = [str(Path(tmp) / f"callgrind.{run}") for run in (1, 0)]
        per_msg = (instructions(stream_file, bands, lean, True, outs[0])
                   - instructions(stream_file, bands, lean, False, outs[1])) // n
        if "annotate" in options:
            write_profile(options["annotate"], *(per_function(o) for o in outs), n)
    name = "lean_book_instr_per_msg" if lean else "matching_instr_per_msg"
    print(f"{name}{'_stp_bands' if bands else ''}: {per_msg}")


if __name__ == "__main__":
    main()
