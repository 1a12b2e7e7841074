"""The benchmark's stream generator and replay still work against the engine's API."""
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "bench_matching.py"


def test_bench__small_stream__replays_and_reports_a_rate():
    spec = importlib.util.spec_from_file_location("bench_matching", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for bands in (False, True):
        seed, stream, stats = bench.generate(3_000, bands)
        assert stats["resting_orders"] > 1_000
        assert bench.replay(bands, seed, stream) > 0
        assert bench.replay(bands, seed, stream, bench.LeanBook) > 0
