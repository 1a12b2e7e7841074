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


def wait_until(predicate, timeout: float = 60.0) -> None:
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


def test_side_journals__ex_leader__fenced_nothing_written(leaders, postgres_url):
    """The funding, liquidation and backstop-unwind journals write on the lock's session
    too: once a standby holds the lock, the old leader's side rows (a signed rate, a
    liquidation step, an unwind order) cannot land after it."""
    from offchain.funding.journal import PLANNED, FundingJournal, RateRecord
    from offchain.keeper.runners.backstop import UnwindOrders
    from offchain.keeper.runners.liquidation_journal import LiquidationJournal

    a, b = leaders(), leaders()
    assert a.try_acquire()
    step = dict(ts=1, account="0x" + "11" * 20, market=1, kind="book", size=5, equity=1, maintenance=2,
                seen_block=3, nonce=-1, tx_hash="", raw_tx="")
    rate = RateRecord(1, 7, 10, 9, 3, PLANNED, 4, "0xab", "0xcd", "")
    sides_a = (FundingJournal(postgres_url, leadership=a), LiquidationJournal(postgres_url, leadership=a),
               UnwindOrders(postgres_url, leadership=a))
    fa, la, ua = sides_a
    fa.put_rate(rate)
    first = la.plan(**step)
    ua.add("0x01", 1)
    terminate(postgres_url, a.pid)
    assert b.try_acquire()
    refused = []
    for write in (lambda: fa.put_rate(RateRecord(1, 8, 10, 9, 3, PLANNED, 5, "0xef", "0x01", "")),
                  lambda: fa.set_state(1, 7, "dead", "late"),
                  lambda: fa.add_samples([(1, 8, 1, 2, 3)]),
                  lambda: la.plan(**step),
                  lambda: la.update(first, state="dead"),
                  lambda: ua.add("0x02", 1)):
        with pytest.raises(NotLeader):
            write()
        refused.append(True)
    fb, lb, ub = (FundingJournal(postgres_url, leadership=b), LiquidationJournal(postgres_url, leadership=b),
                  UnwindOrders(postgres_url, leadership=b))
    assert [(r.interval, r.state) for r in fb.rates()] == [(7, PLANNED)]
    assert fb.samples(1, 8) == []
    assert [(s.id, s.state) for s in lb.steps()] == [(first, "planned")]
    assert ub.all() == [("0x01", 1)]
    lb.update(first, state="dead")  # the new leader writes
    assert [s.state for s in lb.steps()] == ["dead"] and len(refused) == 6
    for journal in (*sides_a, fb, lb, ub):
        journal.close()
