"""Matching core throughput on the mixed stream of a busy market.

After seeding a few thousand resting orders: ~55% limit orders around a random-walking
mid (~15% of them crossing), ~35% cancels of random live orders, ~10% market orders.
The stream is generated once (driving an engine to know which orders are live), then
replayed against fresh engines; only the replay is timed, in this thread's CPU time (a
shared machine's other jobs do not count). Prints `name: value` lines.

With the compiled build loaded (offchain.matching.IMPLEMENTATION), the interpreted build
is loaded beside it from the same .py files under another package name and measured in
the same rounds: `matching_*` is the loaded build, `matching_interpreted_*` the other.

Run: .venv/bin/python bench/bench_matching.py [messages] [rounds]   (default 300,000 x 5)
"""
from __future__ import annotations

import bisect
import gc
import importlib.util
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import offchain.matching as matching
from offchain.matching import Cancelled, Engine, Fill, MarketConfig, OrderKind, Place

# the peers sit beside this file; the smoke test loads this file by its path, so the
# folder is not on sys.path there (run as a script it is)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from matching_peers import CppLob, CppLobTyped, NautilusBook  # noqa: E402

MARKET = 1
TICK = 10_000               # 0.01 USDC
LOT = 10**15                # 0.001 base unit
MID0 = 2_000 * 10**6        # 2000 USDC
SEED_ORDERS = 3_000
TARGET_RESTING = 3_500      # market-order size leans against drift away from this
LEVELS = 45                 # passive quotes up to this many ticks from the mid
PLACE_CMD, CANCEL_CMD, MARK_CMD = 0, 1, 2
INF = 1 << 256


INTERPRETED_PKG = "_matching_interpreted"


