"""Snapshots off the event loop (offchain/keeper/snapshotter.py): the sequencer's state is
serialised in a forked child from the copy-on-write image of the fork's moment, so the loop
keeps sequencing while it is written, and what the sequencer does after the fork never
reaches the snapshot. Invariant: the snapshot written for seq S restores, with the tail
after S, to exactly the running keeper's state and a full replay's."""

import pickle
import time
import types

import pytest

from offchain.keeper.service import Keeper
from offchain.keeper.snapshotter import ForkedSnapshot, SnapshotFailed

from .helpers import OfflineKeeper
from .test_snapshot import _replay, _traffic, _view


def test_forked_snapshot__child_sees_the_fork_moment_not_later_changes():
    state = {"orders": list(range(1000))}

    def take():
        time.sleep(0.3)  # the parent changes its state meanwhile
        return pickle.dumps(state)

    child = ForkedSnapshot.start(take)
    state["orders"].append("after the fork")
    state["late"] = True
    assert pickle.loads(child.result()) == {"orders": list(range(1000))}


def test_forked_snapshot__child_fails__snapshot_failed_nothing_half_delivered():
    def take():
        raise RuntimeError("boom")

    with pytest.raises(SnapshotFailed):
        ForkedSnapshot.start(take).result()


def _keeper_over(k: OfflineKeeper, every: int) -> Keeper:
    """The snapshot part of a Keeper over an offline keeper's core and journal."""
    keeper = Keeper.__new__(Keeper)
    keeper.config = types.SimpleNamespace(journal=types.SimpleNamespace(snapshot_every=every))
    keeper.core, keeper.committer, keeper.journal = k.core, k.committer, k.journal
    keeper.last_snapshot, keeper._snapshotting, keeper.snapshot_stats = 0, None, {}
    return keeper


@pytest.mark.anyio
async def test_maybe_snapshot__forked_while_sequencer_runs__restore_plus_tail_equals_full_replay(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    k.start()
    from .helpers import PRICE, order, signed

    await k.gateway.place_batch([signed(i % 3, order(i % 3, True, nonce=i, price=PRICE - (i % 5) * 10_000))
                                 for i in range(40)])
    keeper = _keeper_over(k, every=10)
    assert keeper.maybe_snapshot() is True
    at = k.core.seq
    assert keeper.maybe_snapshot() is False  # one at a time (and not due)
    # the sequencer goes on while the child writes: fills against the book, more orders
    await k.gateway.place_batch([signed(3, order(3, False, nonce=100 + i, price=PRICE - 20_000))
                                 for i in range(6)])
    assert k.core.seq > at
    await keeper._snapshotting
    assert keeper._snapshotting is None and keeper.snapshot_stats["written"] == 1
    assert k.journal.snapshot()[0] == at  # the fork's moment, not later
    await k.committer.stop()
    fast, full = _replay(k.journal, True), _replay(k.journal, False)
    assert _view(fast)[:-1] == _view(full)[:-1] == _view(k.core)[:-1]
    assert fast.fills and len(fast.fills) == len(k.core.fills)
    k.journal.close()
