"""Order kinds through the keeper: signed intents parsed, verified, journaled, replayed.

Invariant kept: an order executes only as its signed intent says (kind, trigger, STP, ...),
and the journal alone rebuilds the same book, waiting triggers and fills."""

import time

import pytest

from offchain.intent import Intent, sign_intent
from offchain.keeper.admission import Rejection
from offchain.keeper.core import Core
from offchain.order import sign_order
from offchain.wire import place_request

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, OfflineKeeper, order, signed
from .replay import replay

TICK = MARKET.tick


def with_intent(i: int, o, intent: Intent, intent_key: str | None = None) -> dict:
    return place_request(o, sign_order(o, DOMAIN, KEYS[i]), intent=intent,
                         intent_signature=sign_intent(o, intent, DOMAIN, intent_key or KEYS[i]))


async def mark(k: OfflineKeeper, price: int) -> None:
    seq = k.core.next_seq()
    ts = int(time.time() * 1000)
    await k.gateway.run_command(lambda ws, out: k.core.set_mark(seq, ts, 1, price, ws, out))


@pytest.mark.anyio
async def test_stop_market__mark_crosses__waits_then_fires_and_fills(offline_keeper):
    k = offline_keeper()
    await mark(k, PRICE)
    await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - 20 * TICK))])  # resting bid
    stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 10 * TICK, client_id="sl-1")
    (ack,) = await k.gateway.place_batch([with_intent(1, order(1, False, price=PRICE - 50 * TICK), stop)])
    assert ack["status"] == "accepted" and ack["order_status"] == "waiting for trigger"
    (waiting,) = [s.to_json() for s in k.core.open_orders(ADDR[1])]
    assert waiting["status"] == "waiting for trigger"
    assert waiting["intent"]["trigger_price"] == str(PRICE - 10 * TICK)
    assert waiting["intent"]["client_id"] == "sl-1"
    assert not k.fills
    await mark(k, PRICE - 5 * TICK)  # not yet
    assert not k.fills and k.core.orders[bytes.fromhex(ack["hash"][2:])].status == "waiting for trigger"
    await mark(k, PRICE - 10 * TICK)  # crosses: fires as a market sell into the bid
    (fill,) = k.fills
    assert fill.taker_account == ADDR[1] and fill.price == PRICE - 20 * TICK and fill.size == 10**17
    assert k.core.orders[bytes.fromhex(ack["hash"][2:])].status == "filled"
    assert k.core.open_orders(ADDR[1]) == []
    await k.stop()


@pytest.mark.anyio
async def test_intent__signed_by_other_key__rejected_and_nothing_placed(offline_keeper):
    k = offline_keeper()
    stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 10 * TICK)
    item = with_intent(1, order(1, False), stop, intent_key=KEYS[2])
    (r,) = await k.gateway.place_batch([item])
    assert r == {"status": "rejected", "reason": "bad intent signature"}
    assert k.core.orders == {} and list(k.journal.commands()) == []
    await k.stop()


@pytest.mark.parametrize("patch,reason", [
    ({"kind": "stop"}, "intent.kind: must be one of"),
    ({"kind": "stop_market"}, "intent.trigger_price: required for stop_market"),
    ({"trigger_price": "01"}, "intent.trigger_price must be a decimal string"),
    ({"kind": "market", "tif": "GTC"}, "intent.tif: a market order is IOC or FOK"),
    ({"stp": 3}, "intent.stp must be a string"),
    ({"colour": "red"}, "intent: unknown field 'colour'"),
])
@pytest.mark.anyio
async def test_place__invalid_intent_field__refused_422_naming_it(offline_keeper, patch, reason):
    k = offline_keeper()
    item = with_intent(0, order(0, True), Intent())
    item["intent"].update(patch)
    with pytest.raises(Rejection) as info:
        await k.gateway.place_batch([item])
    assert info.value.status == 422 and info.value.reason.startswith(reason)
    assert k.core.orders == {} and list(k.journal.commands()) == []
    await k.stop()


@pytest.mark.parametrize("extra,reason", [
    ({"tif": "IOC"}, "tif: signed in the intent"),
    ({"client_id": "x"}, "client_id: signed in the intent"),
])
@pytest.mark.anyio
async def test_place__unsigned_tif_or_client_id_beside_intent__refused(offline_keeper, extra, reason):
    k = offline_keeper()
    item = {**with_intent(0, order(0, True), Intent()), **extra}
    with pytest.raises(Rejection, match=reason):
        await k.gateway.place_batch([item])
    await k.stop()


