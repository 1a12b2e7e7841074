"""The journal on both backends: every test takes `journal_url` (conftest.py), a SQLite
file or a fresh database on a real PostgreSQL server (offchain.devdb)."""

import json

import pytest

from offchain.keeper.journal import MATCHED, SETTLED, Journal, WriteSet, normalize_url

BIG = 2**256 - 1


@pytest.fixture
def j(journal_url):
    journal = Journal(journal_url)
    yield journal
    journal.close()


def fill(id_, price=10**9, size=10**16, **kw):
    return {"id": id_, "seq": id_, "ts": 0, "market": 1, "price": price, "size": size,
            "maker_hash": "0x" + "11" * 32, "taker_hash": "0x" + "22" * 32, "maker_account": "0xa",
            "taker_account": "0xb", "maker_is_buy": True, "state": MATCHED, "batch_id": None, "reason": "",
            "tx_hash": ""} | kw


def order_row(h, **kw):
    return {"hash": h, "seq": 1, "account": "0xa", "market": 1, "is_buy": False, "price": 1, "size": 1,
            "nonce": 1, "expiry": 1, "flags": 0, "signature": "0x" + "ab" * 65, "signer": "0xa"} | kw


def test_write__commands_read_back_in_sequence_order(j):
    ws = WriteSet(commands=[{"seq": s, "ts": s, "kind": "mark", "account": "", "body": "{}"} for s in (3, 1, 2)])
    j.write(ws)
    assert [r.seq for r in j.commands()] == [1, 2, 3]
    assert [r.seq for r in j.commands(after=1, chunk=1)] == [2, 3]


def test_write__uint256_values_round_trip(j):
    j.write(WriteSet(fills=[fill(1, price=BIG, size=BIG)]))
    j.write(WriteSet(fill_updates=[{"id": 1, "state": SETTLED, "batch_id": 7}]))
    (row,) = j.fills()
    assert row.size == BIG and row.price == BIG and row.state == SETTLED and row.batch_id == 7


def test_write__uint256_order_fields_round_trip(j):
    values = dict(market=BIG, price=BIG, size=BIG, nonce=BIG, expiry=BIG, flags=BIG, is_buy=True)
    j.write(WriteSet(orders=[order_row("0x" + "33" * 32, **values), order_row("0x" + "44" * 32)]))
    rows = {r.hash: r for r in j.orders()}
    big = rows["0x" + "33" * 32]
    assert [big.market, big.price, big.size, big.nonce, big.expiry, big.flags] == [BIG] * 6 and big.is_buy is True
    small = rows["0x" + "44" * 32]
    assert (small.price, small.flags, small.is_buy) == (1, 0, False)


def test_write__failed_transaction__nothing_written(j):
    row = {"seq": 1, "ts": 0, "kind": "mark", "account": "", "body": "{}"}
    j.write(WriteSet(commands=[row]))
    with pytest.raises(Exception):
        # duplicate seq 1 fails the whole set, the fill written before it included
        j.write(WriteSet(fills=[fill(9)], commands=[{**row, "seq": 2}, row]))
    assert [r.seq for r in j.commands()] == [1]
    assert j.fills() == []
    j.write(WriteSet(commands=[{**row, "seq": 2}]))  # the journal is usable after the failure
    assert [r.seq for r in j.commands()] == [1, 2]


def test_cursor__insert_then_update(j):
    assert j.cursor("watcher") is None
    j.write(WriteSet(cursors={"watcher": 5}))
    j.write(WriteSet(cursors={"watcher": 9, "feed": 1}))
    assert j.cursor("watcher") == 9 and j.cursor("feed") == 1