class _SourcesAs:
    """Finder for a second copy of offchain/matching/ under another package name, every
    module from its .py file: the interpreted build beside the compiled one in this
    process, so that both are measured in the same rounds."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != INTERPRETED_PKG:
            return None
        return importlib.util.spec_from_file_location(
            fullname, Path(matching.__file__).with_name(f"{name}.py"))


def interpreted_engine_class():
    """The interpreted build's Engine while this process runs the compiled one (None when
    it runs the interpreted one already)."""
    if matching.IMPLEMENTATION != "compiled":
        return None
    sys.meta_path.insert(0, _SourcesAs)
    init = Path(matching.__file__)
    spec = importlib.util.spec_from_file_location(INTERPRETED_PKG, init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[INTERPRETED_PKG] = module
    # the API's values (types.py, events.py: never compiled) are shared: the copy must take
    # the same Place, MarketConfig and event classes as the compiled build (its place()
    # accepts only a Place; anything else is Rejected)
    for shared in ("types", "events"):
        sys.modules[f"{INTERPRETED_PKG}.{shared}"] = sys.modules[f"offchain.matching.{shared}"]
    spec.loader.exec_module(module)
    engine_class = module.Engine
    assert sys.modules[f"{INTERPRETED_PKG}.engine"].__file__.endswith(".py")
    return engine_class


def config(bands: bool) -> MarketConfig:
    return MarketConfig(MARKET, tick=TICK, lot=LOT, min_size=LOT, max_size=10**24,
                        max_notional=10**15, band_bps=500 if bands else 0)


def generate(n: int, bands: bool, seed: int = 7) -> tuple[list, list]:
    """(seed commands, timed stream, end stats). 2,000 accounts share the plain flow; with
    `bands` only 40 do, so that self trades are frequent and STP really runs."""
    rng = random.Random(seed)
    engine = Engine([config(bands)])
    live: list = []           # live order ids, with swap-remove via index
    index: dict = {}
    accounts = [f"0x{i:040x}" for i in range(40 if bands else 2_000)]
    mid = MID0
    next_id = 0

    def add_live(oid):
        index[oid] = len(live)
        live.append(oid)

    def drop_live(oid):
        i = index.pop(oid, None)
        if i is None:
            return
        last = live.pop()
        if i < len(live):
            live[i] = last
            index[last] = i

    def run(msg):
        if msg[0] == PLACE_CMD:
            events = engine.place(msg[1])
            cmd = msg[1]
            if engine.get_order(cmd.id) is not None:
                add_live(cmd.id)
        elif msg[0] == CANCEL_CMD:
            events = engine.cancel(msg[1], msg[2])
        else:
            events = engine.set_mark(MARKET, msg[1], msg[2])
        for e in events:
            if e.__class__ is Fill and e.maker_remaining == 0:
                drop_live(e.maker_id)
            elif e.__class__ is Cancelled and e.remaining == 0:
                drop_live(e.order_id)

    def limit(ts, crossing):
        nonlocal next_id
        next_id += 1
        is_buy = rng.random() < 0.5
        best_bid, best_ask = engine.best_bid(MARKET), engine.best_ask(MARKET)
        if crossing:  # through the touch by 0-2 ticks
            if is_buy:
                price = (best_ask or mid) + rng.randint(0, 2) * TICK
            else:
                price = (best_bid or mid) - rng.randint(0, 2) * TICK
        else:         # passive, 1-65 ticks from the mid, never through the touch
            off = 1 + min(int(rng.expovariate(1 / 14)), LEVELS - 1)
            if is_buy:
                price = min(mid - off * TICK, (best_ask or INF) - TICK)
            else:
                price = max(mid + off * TICK, (best_bid or 0) + TICK)
        return (PLACE_CMD, Place(next_id, rng.choice(accounts), MARKET, is_buy,
                                 rng.randint(1, 20) * LOT, price, ts))

    seed_msgs = []
    if bands:
        seed_msgs.append((MARK_CMD, mid, 0))
    for ts in range(SEED_ORDERS):
        seed_msgs.append(limit(ts, False))
    for m in seed_msgs:
        run(m)
    stream = []
    ts = SEED_ORDERS
    for _ in range(n):
        ts += 1
        if rng.random() < 0.03:
            mid += TICK if rng.random() < 0.5 else -TICK
        r = rng.random()
        if r < 0.55:
            msg = limit(ts, rng.random() < 0.15)
        elif r < 0.90 and live:
            msg = (CANCEL_CMD, live[rng.randrange(len(live))], ts)
        elif bands and r < 0.901:
            msg = (MARK_CMD, mid, ts)
        else:
            next_id += 1
            lots = rng.randint(1, 60 if len(live) > TARGET_RESTING else 4)
            msg = (PLACE_CMD, Place(next_id, rng.choice(accounts), MARKET, rng.random() < 0.5,
                                    lots * LOT, 0, ts, OrderKind.MARKET,
                                    slippage_bps=100))
        stream.append(msg)
        run(msg)
    stats = {
        "resting_orders": len(engine._orders),
        "levels_bid": len(engine._books[MARKET].bid_prices),
        "levels_ask": len(engine._books[MARKET].ask_keys),
    }
    return seed_msgs, stream, stats


def replay(bands: bool, seed_msgs: list, stream: list, engine_class=None) -> float:
    """Messages per second of one fresh engine over `stream` (after the untimed seed).
    Each message becomes a bound call first (functools.partial), so the timed loop costs
    the engine's work plus one C-level call, not the driver's tuple unpacking. A
    comparison book may bind its own calls (`bind_place` / `bind_cancel`: the C++ book
    takes plain ints, nautilus its own order objects, built here, untimed, as a Place is)."""
    engine = (engine_class or Engine)([config(bands)])
    for kind, a, *rest in seed_msgs:
        engine.place(a) if kind == PLACE_CMD else engine.set_mark(MARKET, a, rest[0])
    bind_place = getattr(engine, "bind_place", None) or (lambda c: partial(engine.place, c))
    bind_cancel = getattr(engine, "bind_cancel", None) or (
        lambda oid, ts: partial(engine.cancel, oid, ts))
    calls = [
        bind_place(msg[1]) if msg[0] == PLACE_CMD
        else bind_cancel(msg[1], msg[2]) if msg[0] == CANCEL_CMD
        else partial(engine.set_mark, MARKET, msg[1], msg[2])
        for msg in stream
    ]
    gc.collect()
    # CPU time of this thread, not wall time: on the shared 2-core machine a replay is
    # descheduled for other jobs' slices, which wall time charges to whichever book was
    # running (every book here runs in this thread: the engine, nautilus through pyo3,
    # the C++ book through ctypes)
    start = time.thread_time()
    for call in calls:
        call()
    return len(calls) / (time.thread_time() - start)


class LeanBook:
    """Calibration only, not the product: a lean book of the kind the issue quotes (~1.9M
    msgs/s "here"): a dict of deques per side, lists [id, size] as orders, lazy cancel,
    no checks, no events, no account index. Its rate on the same stream, in the same run,
    says how fast this machine is right now (other jobs share the cores)."""

    def __init__(self, _configs) -> None:
        from collections import deque
        self.deque = deque
        self.bids: dict = {}
        self.asks: dict = {}
        self.bid_keys: list = []   # ascending prices: best bid last
        self.ask_keys: list = []   # ascending negated prices: best ask last
        self.orders: dict = {}

    def place(self, c):
        # The two sides written out, as a lean book would be: no sign arithmetic per level.
        size, price = c.size, c.price
        if c.is_buy:
            if c.kind:
                price = INF
            keys, levels = self.ask_keys, self.asks
            while keys:
                p = -keys[-1]
                if p > price:
                    break
                size = self._take(levels[p], size)
                if not levels[p]:
                    del levels[p]
                    keys.pop()
                if not size:
                    return
            if c.kind:
                return
            q = self.bids.get(price)
            if q is None:
                q = self.bids[price] = self.deque()
                bisect.insort(self.bid_keys, price)
        else:
            if c.kind:
                price = 0
            keys, levels = self.bid_keys, self.bids
            while keys:
                p = keys[-1]
                if p < price:
                    break
                size = self._take(levels[p], size)
                if not levels[p]:
                    del levels[p]
                    keys.pop()
                if not size:
                    return
            if c.kind:
                return
            q = self.asks.get(price)
            if q is None:
                q = self.asks[price] = self.deque()
                bisect.insort(self.ask_keys, -price)
        o = [c.id, size]
        q.append(o)
        self.orders[c.id] = o

    def _take(self, q, size):
        while q:
            m = q[0]
            ms = m[1]
            if ms <= size:
                q.popleft()
                size -= ms
                if ms:
                    del self.orders[m[0]]
                if not size:
                    break
            else:
                m[1] = ms - size
                return 0
        return size

    def cancel(self, oid, ts):
        o = self.orders.pop(oid, None)
        if o is not None:
            o[1] = 0

    def set_mark(self, market, price, ts):
        return None


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    runs = {
        "matching_msgs_per_s": (False, Engine),
        "matching_msgs_per_s_stp_bands": (True, Engine),
        "lean_book_msgs_per_s": (False, LeanBook),
    }
    print(f"# matching_msgs_per_s: the {matching.IMPLEMENTATION} build")
    interpreted = interpreted_engine_class()
    if interpreted is not None:
        runs["matching_interpreted_msgs_per_s"] = (False, interpreted)
        runs["matching_interpreted_msgs_per_s_stp_bands"] = (True, interpreted)
    peers = {"nautilus_book_msgs_per_s": NautilusBook, "cpp_lob_ctypes_msgs_per_s": CppLob,
             "cpp_lob_ctypes_argtypes_msgs_per_s": CppLobTyped}
    for name, peer in peers.items():
        why = peer.available()
        if why is None:
            runs[name] = (False, peer)
        else:
            print(f"# {name}: skipped: {why}")
    streams = {bands: generate(n, bands) for bands in (False, True)}
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rates: dict[str, list[float]] = {name: [] for name in runs}
    # Interleaved rounds: the cores are shared, and a burst of someone else's work then
    # slows one round of every book instead of all rounds of one. Rates: best round;
    # ratios: the median of the per-round ratios (each pair measured side by side).
    for _ in range(rounds):
        for name, (bands, engine_class) in runs.items():
            seed_msgs, stream, _ = streams[bands]
            rates[name].append(replay(bands, seed_msgs, stream, engine_class))
    for name, (bands, engine_class) in runs.items():
        if engine_class is LeanBook:
            print(f"# calibration (no checks, no events, not the product): {name} "
                  f"{max(rates[name]):.0f}")
        elif engine_class is Engine:
            print(f"# {name}: {n} messages; end state {streams[bands][2]}")
            print(f"{name}: {max(rates[name]):.0f}")
        elif engine_class is interpreted:
            print(f"{name}: {max(rates[name]):.0f}")
        else:
            print(f"{name}: {max(rates[name]):.0f}")
    if "matching_interpreted_msgs_per_s" in rates:
        pairs = sorted(a / b for a, b in zip(rates["matching_msgs_per_s"],
                                             rates["matching_interpreted_msgs_per_s"]))
        print(f"matching_compiled_vs_interpreted: {statistics.median(pairs):.2f}  "
              f"# per-round min {pairs[0]:.2f} max {pairs[-1]:.2f}")
    for prefix in ("matching", "matching_interpreted"):
        ours = rates.get(f"{prefix}_msgs_per_s")
        if ours is None:
            continue
        for name, ratio in (("nautilus_book_msgs_per_s", "vs_nautilus"),
                            ("cpp_lob_ctypes_msgs_per_s", "vs_cpp_lob"),
                            ("cpp_lob_ctypes_argtypes_msgs_per_s", "vs_cpp_lob_argtypes")):
            if name in rates:
                pairs = sorted(a / b for a, b in zip(ours, rates[name]))
                print(f"{prefix}_{ratio}: {statistics.median(pairs):.2f}  "
                      f"# per-round min {pairs[0]:.2f} max {pairs[-1]:.2f}")


if __name__ == "__main__":
    main()
