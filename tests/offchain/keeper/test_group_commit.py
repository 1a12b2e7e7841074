"""The group committer (gateway.GroupCommitter): a commit's future resolves only after the
transaction holding it returned from Journal.write; the commits of one loop iteration
share one transaction, those queued during a write go in the next one, in order; a failed
write fails its waiters and every one queued behind it, reports once, and nothing after
it is written."""

import asyncio
import threading

import pytest

from offchain.keeper.gateway import GroupCommitter
from offchain.keeper.journal import Journal, WriteSet

pytestmark = pytest.mark.anyio


def _cmd(seq: int) -> WriteSet:
    ws = WriteSet()
    ws.commands.append({"seq": seq, "ts": 0, "kind": "test", "account": "", "body": "{}"})
    return ws


class GatedJournal(Journal):
    """A real SQLite journal whose writes wait for `gate` (and fail once `fail` is set)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.transactions: list[list[int]] = []

    def write(self, ws: WriteSet) -> None:
        assert self.gate.wait(10)
        if self.fail:
            raise OSError("disk gone")
        super().write(ws)
        self.transactions.append([c["seq"] for c in ws.commands])


async def _until(predicate) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("never happened")


async def test_commit__futures_resolve_only_after_the_write_returned(tmp_path):
    journal = GatedJournal(f"sqlite:///{tmp_path}/j.db")
    committer = GroupCommitter(journal)
    journal.gate.clear()
    first = committer.commit(_cmd(1))
    await _until(lambda: committer.writing)  # on the thread, held at the gate
    late = [committer.commit(_cmd(2)), committer.commit(_cmd(3))]
    await asyncio.sleep(0.05)
    assert not first.done() and not any(f.done() for f in late) and journal.transactions == []
    journal.gate.set()
    await first
    assert journal.transactions[0] == [1]  # durable before its future resolved
    await asyncio.gather(*late)
    assert journal.transactions == [[1], [2, 3]]  # queued during the write: the next transaction, in order
    await committer.stop()
    assert [row.seq for row in journal.commands()] == [1, 2, 3]
    journal.close()


async def test_commit__one_iteration__one_transaction(tmp_path):
    journal = GatedJournal(f"sqlite:///{tmp_path}/j.db")
    committer = GroupCommitter(journal)
    futures = [committer.commit(_cmd(seq)) for seq in range(1, 6)]
    await asyncio.gather(*futures)
    assert journal.transactions == [[1, 2, 3, 4, 5]]
    await committer.stop()
    journal.close()


async def test_commit__write_fails__waiters_and_those_behind_fail_once_and_nothing_more_is_written(tmp_path):
    journal = GatedJournal(f"sqlite:///{tmp_path}/j.db")
    committer = GroupCommitter(journal)
    fatal: list[BaseException] = []
    committer.on_fatal = fatal.append
    await committer.commit(_cmd(1))
    journal.gate.clear()
    journal.fail = True
    failing = committer.commit(_cmd(2))
    await _until(lambda: committer.writing)
    behind = committer.commit(_cmd(3))
    journal.gate.set()
    for fut in (failing, behind):
        with pytest.raises(RuntimeError, match="disk gone"):
            await fut
    assert len(fatal) == 1 and isinstance(fatal[0], OSError)
    with pytest.raises(RuntimeError, match="journal failed"):
        committer.commit(_cmd(4))
    await committer.stop()  # does not write what failed
    journal.fail = False
    assert [row.seq for row in journal.commands()] == [1]
    journal.close()


async def test_stop__flushes_what_is_queued(tmp_path):
    journal = GatedJournal(f"sqlite:///{tmp_path}/j.db")
    committer = GroupCommitter(journal)
    journal.gate.clear()
    first = committer.commit(_cmd(1))
    await _until(lambda: committer.writing)
    second = committer.commit(_cmd(2))
    stopping = asyncio.ensure_future(committer.stop())
    await asyncio.sleep(0.02)
    assert not stopping.done()  # waits for the write in progress
    journal.gate.set()
    await stopping
    assert first.done() and second.done()
    assert [row.seq for row in journal.commands()] == [1, 2]
    journal.close()
