import json

from offchain.keeper.journal import MATCHED, SETTLED, Journal, WriteSet


def db(tmp_path):
    return Journal(f"sqlite:///{tmp_path}/j.db")


def test_write__commands_read_back_in_sequence_order(tmp_path):
    j = db(tmp_path)
    ws = WriteSet(commands=[{"seq": s, "ts": s, "kind": "mark", "account": "", "body": "{}"} for s in (3, 1, 2)])
    j.write(ws)
    assert [r.seq for r in j.commands()] == [1, 2, 3]
    assert [r.seq for r in j.commands(after=1, chunk=1)] == [2, 3]


def test_write__uint256_values_round_trip(tmp_path):
    j = db(tmp_path)
    big = 2**256 - 1
    fill = {"id": 1, "seq": 1, "ts": 0, "market": 1, "price": big, "size": big, "maker_hash": "0x" + "11" * 32,
            "taker_hash": "0x" + "22" * 32, "maker_account": "0xa", "taker_account": "0xb", "maker_is_buy": True,
            "state": MATCHED, "batch_id": None, "reason": "", "tx_hash": ""}
    j.write(WriteSet(fills=[fill]))
    j.write(WriteSet(fill_updates=[{"id": 1, "state": SETTLED, "batch_id": 7}]))
    (row,) = j.fills()
    assert row.size == big and row.price == big and row.state == SETTLED and row.batch_id == 7


def test_write__failed_transaction__nothing_written(tmp_path):
    j = db(tmp_path)
    row = {"seq": 1, "ts": 0, "kind": "mark", "account": "", "body": "{}"}
    j.write(WriteSet(commands=[row]))
    try:
        j.write(WriteSet(commands=[{**row, "seq": 2}, row]))  # duplicate seq 1 fails the whole set
    except Exception:
        pass
    assert [r.seq for r in j.commands()] == [1]


def test_cursor__insert_then_update(tmp_path):
    j = db(tmp_path)
    assert j.cursor("watcher") is None
    j.write(WriteSet(cursors={"watcher": 5}))
    j.write(WriteSet(cursors={"watcher": 9}))
    assert j.cursor("watcher") == 9


def test_batches__state_filter_and_max_ids(tmp_path):
    j = db(tmp_path)
    j.write(WriteSet(batches=[{"id": 1, "ts": 0, "nonce": 4, "tx_hash": "0x1", "raw_tx": "0x", "fill_ids": json.dumps([1]),
                               "state": "submitted"}]))
    assert [b.id for b in j.batches("submitted")] == [1]
    assert j.max_ids() == (0, 0, 1)


def test_sqlite__wal_and_full_sync(tmp_path):
    j = db(tmp_path)
    with j.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