def test_batches__state_filter_and_max_ids(j):
    j.write(WriteSet(batches=[{"id": 1, "ts": 0, "nonce": 4, "tx_hash": "0x1", "raw_tx": "0x", "fill_ids": json.dumps([1]),
                               "state": "submitted"}]))
    assert [b.id for b in j.batches("submitted")] == [1]
    assert j.max_ids() == (0, 0, 1)
    j.write(WriteSet(batch_updates=[{"id": 1, "state": "confirmed", "block": 12}]))
    assert j.batches("submitted") == [] and j.batches()[0].block == 12


def test_write__bulk_group_commit__all_rows_in_one_transaction(j):
    fills = [fill(i, price=BIG - i, size=i) for i in range(1, 2001)]
    commands = [{"seq": i, "ts": i, "kind": "place", "account": "0xa", "body": "{}"} for i in range(1, 2001)]
    j.write(WriteSet(commands=commands, fills=fills))
    j.write(WriteSet(fill_updates=[{"id": i, "state": SETTLED, "batch_id": 1} for i in range(1, 2001, 2)]))
    rows = j.fills()
    assert [(r.id, r.price, r.size) for r in rows] == [(i, BIG - i, i) for i in range(1, 2001)]
    assert len(j.fills(SETTLED)) == 1000 and len(list(j.commands(chunk=700))) == 2000
    assert j.max_ids() == (2000, 2000, 0)


def test_reopen__same_database__rows_still_there(journal_url):
    first = Journal(journal_url)
    first.write(WriteSet(commands=[{"seq": 1, "ts": 0, "kind": "mark", "account": "", "body": "{}"}],
                         fills=[fill(1, price=BIG)]))
    first.close()
    again = Journal(journal_url)  # create_all on existing tables is a no-op
    assert [r.seq for r in again.commands()] == [1] and again.fills()[0].price == BIG
    again.close()


def test_sqlite__wal_and_full_sync(tmp_path):
    j = Journal(f"sqlite:///{tmp_path}/j.db")
    with j.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    j.close()


