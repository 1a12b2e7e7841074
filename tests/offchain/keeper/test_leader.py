"""The leader lock on a PostgreSQL journal (offchain/keeper/leader.py): one leader per
journal schema, a standby wins it when the leader's session ends (death, or a pause longer
than the lease), and an ex-leader can write nothing (the fence) nor broadcast."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from offchain.keeper.journal import Journal, WriteSet, make_engine
from offchain.keeper.leader import Leadership, NotLeader


def command(seq: int) -> WriteSet:
    ws = WriteSet()
    ws.commands.append({"seq": seq, "ts": seq, "kind": "expire", "account": "", "body": "{}"})
    return ws


def seqs(journal: Journal) -> list[int]:
    return [row.seq for row in journal.commands()]


def terminate(url: str, pid: int) -> None:
    """What the server does to a dead or silent leader's session."""
    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    engine.dispose()


@pytest.fixture
def leaders(postgres_url):
    made: list[Leadership] = []

    def make(lease_s: float = 5.0, url: str | None = None) -> Leadership:
        lead = Leadership(make_engine(url or postgres_url), lease_s=lease_s)
        made.append(lead)
        return lead

    yield make
    for lead in made:
        lead.close()
        lead.engine.dispose()


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_leader__second_keeper__is_standby_until_leader_session_ends(leaders, postgres_url):
    a, b = leaders(), leaders()
    assert a.try_acquire() is True
    assert b.try_acquire() is False
    assert b.try_acquire() is False  # polling does not steal it
    terminate(postgres_url, a.pid)  # the leader died: the server ends its session
    wait_until(b.try_acquire)
    assert b.held


def test_leader__clean_close__hands_over_at_once(leaders):
    a, b = leaders(), leaders()
    assert a.try_acquire()
    a.close()
    assert b.try_acquire()


def test_leader__other_schema__does_not_contend(leaders, postgres):
    a = leaders(url=postgres.create_schema("leader_one"))
    b = leaders(url=postgres.create_schema("leader_two"))
    assert a.try_acquire() and b.try_acquire()
    assert a.key != b.key


def test_leader__paused_leader__loses_lock_after_lease(leaders):
    """A leader that stops talking (SIGSTOP, partition) for longer than the lease: the
    server ends its session (idle_session_timeout) and the standby leads."""
    a, b = leaders(lease_s=0.5), leaders(lease_s=0.5)
    assert a.try_acquire()  # no heartbeat: a is "paused" from here on
    assert not b.try_acquire()
    wait_until(b.try_acquire)
    with pytest.raises(NotLeader):
        a.check()


def test_journal_write__ex_leader__fenced_nothing_written(leaders, postgres_url):
    a, b = leaders(), leaders()
    assert a.try_acquire()
    ja = Journal(postgres_url, leadership=a)
    ja.write(command(1))
    lost: list[BaseException] = []
    a.on_lost = lost.append
    terminate(postgres_url, a.pid)
    assert b.try_acquire()
    jb = Journal(postgres_url, leadership=b)
    with pytest.raises(NotLeader):
        ja.write(command(2))  # the ex-leader resumes and tries to journal: refused
    assert len(lost) == 1 and not a.held
    with pytest.raises(NotLeader):
        ja.write(command(2))  # and stays refused
    jb.write(command(2))
    assert seqs(jb) == [1, 2]
    ja.close()
    jb.close()


def test_journal_write__never_acquired__refused(leaders, postgres_url):
    a, b = leaders(), leaders()
    assert a.try_acquire() and not b.try_acquire()
    jb = Journal(postgres_url, leadership=b)
    with pytest.raises(NotLeader):
        jb.write(command(1))
    assert seqs(jb) == []
    jb.close()


def test_journal_write__failed_row__rolls_back_keeps_leadership(leaders, postgres_url):
    """A write that fails for another reason (a duplicate seq) is not a lost lock."""
    a = leaders()
    assert a.try_acquire()
    journal = Journal(postgres_url, leadership=a)
    journal.write(command(1))
    with pytest.raises(Exception) as info:
        journal.write(command(1))
    assert not isinstance(info.value, NotLeader)
    assert a.held
    journal.write(command(2))
    assert seqs(journal) == [1, 2]
    journal.close()


@pytest.mark.anyio
async def test_chain_fence__ex_leader__broadcast_refused(leaders, postgres_url):
    """`Chain.send_raw` awaits the fence first: an ex-leader sends nothing."""
    from offchain.keeper.chain import Chain

    a = leaders()
    assert a.try_acquire()
    await a.afence()  # the leader may broadcast
    terminate(postgres_url, a.pid)
    with pytest.raises(NotLeader):
        await a.afence()

    class Contracts:  # a Chain without a node: the fence runs before any RPC
        exchange = "0x" + "11" * 20
        oracle = ""

    from offchain.keeper.keys import Key

    key = Key("0x" + "22" * 20, "0x" + "33" * 32)
    chain = Chain("http://127.0.0.1:1", Contracts, key)
    chain.fence = a.afence
    with pytest.raises(NotLeader):
        await chain.send_raw("0x00")
    await chain.close()


def test_heartbeat__lock_lost__reports_once(leaders, postgres_url):
    a = leaders(lease_s=3.0)
    assert a.try_acquire()
    lost: list[BaseException] = []
    a.start_heartbeat(lost.append)
    time.sleep(2.5)  # a few beats (every lease/3) while leading: nothing reported
    assert lost == [] and a.held
    terminate(postgres_url, a.pid)
    wait_until(lambda: lost)
    assert len(lost) == 1 and isinstance(lost[0], NotLeader)