@pytest.mark.anyio
async def test_replay__every_kind_in_journal__same_book_triggers_and_fills(journal_url, offline_keeper):
    k = offline_keeper(journal_url)
    await mark(k, PRICE)
    n = iter(range(1, 1000))
    book = [signed(0, order(0, True, price=PRICE - d * TICK, nonce=next(n))) for d in (1, 3, 6, 12, 20)]
    book += [signed(1, order(1, False, price=PRICE + d * TICK, nonce=next(n))) for d in (1, 3, 6, 12, 20)]
    await k.gateway.place_batch(book)
    kinds = [
        (2, order(2, True, price=PRICE + 10 * TICK, nonce=next(n)),
         Intent(kind="market", tif="IOC", slippage_bps=2, client_id="mkt")),
        (3, order(3, False, price=PRICE - 30 * TICK, nonce=next(n)),
         Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 4 * TICK)),
        (3, order(3, False, price=PRICE - 8 * TICK, nonce=next(n)),
         Intent(kind="stop_limit", trigger_price=PRICE - 5 * TICK)),
        (2, order(2, False, price=PRICE - 30 * TICK, nonce=next(n)),
         Intent(kind="take_profit", tif="IOC", trigger_price=PRICE + 4 * TICK)),
        (2, order(2, True, price=PRICE + 30 * TICK, nonce=next(n)),
         Intent(kind="trailing_stop", tif="IOC", trail_amount=3 * TICK)),
        (4, order(4, True, price=PRICE + 2 * TICK, nonce=next(n), flags=1),
         Intent(post_only="slide", stp="expire_both")),
        (4, order(4, True, price=PRICE - 40 * TICK, nonce=next(n)),
         Intent(kind="take_profit_limit", trigger_price=PRICE - 35 * TICK)),  # never fires
    ]
    acks = await k.gateway.place_batch([with_intent(i, o, intent) for i, o, intent in kinds])
    assert all(a["status"] == "accepted" for a in acks), acks
    for price in (PRICE - 2 * TICK, PRICE - 6 * TICK, PRICE + 1 * TICK, PRICE + 5 * TICK):
        await mark(k, price)
    state = snapshot(k.core)
    await k.stop()
    statuses = state[2]
    assert "waiting for trigger" in statuses and "filled" in statuses and len(state[1]) >= 3
    core = replay(journal_url)
    assert snapshot(core) == state


def snapshot(core: Core):
    depth = core.engine.depth(1, 50)
    fills = [(f.id, f.maker_hash, f.taker_hash, f.size, f.price) for f in core.fills.values()]
    statuses = [s.status for s in sorted(core.orders.values(), key=lambda s: s.seq)]
    waiting = sorted((s.hex, s.open) for s in core.orders.values() if s.status == "waiting for trigger")
    return depth, fills, statuses, waiting, sorted(core.client_ids.items())


@pytest.mark.anyio
async def test_client_id__reused_by_same_account__rejected_other_account_ok_and_queryable(offline_keeper):
    k = offline_keeper()
    cid = Intent(client_id="grid-7")
    first = with_intent(0, order(0, True, price=PRICE - TICK, nonce=1), cid)
    again = with_intent(0, order(0, True, price=PRICE - 2 * TICK, nonce=2), cid)
    other = with_intent(1, order(1, True, price=PRICE - 3 * TICK, nonce=1), cid)
    r = await k.gateway.place_batch([first, again, other])
    assert [x["status"] for x in r] == ["accepted", "rejected", "accepted"]
    assert r[1] == {"status": "rejected", "reason": "duplicate client id"}
    assert k.core.by_client_id(ADDR[0], "grid-7").hex == r[0]["hash"]
    assert k.core.by_client_id(ADDR[1], "grid-7").hex == r[2]["hash"]
    assert k.core.by_client_id(ADDR[0], "nope") is None
    await k.stop()


@pytest.mark.anyio
async def test_trailing_stop__follows_mark_up_fires_on_reversal(offline_keeper):
    k = offline_keeper()
    await mark(k, PRICE)
    await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - 30 * TICK))])  # bid to hit
    trail = Intent(kind="trailing_stop", tif="IOC", trail_amount=10 * TICK)
    (ack,) = await k.gateway.place_batch([with_intent(1, order(1, False, price=PRICE - 100 * TICK), trail)])
    assert ack["order_status"] == "waiting for trigger"
    await mark(k, PRICE + 20 * TICK)   # new high: the stop now sits at +10 ticks
    await mark(k, PRICE + 11 * TICK)   # retraced 9 ticks: still waiting
    assert not k.fills
    await mark(k, PRICE + 10 * TICK)   # retraced 10 ticks from the high: fires
    (fill,) = k.fills
    assert fill.taker_hash.hex() == ack["hash"][2:] and fill.price == PRICE - 30 * TICK
    await k.stop()


@pytest.mark.anyio
async def test_market__slippage_cap__stops_there_remainder_cancelled(offline_keeper):
    k = offline_keeper()
    await mark(k, PRICE)
    asks = [signed(0, order(0, False, price=PRICE + d * TICK, nonce=d, size=10**17)) for d in (1, 2, 30)]
    await k.gateway.place_batch(asks)
    # best ask PRICE + 1 tick; 1 bps of it is 20 ticks: worst = best * 1.0001 = +21 ticks
    market = Intent(kind="market", tif="IOC", slippage_bps=1)
    (ack,) = await k.gateway.place_batch(
        [with_intent(1, order(1, True, price=PRICE + 50 * TICK, size=3 * 10**17), market)])
    assert ack["status"] == "accepted" and ack["fills"] == 2 and ack["order_status"] == "cancelled"  # ioc remainder
    assert sorted(f.price for f in k.fills) == [PRICE + TICK, PRICE + 2 * TICK]
    assert k.core.engine.depth(1)[1] == [(PRICE + 30 * TICK, 10**17)]
    await k.stop()