def test_postgres__psycopg3_read_committed_and_durable_commit(postgres):
    import sqlalchemy

    url = postgres.create_database("durable")
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # a careless server default must not weaken the journal
        conn.exec_driver_sql('ALTER DATABASE durable SET synchronous_commit = off')
    admin.dispose()
    j = Journal(url)
    assert j.engine.dialect.name == "postgresql" and j.engine.dialect.driver == "psycopg"
    with j.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        types = dict(conn.exec_driver_sql(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'fills'").all())
    assert types["price"] == "character varying" and types["id"] == "bigint" and types["maker_is_buy"] == "boolean"
    j.close()


@pytest.mark.parametrize("given, opened", [
    ("postgresql://u@127.0.0.1:5/db", "postgresql+psycopg://u@127.0.0.1:5/db"),
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///keeper.db", "sqlite:///keeper.db"),
])
def test_normalize_url__postgres_without_driver_gets_psycopg(given, opened):
    assert normalize_url(given) == opened


def test_postgres__plain_postgresql_url_opens_with_psycopg(postgres_url):
    j = Journal(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    assert j.engine.dialect.driver == "psycopg"
    j.write(WriteSet(cursors={"watcher": 3}))
    assert j.cursor("watcher") == 3
    j.close()


def test_postgres__schema_urls__independent_journals_in_one_database(postgres):
    a, b = Journal(postgres.create_schema("keeper_a")), Journal(postgres.create_schema("keeper_b"))
    a.write(WriteSet(cursors={"watcher": 1}))
    assert a.cursor("watcher") == 1 and b.cursor("watcher") is None
    with a.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT current_schema()").scalar() == "keeper_a"
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"  # options merged
    a.close()
    b.close()


def test_write__fill_updates_of_mixed_column_sets__each_row_ends_in_its_last_update(j):
    """One commit of the settlement's interleaved updates ({state, batch_id, tx_hash} and
    {state}, one executemany per set or per run of a set): every row ends as its last
    update in the list says, also when a row is updated under both sets."""
    from offchain.keeper.journal import SUBMITTED

    j.write(WriteSet(fills=[fill(i) for i in range(1, 9)]))
    updates = []
    for i in range(1, 9):  # disjoint ids, alternating column sets
        if i % 2:
            updates.append({"id": i, "state": SUBMITTED, "batch_id": 3, "tx_hash": "0x" + "ee" * 32})
        else:
            updates.append({"id": i, "state": SETTLED})
    j.write(WriteSet(fill_updates=updates))
    rows = {r.id: r for r in j.fills()}
    assert [rows[i].state for i in range(1, 9)] == [SUBMITTED, SETTLED] * 4
    assert [rows[i].batch_id for i in (1, 2)] == [3, None]
    # the same rows again, each under both sets in one commit: order between sets matters
    j.write(WriteSet(fill_updates=[
        {"id": 1, "state": SETTLED},
        {"id": 1, "state": SUBMITTED, "batch_id": 4, "tx_hash": "0x" + "dd" * 32},
        {"id": 2, "state": SUBMITTED, "batch_id": 5, "tx_hash": "0x" + "cc" * 32},
        {"id": 2, "state": SETTLED},
    ]))
    rows = {r.id: r for r in j.fills()}
    assert (rows[1].state, rows[1].batch_id, rows[1].tx_hash) == (SUBMITTED, 4, "0x" + "dd" * 32)
    assert (rows[2].state, rows[2].batch_id, rows[2].tx_hash) == (SETTLED, 5, "0x" + "cc" * 32)


def test_write__large_group_commit__every_row_exact_and_in_order(j):
    """A commit larger than one multi-row statement (SQLite writes chunks of 64/16/4/1
    rows): every command, order, fill, retired order and fill update lands exactly once,
    with its values, uint256 beyond 2**63 included; an order retired twice in one commit
    ends in its later state."""
    n = 151  # 2 x 64 + 16 + 4 + 3 x 1: every chunk size
    ws = WriteSet(commands=[{"seq": s, "ts": s, "kind": "place", "account": "0xa", "body": json.dumps({"n": s})}
                            for s in range(1, n + 1)],
                  orders=[order_row("0x%064x" % h, seq=h, price=BIG - h, nonce=h) for h in range(1, n + 1)],
                  fills=[fill(i, price=BIG - i, size=i) for i in range(1, n + 1)],
                  order_states=[{"hash": "0x%064x" % h, "status": "filled", "filled": BIG - h, "replaced_by": ""}
                                for h in range(1, n + 1)]
                  + [{"hash": "0x%064x" % 5, "status": "cancelled", "filled": 7, "replaced_by": "0xnew"}])
    j.write(ws)
    assert [(r.seq, json.loads(r.body)["n"]) for r in j.commands()] == [(s, s) for s in range(1, n + 1)]
    assert sorted((r.seq, r.price, r.nonce) for r in j.orders()) == [(h, BIG - h, h) for h in range(1, n + 1)]
    assert [(f.id, f.price, f.size, f.state) for f in j.fills()] == [(i, BIG - i, i, MATCHED) for i in range(1, n + 1)]
    h5 = j.order("0x%064x" % 5)[1]
    assert (h5.status, h5.filled, h5.replaced_by) == ("cancelled", 7, "0xnew")
    h6 = j.order("0x%064x" % 6)[1]
    assert (h6.status, h6.filled, h6.replaced_by) == ("filled", BIG - 6, "")
    j.write(WriteSet(fill_updates=[{"id": i, "state": SETTLED, "batch_id": i // 64, "tx_hash": "0x%064x" % i}
                                   for i in range(1, n + 1, 2)]))
    by_id = {f.id: f for f in j.fills()}
    assert all((by_id[i].state, by_id[i].batch_id, by_id[i].tx_hash) == (SETTLED, i // 64, "0x%064x" % i)
               for i in range(1, n + 1, 2))
    assert all((by_id[i].state, by_id[i].batch_id, by_id[i].tx_hash) == (MATCHED, None, "")
               for i in range(2, n + 1, 2))
