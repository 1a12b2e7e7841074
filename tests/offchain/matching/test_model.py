"""Property tests: the engine against the sorted-list reference model (reference.py)."""
from __future__ import annotations

from collections import defaultdict

import msgspec

from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.matching import (
    Accepted, Amended, Cancelled, Engine, Expired, Fill, MarketConfig, OrderKind, Place,
    PostOnly, STPMode, TimeInForce,
)

from .reference import ReferenceBook

CONFIG = MarketConfig(7, tick=10, lot=100, min_size=200, max_size=1_500)
ACCOUNTS = ["0xa", "0xb", "0xc"]

# mostly valid values near one price so that orders cross often; a few bad ones
prices = st.sampled_from([t * 10 for t in range(98, 103)] * 4 + [0, -10, 1003])
sizes = st.sampled_from([n * 100 for n in range(2, 9)] * 3 + [100, 1_600, 0, 150])
stps = st.sampled_from([None, None, *STPMode])
ids = st.sampled_from([None] * 9 + [0])  # None: a fresh id; 0: reuse an earlier one
targets = st.integers(0, 1_000)            # picks one of the ids placed so far
tifs = st.sampled_from([TimeInForce.GTC] * 3 + [TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTD])

limit_orders = st.builds(
    lambda i, a, b, s, p, tif, dt, po, stp: (
        "place", Place(i, a, CONFIG.market, b, s, p, 0, tif=tif, expiry=dt,
                       post_only=po if tif in (TimeInForce.GTC, TimeInForce.GTD) else PostOnly.NONE,
                       stp=stp)),
    ids, st.sampled_from(ACCOUNTS), st.booleans(), sizes, prices,
    tifs, st.integers(-1, 6), st.sampled_from(list(PostOnly)), stps)
market_orders = st.builds(
    lambda i, a, b, s, worst, bps, fok, stp: (
        "place", Place(i, a, CONFIG.market, b, s, worst, 0, kind=OrderKind.MARKET,
                       tif=TimeInForce.FOK if fok else TimeInForce.IOC, slippage_bps=bps, stp=stp)),
    ids, st.sampled_from(ACCOUNTS), st.booleans(), sizes, st.sampled_from([0, 970, 1000, 1030]),
    st.sampled_from([0, 100, 300]), st.booleans(), stps)
cancels = st.tuples(st.just("cancel"), targets)
amends = st.tuples(st.just("amend"), targets, st.one_of(st.none(), sizes), st.one_of(st.none(), prices))
commands = st.lists(st.one_of(limit_orders, limit_orders, limit_orders, market_orders, cancels,
                              amends), min_size=5, max_size=60)


# A two-sided book every stream starts from, so that takers meet liquidity.
SEED = [("place", Place(f"s{i}", ACCOUNTS[i % 3], CONFIG.market, i % 2 == 0,
                        (2 + i % 3) * 100, 1000 + (-10 if i % 2 == 0 else 10) * (1 + i // 4), 0))
        for i in range(8)]


def concrete(cmds: list) -> list:
    """Give the generated stream real ids and timestamps (ts = position + 1)."""
    out, placed = [], []
    for ts, cmd in enumerate(SEED + cmds, start=1):
        if cmd[0] == "place":
            p = cmd[1]
            if isinstance(p.id, str):  # seed order
                oid = p.id
            elif p.id is None or not placed:
                oid = f"o{ts}"
            else:
                oid = placed[ts % len(placed)]
            placed.append(oid)
            out.append(("place", msgspec.structs.replace(p, id=oid, ts=ts, expiry=ts + p.expiry)))
        else:
            target = placed[cmd[1] % len(placed)] if placed else "nothing"
            out.append((cmd[0], target, ts, *cmd[2:]))
    return out


def apply(book, cmd) -> list:
    """Run one concrete command on the engine or the reference (same method names)."""
    if cmd[0] == "place":
        return book.place(cmd[1])
    if cmd[0] == "cancel":
        return book.cancel(cmd[1], cmd[2])
    return book.amend(cmd[1], cmd[2], size=cmd[3], price=cmd[4])


def run_both(cmds: list) -> tuple[Engine, ReferenceBook, list, list]:
    engine, ref = Engine([CONFIG]), ReferenceBook(CONFIG)
    got, want = [], []
    for cmd in concrete(cmds):
        got.append(apply(engine, cmd))
        want.append(apply(ref, cmd))
    return engine, ref, got, want


def resting(engine: Engine) -> tuple[list, list]:
    bids, asks = engine.book_orders(CONFIG.market)
    return [(o.id, o.price, o.size) for o in bids], [(o.id, o.price, o.size) for o in asks]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_engine__random_stream__same_events_and_book_as_reference(cmds):
    engine, ref, got, want = run_both(cmds)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"command {i}: {cmds[i]}"
    assert resting(engine) == (ref.bids(), ref.asks())
    bids, asks = engine.depth(CONFIG.market, 100)
    assert all(a[0] > b[0] for a, b in zip(bids, bids[1:]))
    assert all(a[0] < b[0] for a, b in zip(asks, asks[1:]))
    if bids and asks:
        assert bids[0][0] < asks[0][0], "book must never stay crossed"


@settings(max_examples=300, deadline=None)
@given(commands)
def test_engine__random_stream__size_is_conserved(cmds):
    """Per order: accepted (+ amend increases) = filled + cancelled/expired + resting."""
    engine, _, got, _ = run_both(cmds)
    submitted: dict = defaultdict(int)
    done: dict = defaultdict(int)
    for events in got:
        for e in events:
            if isinstance(e, Accepted):
                submitted[e.order_id] += e.size
            elif isinstance(e, Fill):
                done[e.maker_id] += e.size
                done[e.taker_id] += e.size
            elif isinstance(e, (Cancelled, Expired)):
                done[e.order_id] += e.size
            elif isinstance(e, Amended):
                submitted[e.order_id] += max(0, e.size - e.old_size)
                done[e.order_id] += max(0, e.old_size - e.size)
    bids, asks = engine.book_orders(CONFIG.market)
    for o in bids + asks:
        done[o.id] += o.size
    # an id can be reused once its order is gone, so compare totals per id
    assert dict(submitted) == {k: v for k, v in done.items() if v or k in submitted}


@settings(max_examples=150, deadline=None)
@given(commands, st.integers(0, 60))
def test_engine__snapshot_restore__replays_identically(cmds, cut):
    cut = min(cut, len(cmds)) + len(SEED)
    engine = Engine([CONFIG])
    stream = concrete(cmds)
    for cmd in stream[:cut]:
        apply(engine, cmd)
    restored = Engine.restore(engine.snapshot())
    assert restored.snapshot() == engine.snapshot()
    for cmd in stream[cut:]:
        assert apply(restored, cmd) == apply(engine, cmd)
    assert resting(engine) == resting(restored)
