"""x86 instructions per message of the matching engine, counted by valgrind's callgrind.

Wall-clock figures on this shared 2-core machine move by 10-20% between runs; instruction
counts do not, and they track time (docs/matching.md, "How it is measured"). This is how
each optimisation was judged. The count is a replay of the benchmark's stream minus the
same process without the replay loop, so start-up, imports and the stream's generation
cancel out. The cyclic GC is off in both runs so that the count does not depend on when
a collection happens to fall.

Run: .venv/bin/python bench/matching_instructions.py [messages] [--bands] [--lean]
Prints `matching_instr_per_msg: N` (`..._stp_bands`, or `lean_book_instr_per_msg`).
Needs valgrind; ~20 s per figure. Not part of `make bench`: valgrind is not a dependency.
"""
from __future__ import annotations

import gc
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
    engine = (bm.LeanBook if lean else bm.Engine)([bm.config(bands)])
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


def instructions(stream_file: str, bands: bool, lean: bool, run: bool) -> int:
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--child", stream_file, str(int(bands)), str(int(lean)),
            str(int(run))]
    done = subprocess.run(args, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


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
    seed_msgs, stream, _ = bm.generate(n, bands)
    with tempfile.TemporaryDirectory() as tmp:
        stream_file = str(Path(tmp) / "stream.pkl")
        with open(stream_file, "wb") as f:
            pickle.dump((seed_msgs, stream), f)
        per_msg = (instructions(stream_file, bands, lean, True)
                   - instructions(stream_file, bands, lean, False)) // n
    name = "lean_book_instr_per_msg" if lean else "matching_instr_per_msg"
    print(f"{name}{'_stp_bands' if bands else ''}: {per_msg}")


if __name__ == "__main__":
    main()
