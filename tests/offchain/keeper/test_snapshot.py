"""Journal snapshots: restoring the newest snapshot and replaying only the commands after
it gives exactly the state a full replay gives (books with time priority, orders, fills
with ids, unsettled positions, open sizes, marks); a snapshot that does not verify
(corrupt body, or commands missing below its seq) is skipped."""

import json

import pytest
from sqlalchemy import update

from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import SnapshotRow, WriteSet
from offchain.matching import Engine

from .helpers import ADDR, MARKET, PRICE, OfflineKeeper, order, signed

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)


def _core():
    return Core(Engine([market_config(MARKET)]), {1: MARKET})


def _replay(journal, use_snapshot: bool) -> Core:
    core = _core()
    after = 0
    snap = journal.snapshot() if use_snapshot else None
    if snap is not None:
        after, body = snap
        core.restore(body)
    for row in journal.commands(after=after):
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), Outbox.new())
    return core


def _view(core: Core) -> tuple:
    bids, asks = core.engine.book_orders(1)
    def nonzero(d):  # {market: 0} and no entry mean the same
        return {m: v for m, v in d.items() if v and v != [0, 0]}

    accounts = {a: v for a, s in core.accounts.items()
                if any(v := (nonzero(s.pending), nonzero(s.open_buy), nonzero(s.open_sell), s.min_nonce))}
    return ([(o.id, o.size) for o in bids], [(o.id, o.size) for o in asks],
            {h: (s.status, s.open, s.filled, s.seq) for h, s in core.orders.items()},
            {i: (f.maker_hash, f.taker_hash, f.size, f.state, f.reason) for i, f in core.fills.items()},
            accounts, {a: set(v) for a, v in core.by_nonce_account.items() if v},
            core.seq, core.fill_seq, dict(core.marks))


async def _traffic(k, offset: int):
    """Start the keeper, place 17 orders (12 bids, 5 crossing asks), stop its committer."""
    k.start()
    await k.gateway.place_batch([signed(i % 3, order(i % 3, True, nonce=offset + i, price=PRICE - (i % 5) * 10_000,
                                                     size=10**17 * (1 + i % 2))) for i in range(12)])
    await k.gateway.place_batch([signed(3, order(3, False, nonce=offset + 100 + i, price=PRICE - 20_000,
                                                 size=10**17)) for i in range(5)])
    await k.committer.stop()


def _snapshot(k):
    ws = WriteSet()
    ws.snapshot = (k.core.seq, k.core.snapshot())
    k.journal.write(ws)


async def test_snapshot__restore_plus_tail__equals_full_replay(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    await _traffic(k, 0)
    first_fill = min(k.core.fills)
    ws, out = WriteSet(), Outbox.new()
    k.core.fill_rejected(k.core.next_seq(), 10**12, first_fill, "margin", ws, out, ("taker",))
    k.core.set_mark(k.core.next_seq(), 10**12, 1, PRICE + 10_000, ws, out, 77)
    k.journal.write(ws)
    _snapshot(k)
    k.committer = k.gateway.committer = type(k.committer)(k.journal)
    await _traffic(k, 1000)  # the tail after the snapshot: more fills against restored priority
    assert k.journal.snapshot()[0] < k.core.seq
    full, fast = _replay(k.journal, False), _replay(k.journal, True)
    for a, b, c in zip(_view(fast), _view(full), _view(k.core)):
        assert a == b, (a, b)
        assert b == c, (b, c)


async def test_snapshot__corrupt_or_ahead_of_the_journal__skipped(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    await _traffic(k, 0)
    _snapshot(k)
    good = k.journal.snapshot()
    assert good is not None and good[0] == k.core.seq
    with k.journal.engine.begin() as conn:
        conn.execute(update(SnapshotRow).values(body=b"x" + good[1][1:]))
    assert k.journal.snapshot() is None  # digest mismatch
    ahead = WriteSet()
    ahead.snapshot = (k.core.seq + 5, k.core.snapshot())  # its commands never reached the journal
    k.journal.write(ahead)
    assert k.journal.snapshot() is None
    # a full replay then (marks aside: the offline keeper sets its mark without a command)
    assert _view(_replay(k.journal, True))[:-1] == _view(k.core)[:-1]


async def test_snapshot__only_the_newest_two_kept(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    await _traffic(k, 0)
    for _ in range(4):
        _snapshot(k)
        ws, out = WriteSet(), Outbox.new()
        k.core.set_mark(k.core.next_seq(), 10**12, 1, PRICE + 10_000 * k.core.seq, ws, out, k.core.seq)
        k.journal.write(ws)
    with k.journal.engine.connect() as conn:
        from sqlalchemy import select
        seqs = [r.seq for r in conn.execute(select(SnapshotRow.seq))]
    assert len(seqs) == 2 and k.journal.snapshot()[0] == max(seqs)
    assert ADDR[0] in k.core.accounts


async def test_snapshot__waiting_stop_order__restored_and_fires_in_the_tail(tmp_path):
    """An order kind with a signed intent (#15): a stop waiting in the snapshot keeps its
    intent and its place in the live index, and the tail's mark fires it as in a full replay."""
    from offchain.intent import Intent

    from .test_order_kinds import TICK, mark, with_intent

    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    async def before():
        k.start()
        await mark(k, PRICE)
        await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - 20 * TICK))])
        stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 10 * TICK, client_id="sl-1")
        await k.gateway.place_batch([with_intent(1, order(1, False, price=PRICE - 50 * TICK), stop)])
        await k.committer.stop()

    await before()
    _snapshot(k)
    restored = _replay(k.journal, True)
    (waiting,) = [s.to_json() for s in restored.open_orders(ADDR[1])]
    assert waiting["status"] == "waiting for trigger" and waiting["intent"]["client_id"] == "sl-1"
    k.committer = k.gateway.committer = type(k.committer)(k.journal)

    async def after():
        k.start()
        await mark(k, PRICE - 10 * TICK)  # fires in the tail
        await k.committer.stop()

    await after()
    assert len(k.core.fills) == 1
    full, fast = _replay(k.journal, False), _replay(k.journal, True)
    assert _view(fast) == _view(full) and len(fast.fills) == 1


