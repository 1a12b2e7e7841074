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


def _peer_end_state(bench, book_class, seed, stream) -> int:
    book = book_class([bench.config(False)])
    for _, cmd, *_ in seed:
        book.place(cmd)
    for msg in stream:
        if msg[0] == bench.PLACE_CMD:
            book.place(msg[1])
        elif msg[0] == bench.CANCEL_CMD:
            book.cancel(msg[1], msg[2])
    return len(book.orders) if book_class is bench.LeanBook else book.resting()


def test_bench__comparison_books__end_in_the_same_book_as_the_engine():
    """The peers (C++ via ctypes, nautilus's Rust book) replay the same plain stream to
    the same number of resting orders as the engine and the lean book: the comparison
    measures the same work. A peer that cannot run here (no compiler, no nautilus) is
    left out, as the bench leaves it out."""
    import pytest

    spec = importlib.util.spec_from_file_location("bench_matching", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seed, stream, stats = bench.generate(6_000, False)
    peers = [p for p in (bench.CppLob, bench.CppLobTyped, bench.NautilusBook) if p.available() is None]
    if not peers:
        pytest.skip("no comparison peer available")
    expected = stats["resting_orders"]
    assert _peer_end_state(bench, bench.LeanBook, seed, stream) == expected
    for peer in peers:
        assert _peer_end_state(bench, peer, seed, stream) == expected, peer.__name__


def test_bench__interpreted_copy__same_events_as_the_loaded_build():
    """The bench measures the interpreted build beside the compiled one: a second copy of
    the package that shares the API's types, so it takes the same Place commands and
    answers them with the same events (a copy with its own Place would reject them all)."""
    import pytest

    spec = importlib.util.spec_from_file_location("bench_matching", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    other = bench.interpreted_engine_class()
    if other is None:
        pytest.skip("this process runs the interpreted build: there is no second copy")
    seed, stream, _ = bench.generate(3_000, True)
    answers = []
    for engine_class in (bench.Engine, other):
        engine = engine_class([bench.config(True)])
        out = []
        for kind, a, *rest in [*seed, *stream]:
            out += (engine.place(a) if kind == bench.PLACE_CMD
                    else engine.cancel(a, rest[0]) if kind == bench.CANCEL_CMD
                    else engine.set_mark(bench.MARKET, a, rest[0]))
        answers.append(out)
    assert sum(type(e).__name__ == "Fill" for e in answers[0]) > 100
    assert answers[0] == answers[1]
