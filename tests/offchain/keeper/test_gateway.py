"""Sequencing, group commit and replay: the journal rebuilds the same books and fills."""

import asyncio
import json

from offchain.client.messages import Cancel
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import Journal
from offchain.matching import Engine

import pytest

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, OfflineKeeper, order, signed

pytestmark = pytest.mark.anyio  # async tests; `offline_keeper` (conftest.py) starts and stops keepers


async def test_place__crossing_orders__one_fill_journaled_before_ack(offline_keeper):
    k = offline_keeper()
    r = await k.gateway.place_batch([signed(0, order(0, True)), signed(1, order(1, False))])
    # by the time the ack is back the commands and the fill are on disk
    assert [x["status"] for x in r] == ["accepted", "accepted"]
    assert len(list(k.journal.commands())) == 2 and len(k.journal.fills()) == 1
    assert len(k.fills) == 1 and k.fills[0].size == 10**17


async def test_place__duplicate_order__rejected(offline_keeper):
    k = offline_keeper()
    item = signed(0, order(0, True))
    await k.gateway.place_batch([item])
    (r,) = await k.gateway.place_batch([item])
    assert r == {"status": "rejected", "reason": "duplicate order", "hash": r["hash"]}


async def test_place__rate_limited__rejected_and_other_accounts_pass(offline_keeper):
    k = offline_keeper(rate=1, burst=2)
    items = [signed(0, order(0, True, nonce=n, price=PRICE - 10_000 * n)) for n in range(3)]
    r = await k.gateway.place_batch(items + [signed(1, order(1, True, price=PRICE - 500_000))])
    assert [x["reason"] for x in r[:3]] == ["rate limited"] * 3  # 3 > burst: all or nothing
    assert r[3]["status"] == "accepted"


async def test_place__post_only_would_cross__rejected_by_engine(offline_keeper):
    k = offline_keeper()
    await k.gateway.place_batch([signed(0, order(0, False))])
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, flags=1))])
    assert r["status"] == "rejected" and r["reason"] == "post only"


async def test_cancel__signed_by_account__order_leaves_book(offline_keeper):
    k = offline_keeper()
    (r,) = await k.gateway.place_batch([signed(0, order(0, True))])
    h = bytes.fromhex(r["hash"][2:])
    import time
    c = Cancel(ADDR[0], 0, (h,), int(time.time() * 1000))
    out = await k.gateway.cancel(c, c.sign(DOMAIN, KEYS[0]))
    assert out["cancelled"] == [r["hash"]]
    assert k.core.engine.depth(1) == ([], [])


async def test_cancel__signed_by_stranger__rejected(offline_keeper):
    import time

    import pytest

    from offchain.keeper.admission import Rejection

    k = offline_keeper()
    c = Cancel(ADDR[0], 0, (), int(time.time() * 1000))
    with pytest.raises(Rejection, match="bad signature"):
        await k.gateway.cancel(c, c.sign(DOMAIN, KEYS[1]))


async def test_cancel_all__replayed_message__rejected(offline_keeper):
    import time

    import pytest

    from offchain.keeper.admission import Rejection

    k = offline_keeper()
    c = Cancel(ADDR[0], 0, (), int(time.time() * 1000))
    sig = c.sign(DOMAIN, KEYS[0])
    await k.gateway.cancel(c, sig)
    with pytest.raises(Rejection, match="replayed"):
        await k.gateway.cancel(c, sig)


@pytest.mark.anyio
async def test_replay__journal_rebuilds_books_and_fills_exactly(journal_url, offline_keeper):
    url = journal_url  # SQLite and PostgreSQL (conftest.py)

    k = offline_keeper(url)
    items = []
    for n in range(40):
        i = n % 4
        items.append(signed(i, order(i, n % 3 == 0, price=PRICE + ((n * 7) % 11 - 5) * 10_000, nonce=n,
                                     size=10**15 * (1 + n % 5))))
    for chunk in range(0, 40, 7):
        await k.gateway.place_batch(items[chunk:chunk + 7])
    depth = k.core.engine.depth(1, 50)
    fills = [(f.id, f.maker_hash, f.taker_hash, f.size, f.price) for f in k.core.fills.values()]
    await k.stop()
    assert fills
    journal = Journal(url)
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    out = Outbox.new()
    for row in journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
    assert core.engine.depth(1, 50) == depth
    assert [(f.id, f.maker_hash, f.taker_hash, f.size, f.price) for f in core.fills.values()] == fills
    assert [r.id for r in journal.fills()] == [f[0] for f in fills]
    journal.close()


async def test_fill_rejected__undone_in_keeper_view(offline_keeper):
    k = offline_keeper()
    await k.gateway.place_batch([signed(0, order(0, True, size=2 * 10**17)), signed(1, order(1, False))])
    fill = k.fills[0]
    assert k.core.account(ADDR[0]).position(1) == 10**17
    seq = k.core.next_seq()
    await k.gateway.run_command(lambda ws, out: k.core.fill_rejected(seq, 0, fill.id, "margin", ws, out))
    assert fill.state == "rejected" and fill.reason == "margin"
    assert k.core.account(ADDR[0]).position(1) == 0
    assert k.core.engine.depth(1) == ([], [])  # the maker's remainder left the book


async def test_place_batch__sliced__journal_stays_a_prefix_of_the_sequence(tmp_path):
    """A command that runs between two slices of a big batch is journaled after the slice
    before it, so a crash at any commit boundary leaves a replayable prefix."""
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    k.gateway.slice = 2
    writes = []
    real_write = k.journal.write
    k.journal.write = lambda ws: (writes.append([c["seq"] for c in ws.commands]), real_write(ws))
    big = [signed(0, order(0, True, nonce=n, price=PRICE - n * 10_000)) for n in range(6)]
    other = k.gateway.place_batch([signed(1, order(1, False, price=PRICE - 50_000))])
    await asyncio.gather(k.gateway.place_batch(big), other)
    flat = [s for w in writes for s in w]
    assert flat == sorted(flat) and len(flat) == 7
    await k.stop()
