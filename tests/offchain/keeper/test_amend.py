"""Amend: a new signed order replaces a live one in one sequenced, journaled command.

Invariant kept: the old and the new order never rest together; a size decrease at the same
price keeps the old order's place in its queue, any other change re-queues; a refused amend
changes nothing (the old order keeps resting, nothing is journaled); the journal replays an
amend to the same book, statuses, client ids and fills, and a snapshot keeps the queue."""

import time

import pytest

from offchain.intent import Intent
from offchain.keeper.admission import Rejection
from offchain.keeper.core import Core, market_config
from offchain.matching import Engine, Fill
from offchain.order import sign_hash, sign_order
from offchain.wire import AmendRequest, amend_digest, order_hash, parse_amend, place_request

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, OfflineKeeper, order, order_of, signed
from .replay import replay
from .test_order_kinds import TICK, mark, snapshot, with_intent

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)

SIZE = 10**17


def amend_body(i: int, old_hash: str, new, intent: Intent | None = None, key: str | None = None) -> dict:
    """An amend request of account i: `new` (signed, with `intent`) replaces `old_hash`."""
    place = with_intent(i, new, intent) if intent is not None else place_request(new, sign_order(new, DOMAIN, KEYS[i]))
    old = bytes.fromhex(old_hash[2:])
    binding = sign_hash(amend_digest(old, order_hash(new, DOMAIN), DOMAIN), key or KEYS[i])
    return {**place, "replaces": old_hash, "amend_signature": binding.to_hex()}


async def amend(k: OfflineKeeper, body: dict) -> dict:
    return await k.gateway.amend(parse_amend(body))


async def place(k: OfflineKeeper, i: int, o, intent: Intent | None = None) -> dict:
    (ack,) = await k.gateway.place_batch([with_intent(i, o, intent) if intent is not None else signed(i, o)])
    assert ack["status"] == "accepted", ack
    return ack


async def bid_under_an_ask(k: OfflineKeeper) -> dict:
    """Account 1 asks at PRICE + TICK; account 0's bid rests a tick under PRICE (its ack)."""
    await place(k, 1, order(1, False, price=PRICE + TICK, nonce=1))
    return await place(k, 0, order(0, True, price=PRICE - TICK, nonce=1))


def h(hex_: str) -> bytes:
    return bytes.fromhex(hex_[2:])