async def test_snapshot__registry_and_tiers__restart_from_snapshot_equals_replay_from_zero(tmp_path):
    """The market registry and its tier tables are journaled state: a fresh journal starts
    with them (`Core.journal_registry`), and a snapshot holds them. A restart reads the
    chain's registry of *that* moment (here: band, tick, min size and tiers the journal has
    not seen yet, and a market the journal never knew); both a restart from the snapshot
    and a replay from zero must still give the journal's registry, the engine's configs and
    the same book as the running keeper."""
    import dataclasses

    from offchain.risk.margin import TierTable

    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    tiers = [(0, 1000, 500), (50_000 * 10**6, 2000, 1000)]

    async def registry_changes(first: bool):
        k.start()
        if first:  # what Keeper.start journals on an empty journal
            await k.gateway.run_command(lambda ws, out: k.core.journal_registry(10**12, ws, out))
        else:
            wider = dataclasses.replace(k.core.markets[1], band_bps=800)
            await k.gateway.run_command(lambda ws, out: k.core.market_set(k.core.next_seq(), 10**12, wider, ws, out))
            await k.gateway.run_command(lambda ws, out: k.core.margin_tiers_set(k.core.next_seq(), 10**12, 1,
                                                                               tiers, ws, out))
        await k.committer.stop()

    def fresh_committer():
        k.committer = k.gateway.committer = type(k.committer)(k.journal)

    await registry_changes(True)
    fresh_committer()
    await _traffic(k, 0)
    fresh_committer()
    await registry_changes(False)
    _snapshot(k)
    fresh_committer()
    await _traffic(k, 1000)
    live = (dict(k.core.markets), {c.market: c for c in k.core.engine.markets()})
    assert live[0][1].band_bps == 800 and live[0][1].tiers == TierTable.of(tiers)

    # the chain at restart: another band, tick, min size and table, and a market 2 the
    # journal never saw (the tick and min size would refuse half of the journal's orders)
    chain_now = {1: dataclasses.replace(MARKET, band_bps=300, tick=20_000, min_size=3 * 10**17,
                                        tiers=TierTable.of([(0, 1500, 700)])),
                 2: dataclasses.replace(MARKET, market=2)}

    def restart(use_snapshot: bool) -> Core:
        core = Core(Engine([market_config(i) for i in chain_now.values()]), dict(chain_now))
        after = 0
        if use_snapshot:
            after, body = k.journal.snapshot()
            core.restore(body)
        for row in k.journal.commands(after=after):
            core.apply(row.seq, row.ts, row.kind, json.loads(row.body), Outbox.new())
        return core

    fast, full = restart(True), restart(False)
    assert k.journal.snapshot()[0] < k.core.seq  # a tail was replayed
    for core in (fast, full):
        assert core.markets[1] == live[0][1]
        assert core.markets[2] == chain_now[2]  # known only to the chain: as the chain says
        configs = {c.market: c for c in core.engine.markets()}
        assert configs[1] == live[1][1] and configs[2] == market_config(chain_now[2])
        assert _view(core)[:-1] == _view(k.core)[:-1]  # marks: the offline keeper sets one unjournaled