async def test_amend__size_down_same_price__keeps_priority_new_hash_fills_first(offline_keeper):
    k = offline_keeper()
    a = await place(k, 0, order(0, True, nonce=1))
    b = await place(k, 1, order(1, True, nonce=1))
    r = await amend(k, amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=2)))
    assert r["status"] == "accepted" and r["priority"] == "kept" and r["replaces"] == a["hash"]
    assert r["open"] == str(SIZE // 2) and r["order_status"] == "open"
    old, new = order_of(k, h(a["hash"])), order_of(k, h(r["hash"]))
    assert old.status == "cancelled" and old.open == 0 and old.replaced_by == r["hash"]
    assert k.core.accounts[ADDR[0]].open_buy[1] == SIZE // 2
    assert k.core.engine.depth(1, 5)[0] == [(PRICE, SIZE // 2 + SIZE)]
    await place(k, 2, order(2, False, size=SIZE // 2, nonce=1))  # takes the head of the queue
    (fill,) = k.fills
    assert fill.maker_hash == new.hash and fill.maker_account == ADDR[0]
    assert new.status == "filled" and order_of(k, h(b["hash"])).open == SIZE
    kinds = [row.kind for row in k.journal.commands()]
    assert kinds == ["place", "place", "amend", "place"]
    await k.stop()


@pytest.mark.parametrize("change", ["size_up", "price"])
async def test_amend__size_up_or_price_change__loses_priority(change, offline_keeper):
    k = offline_keeper()
    a = await place(k, 0, order(0, True, price=PRICE - TICK, nonce=1))
    await place(k, 1, order(1, True, price=PRICE, nonce=1))
    new = order(0, True, price=PRICE - TICK, size=2 * SIZE, nonce=2) if change == "size_up" \
        else order(0, True, price=PRICE, nonce=2)
    r = await amend(k, amend_body(0, a["hash"], new))
    assert r["priority"] == "lost" and r["order_status"] == "open"
    assert order_of(k, h(a["hash"])).status == "cancelled"
    assert k.core.open_orders(ADDR[0]) == [order_of(k, h(r["hash"]))]
    if change == "price":  # now behind account 1's bid at PRICE
        await place(k, 2, order(2, False, price=PRICE, nonce=1))
        (fill,) = k.fills
        assert fill.maker_account == ADDR[1]
    else:
        assert k.core.engine.depth(1, 5)[0] == [(PRICE, SIZE), (PRICE - TICK, 2 * SIZE)]
    await k.stop()


async def test_amend__price_through_the_book__matches_as_taker(offline_keeper):
    k = offline_keeper()
    a = await bid_under_an_ask(k)
    r = await amend(k, amend_body(0, a["hash"], order(0, True, price=PRICE + TICK, nonce=2)))
    assert r["priority"] == "lost" and r["fills"] == 1 and r["order_status"] == "filled"
    assert k.fills[0].taker_hash == h(r["hash"])
    await k.stop()


async def test_amend__refusals__change_nothing(offline_keeper):
    k = offline_keeper()
    first = order(0, True, nonce=1)  # the very order again below: its expiry is from the clock
    a = await place(k, 0, first)
    other = await place(k, 1, order(1, True, nonce=1))
    gone = await place(k, 0, order(0, True, price=PRICE - 5 * TICK, nonce=3))
    await k.gateway.cancel(*_cancel(0, [gone["hash"]]))
    await place(k, 2, order(2, False, price=PRICE + TICK, nonce=1))
    filled = await place(k, 0, order(0, True, price=PRICE + TICK, nonce=4))
    assert order_of(k, h(filled["hash"])).status == "filled"
    before = ([r.seq for r in k.journal.commands()], snapshot(k.core))
    cases = [
        (amend_body(0, "0x" + "ab" * 32, order(0, True, nonce=10)), "unknown order", 404),
        (amend_body(0, other["hash"], order(0, True, nonce=11)), "not your order", 400),
        (amend_body(0, filled["hash"], order(0, True, nonce=12)), "order filled", 400),
        (amend_body(0, gone["hash"], order(0, True, nonce=13)), "order closed", 400),
        (amend_body(0, a["hash"], order(0, False, price=PRICE + 9 * TICK, nonce=14)),
         "amend changes market or side", 400),
        (amend_body(0, a["hash"], order(0, True, nonce=15), key=KEYS[3]), "bad signature", 400),
        (amend_body(0, a["hash"], first), "duplicate order", 409),
        (amend_body(0, a["hash"], order(0, True, price=PRICE + 3, nonce=16)), "price off tick", 400),
        (amend_body(0, a["hash"], order(0, True, nonce=17), Intent(kind="market", tif="IOC")),
         "not amendable", 400),
    ]
    for body, reason, status in cases:
        with pytest.raises(Rejection) as exc:
            await amend(k, body)
        assert (exc.value.reason, exc.value.status) == (reason, status), body
    assert ([r.seq for r in k.journal.commands()], snapshot(k.core)) == before
    assert order_of(k, h(a["hash"])).status == "open"
    await k.stop()


async def test_amend__engine_refuses_replacement__old_order_still_rests(offline_keeper):
    k = offline_keeper()
    a = await bid_under_an_ask(k)
    # post-only (reject) priced through the ask: the engine refuses it
    r = await amend(k, amend_body(0, a["hash"], order(0, True, price=PRICE + TICK, nonce=2, flags=1)))
    assert r["status"] == "rejected" and r["reason"] == "post only"
    old = order_of(k, h(a["hash"]))
    assert old.status == "open" and old.open == SIZE and old.replaced_by is None
    assert k.core.engine.depth(1, 5)[0] == [(PRICE - TICK, SIZE)] and not k.fills
    await k.stop()


async def test_amend__waiting_stop__new_trigger_waits_old_cancelled(offline_keeper):
    k = offline_keeper()
    await mark(k, PRICE)
    await place(k, 0, order(0, True, price=PRICE - 20 * TICK, nonce=1))  # liquidity for the stop
    stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 10 * TICK, client_id="sl")
    s = await place(k, 1, order(1, False, price=PRICE - 50 * TICK, nonce=1), stop)
    moved = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 5 * TICK, client_id="sl")
    r = await amend(k, amend_body(1, s["hash"], order(1, False, price=PRICE - 50 * TICK, nonce=2), moved))
    assert r["priority"] == "lost" and r["order_status"] == "waiting for trigger"
    assert order_of(k, h(s["hash"])).status == "cancelled"
    assert k.core.by_client_id(ADDR[1], "sl").hex == r["hash"]  # the client id follows the amend
    await mark(k, PRICE - 5 * TICK)  # the new trigger fires; the old one could not
    (fill,) = k.fills
    assert fill.taker_hash == h(r["hash"])
    await k.stop()


async def test_amend__client_id_of_another_order__409(offline_keeper):
    k = offline_keeper()
    a = await place(k, 0, order(0, True, nonce=1), Intent(client_id="a"))
    await place(k, 0, order(0, True, price=PRICE - TICK, nonce=2), Intent(client_id="b"))
    with pytest.raises(Rejection) as exc:
        await amend(k, amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=3), Intent(client_id="b")))
    assert (exc.value.reason, exc.value.status) == ("duplicate client id", 409)
    r = await amend(k, amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=3), Intent(client_id="a")))
    assert r["priority"] == "kept" and k.core.by_client_id(ADDR[0], "a").hex == r["hash"]
    await k.stop()


async def test_amend__margin__old_open_size_not_counted_twice(offline_keeper):
    # collateral for ~1 order of SIZE at 10% initial margin (PRICE * SIZE / 1e18 = 200 USDC -> 20 USDC)
    k = offline_keeper(collateral=30 * 10**6)
    a = await place(k, 0, order(0, True, nonce=1))
    (second,) = await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - TICK, nonce=2))])
    assert second["reason"] == "margin"  # two would not fit
    r = await amend(k, amend_body(0, a["hash"], order(0, True, price=PRICE - TICK, nonce=3)))
    assert r["status"] == "accepted"  # one replacing the other does
    await k.stop()


async def test_amend__journal_replays_and_snapshot_keeps_queue(journal_url, offline_keeper):
    k = offline_keeper(journal_url)
    await mark(k, PRICE)
    a = await place(k, 0, order(0, True, nonce=1), Intent(client_id="q"))
    await place(k, 1, order(1, True, nonce=1))
    r1 = await amend(k, amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=2), Intent(client_id="q")))
    s = await place(k, 2, order(2, False, price=PRICE - 30 * TICK, nonce=1),
                    Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 10 * TICK))
    await amend(k, amend_body(2, s["hash"], order(2, False, price=PRICE - 30 * TICK, nonce=2),
                              Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 20 * TICK)))
    c = await place(k, 3, order(3, True, price=PRICE - 2 * TICK, nonce=1))
    await amend(k, amend_body(3, c["hash"], order(3, True, price=PRICE - 3 * TICK, nonce=2)))
    state, snap = snapshot(k.core), k.core.snapshot()
    await k.stop()
    core = replay(journal_url)
    assert snapshot(core) == state
    assert core.orders[h(r1["hash"])].status == "open" and core.by_client_id(ADDR[0], "q").hex == r1["hash"]
    restored = Core(Engine([market_config(MARKET)]), {1: MARKET})
    restored.restore(snap)
    assert snapshot(restored) == state
    assert restored.orders[h(r1["hash"])].replaced_by is None
    for c in (core, restored):  # a taker meets the amended order first, also after a restore
        (e, *_) = [e for e in c.engine.place(_taker()) if isinstance(e, Fill)]
        assert e.maker_id == h(r1["hash"])


def _taker():
    from offchain.matching.types import Place, TimeInForce
    return Place(id=b"t" * 32, account=ADDR[5], market=1, is_buy=False, price=PRICE, size=SIZE // 2,
                 ts=int(time.time() * 1000), tif=TimeInForce.IOC)


def _cancel(i: int, hashes: list[str]):
    from offchain.wire import Cancel
    message = Cancel(ADDR[i], 0, tuple(h(x) for x in hashes), int(time.time() * 1000))
    return message, message.sign(DOMAIN, KEYS[i])


def test_parse_amend__missing_binding_or_bad_hash__422_naming_field():
    from offchain.wire import WireError
    body = amend_body(0, "0x" + "11" * 32, order(0, True))
    for key, value, reason in (("amend_signature", None, "amend_signature missing"),
                               ("replaces", "0x12", "replaces must be a 0x-hex 32-byte hash")):
        broken = dict(body)
        if value is None:
            del broken[key]
        else:
            broken[key] = value
        with pytest.raises(WireError, match=reason):
            parse_amend(broken)
    assert isinstance(parse_amend(body), AmendRequest)


def test_amend_digest__equals_eth_account_typed_data():
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak

    old, new = b"\x01" * 32, b"\x02" * 32
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "Amend": [{"name": "replaces", "type": "bytes32"}, {"name": "order", "type": "bytes32"}]},
        "primaryType": "Amend",
        "domain": {"name": "MMX Exchange", "version": "1", "chainId": DOMAIN.chain_id,
                   "verifyingContract": DOMAIN.exchange},
        "message": {"replaces": old, "order": new},
    }
    signable = encode_typed_data(full_message=typed)
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == amend_digest(old, new, DOMAIN)
