"""The WebSocket l2, trades and user channels: every message is checked against the JSON
Schema in docs/schemas/ws (which must equal what offchain/keeper/ws_schema.py generates).

Invariants: an l2 snapshot plus its deltas, applied in seq order (each seq = previous + 1),
is the book's top levels; the user channel is only for a connection that signed the
keeper's one-time challenge as the account (or its agent); public trades name no account."""

import asyncio
import json
import pathlib
import time

import fastjsonschema
import pytest
from hypothesis import given, settings, strategies as st

from offchain.intent import Intent
from offchain.keeper.core import Core, Outbox, SignedOrder, market_config
from offchain.keeper.gateway import Gateway, Hub, publish_user_fill
from offchain.keeper.ratelimit import RateLimiter
from offchain.keeper.ws_schema import schemas
from offchain.matching import Engine
from offchain.order import Order, Signature
from offchain.wire import Cancel

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, order, signed, ws_auth as auth
from .test_amend import SIZE, amend_body
from .test_order_kinds import TICK, mark, with_intent

SCHEMA_DIR = pathlib.Path(__file__).parents[3] / "docs" / "schemas" / "ws"
VALIDATORS = {name: fastjsonschema.compile(json.loads((SCHEMA_DIR / f"{name}.json").read_text()), use_default=False)
              for name in ("l2", "trades", "user", "control")}


def check(message: dict) -> dict:
    """Validate a keeper message against its channel's (or the control) schema."""
    VALIDATORS["control" if "op" in message else message["channel"]](message)
    return message


def post(client, i, o, intent=None):
    body = with_intent(i, o, intent or Intent())
    r = client.post("/orders", json=body)
    assert r.status_code == 200, r.json()
    return r.json()


def recv(ws, n: int) -> list[dict]:
    return [check(ws.receive_json()) for _ in range(n)]


def test_schema_files__equal_the_generated_and_served(client):
    generated = schemas()
    for name, schema in generated.items():
        assert json.loads((SCHEMA_DIR / f"{name}.json").read_text()) == schema, \
            f"docs/schemas/ws/{name}.json is stale: regenerate from offchain/keeper/ws_schema.py"
        assert client.get(f"/ws/schemas/{name}.json").json() == schema
    assert client.get("/ws/schemas/nope.json").status_code == 404


def test_l2__snapshot_then_deltas_rebuild_the_book_seq_contiguous(client):
    post(client, 0, order(0, True, price=PRICE - TICK, nonce=1))
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "l2", "market": 1, "id": 1})
        sub, snap = recv(ws, 2)
        assert sub["op"] == "subscribed" and snap["type"] == "snapshot" and snap["depth"] == 50
        book = {"bids": dict(map(tuple, snap["bids"])), "asks": dict(map(tuple, snap["asks"]))}
        assert book["bids"] == {str(PRICE - TICK): str(SIZE)}
        seq = snap["seq"]
        post(client, 1, order(1, False, price=PRICE + TICK, nonce=1))          # new ask level
        post(client, 2, order(2, True, price=PRICE - TICK, nonce=1))           # bid level grows
        post(client, 3, order(3, False, price=PRICE - TICK, size=2 * SIZE, nonce=1))  # takes the bid level
        deltas = recv(ws, 3)
        for d in deltas:
            assert d["type"] == "delta" and d["seq"] == seq + 1
            seq = d["seq"]
            for side in ("bids", "asks"):
                for price, size in d[side]:
                    if size == "0":
                        book[side].pop(price)
                    else:
                        book[side][price] = size
        depth = client.get("/book/1?depth=50").json()
        assert book["bids"] == dict(map(tuple, depth["bids"])) and book["asks"] == dict(map(tuple, depth["asks"]))
        assert book["bids"] == {} and book["asks"] == {str(PRICE + TICK): str(SIZE)}
        # a resubscribe (what a client does on a gap) starts again from a snapshot, seq continuing
        ws.send_json({"op": "subscribe", "channel": "l2", "market": 1})
        _, again = recv(ws, 2)
        assert again["type"] == "snapshot" and again["seq"] == seq
        ws.send_json({"op": "subscribe", "channel": "l2", "market": 9})
        assert recv(ws, 1)[0] == {"op": "error", "id": None, "detail": "unknown market", "status": 400}


def test_trades__public_and_undone(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "trades", "market": 1})
        recv(ws, 1)
        post(client, 0, order(0, True, nonce=1))
        taker = post(client, 1, order(1, False, size=SIZE // 2, nonce=1))
        (trade,) = recv(ws, 1)
        assert trade == {"channel": "trades", "type": "trade", "market": "1", "id": 1, "price": str(PRICE),
                         "size": str(SIZE // 2), "taker_side": "sell", "ts": trade["ts"]}
        assert ADDR[0] not in json.dumps(trade) and taker["hash"] not in json.dumps(trade)
        k = client.keeper

        async def undo():
            await k.gateway.run_command(lambda ws_, out: k.core.fill_rejected(
                k.core.next_seq(), int(time.time() * 1000), 1, "margin", ws_, out, ("taker",)))
        client.portal.call(undo)
        (undone,) = recv(ws, 1)
        assert undone == {"channel": "trades", "type": "trade_undone", "market": "1", "id": 1, "reason": "margin"}


def test_user__needs_signed_challenge(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "user", "account": ADDR[0], "id": 1})
        assert recv(ws, 1)[0] == {"op": "error", "id": 1, "detail": "not authenticated", "status": 401}
        ws.send_json({"op": "auth", "account": ADDR[0], "signature": "0x" + "11" * 64 + "1b"})
        assert recv(ws, 1)[0]["detail"] == "no challenge"
        assert auth(ws, 0, key=KEYS[1])["detail"] == "bad signature"  # signed by another key
        ws.send_json({"op": "subscribe", "channel": "user", "account": ADDR[0]})
        assert recv(ws, 1)[0]["detail"] == "not authenticated"
        assert auth(ws, 0) == {"op": "authed", "id": "a", "account": ADDR[0]}
        ws.send_json({"op": "subscribe", "channel": "user", "account": ADDR[0], "id": 2})
        assert recv(ws, 1)[0] == {"op": "subscribed", "id": 2, "channel": "user"}
        ws.send_json({"op": "subscribe", "channel": "user", "account": ADDR[1], "id": 3})  # not this one
        assert recv(ws, 1)[0]["detail"] == "not authenticated"


def test_user__order_lifecycle_events_and_fills(client):
    k = client.keeper
    with client.websocket_connect("/ws") as ws:
        auth(ws, 0)
        ws.send_json({"op": "subscribe", "channel": "user", "account": ADDR[0]})
        recv(ws, 1)
        a = post(client, 0, order(0, True, nonce=1), Intent(client_id="life"))
        (placed,) = recv(ws, 1)
        assert [e["event"] for e in placed["events"]] == ["placed"] and placed["order"]["status"] == "open"
        post(client, 1, order(1, False, size=SIZE // 4, nonce=1))
        update, fill = sorted(recv(ws, 2), key=lambda m: m["type"] != "order")
        assert update["events"] == [{"event": "partially_filled", "size": str(SIZE // 4), "price": str(PRICE)}]
        assert fill["type"] == "fill" and fill["fill"]["maker"] == ADDR[0] and fill["fill"]["state"] == "matched"
        r = client.post("/orders/amend", json=amend_body(0, a["hash"], order(0, True, size=SIZE // 2, nonce=2),
                                                         Intent(client_id="life"))).json()
        updates = {m["order"]["hash"]: m for m in recv(ws, 2)}
        assert [e["event"] for e in updates[a["hash"]]["events"]] == ["replaced"]
        assert updates[a["hash"]]["order"]["replaced_by"] == r["hash"]
        assert [e["event"] for e in updates[r["hash"]]["events"]] == ["amended"]
        post(client, 2, order(2, False, size=SIZE // 2, nonce=1))
        update, _ = sorted(recv(ws, 2), key=lambda m: m["type"] != "order")
        assert [e["event"] for e in update["events"]] == ["filled"] and update["order"]["status"] == "filled"
        # a stop: placed (waiting), triggered, then an IOC remainder cancelled with its reason
        client.portal.call(mark, k, PRICE)
        stop = post(client, 0, order(0, True, price=PRICE + 5 * TICK, nonce=3),
                    Intent(kind="stop_market", tif="IOC", trigger_price=PRICE + 2 * TICK))
        (placed,) = recv(ws, 1)
        assert placed["order"]["status"] == "waiting for trigger"
        client.portal.call(mark, k, PRICE + 2 * TICK)
        (fired,) = recv(ws, 1)
        assert fired["order"]["hash"] == stop["hash"]
        assert [e["event"] for e in fired["events"]] == ["triggered", "cancelled"]
        assert fired["events"][1]["reason"] and fired["order"]["status"] in ("cancelled", "done")
        # cancelled by the user, and expired
        c = post(client, 0, order(0, True, price=PRICE - 9 * TICK, nonce=4))
        recv(ws, 1)
        message = Cancel(ADDR[0], 0, (bytes.fromhex(c["hash"][2:]),), int(time.time() * 1000))
        client.post("/orders/cancel", json=message.to_json(message.sign(DOMAIN, KEYS[0])))
        (cancelled,) = recv(ws, 1)
        assert cancelled["events"] == [{"event": "cancelled", "reason": "user", "size": str(SIZE)}]
        e = post(client, 0, order(0, True, price=PRICE - 9 * TICK, nonce=5, expiry=int(time.time()) + 30))
        recv(ws, 1)

        async def sweep():
            await k.gateway.run_command(lambda ws_, out: k.core.expire(k.core.next_seq(),
                                                                        int(time.time() * 1000) + 60_000, ws_, out))
        client.portal.call(sweep)
        (expired,) = recv(ws, 1)
        assert expired["order"]["hash"] == e["hash"] and expired["events"][0]["event"] == "expired"
        # the settlement state of a fill (published by the settlement loop) fits the schema too
        fill_record = k.core.fills[1]
        fill_record.state = "settled"
        hub, queue = Hub(), asyncio.Queue()
        hub.subscribe(("user", ADDR[0]), queue)
        publish_user_fill(hub, fill_record, "fill_state")
        assert check(queue.get_nowait())["fill"]["state"] == "settled"


@pytest.mark.anyio
async def test_l2__subscriber_that_lags__sees_a_seq_gap_then_resubscribes_consistently(offline_keeper):
    """The hub drops messages for a full queue: the client sees seq jump, and a resubscribe's
    snapshot plus the deltas after it is the book again."""
    k = offline_keeper()
    k.gateway.hub.max_queue = 3
    queue: asyncio.Queue = asyncio.Queue()
    snap = check(k.gateway.l2_subscribe(1, queue))
    for n in range(6):  # six changes, room for three
        await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - (n + 1) * TICK, nonce=n + 1))])
    seqs = [check(queue.get_nowait())["seq"] for _ in range(queue.qsize())]
    assert seqs == [snap["seq"] + 1, snap["seq"] + 2, snap["seq"] + 3]  # then nothing: 4..6 dropped
    await k.gateway.place_batch([signed(0, order(0, True, price=PRICE - 9 * TICK, nonce=9))])
    (late,) = [queue.get_nowait() for _ in range(queue.qsize())]
    assert late["seq"] == seqs[-1] + 4  # the gap a client detects: resubscribe
    again = check(k.gateway.l2_subscribe(1, queue))
    assert again["seq"] == late["seq"] and dict(map(tuple, again["bids"])) == \
        {str(p): str(q) for p, q in k.core.engine.depth(1, 50)[0]}

STEP = st.one_of(
    st.tuples(st.just("place"), st.integers(0, 1), st.booleans(), st.integers(-60, 60), st.integers(1, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 1), st.integers(0, 20)),
    st.tuples(st.just("amend"), st.integers(0, 1), st.integers(0, 20), st.integers(-3, 3), st.integers(1, 5)),
)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(steps=st.lists(STEP, min_size=5, max_size=60), subscribe_at=st.integers(0, 10))
def test_l2__property__snapshot_plus_deltas_is_the_book(steps, subscribe_at):
    """Whatever the order flow (crossing, cancels, amends kept and lost), a subscriber's
    snapshot plus its deltas in seq order is the top 50 levels, and seqs are contiguous."""
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    gw = Gateway(core, None, None, Hub(), RateLimiter(1e9, 1e9))
    queue: asyncio.Queue = asyncio.Queue()
    sig, accounts, ts = Signature(27, 1, 1), ADDR[:2], 1_000
    book = None
    for n, step in enumerate(steps):
        if n == subscribe_at:
            snap = check(gw.l2_subscribe(1, queue))
            book, seq = ({"bids": dict(map(tuple, snap["bids"])), "asks": dict(map(tuple, snap["asks"]))},
                         snap["seq"])
        ts += 1
        out = Outbox.new()
        who = accounts[step[1]]
        live = sorted((core.orders[h] for h in core.by_nonce_account.get(who, ())), key=lambda s: s.seq)
        if step[0] == "place":
            _, _, is_buy, ticks, lots = step
            o = Order(who, 1, is_buy, PRICE + ticks * TICK, lots * MARKET.lot, n, 10**10, 0)
            core.place(SignedOrder(n.to_bytes(32, "big"), o, sig, who, core.next_seq(), "GTC"), ts, None, out)
        elif step[0] == "cancel" and live:
            core.cancel(core.next_seq(), ts, who, [live[step[2] % len(live)].hash], 0, None, out)
        elif step[0] == "amend" and live:
            old = live[step[2] % len(live)]
            o = Order(who, 1, old.order.is_buy, old.order.price + step[3] * TICK, step[4] * MARKET.lot, n,
                      10**10, 0)
            core.amend(old, SignedOrder(n.to_bytes(32, "big"), o, sig, who, core.next_seq(), "GTC"), ts, None, out)
        gw.publish_channels(out)
    if book is None:
        return
    while not queue.empty():
        delta = check(queue.get_nowait())
        assert delta["seq"] == seq + 1
        seq = delta["seq"]
        for side in ("bids", "asks"):
            for price, size in delta[side]:
                if size == "0":
                    del book[side][price]
                else:
                    book[side][price] = size
    bids, asks = core.engine.depth(1, 50)
    assert book == {"bids": {str(p): str(q) for p, q in bids}, "asks": {str(p): str(q) for p, q in asks}}


def test_orders_fills__private__eavesdropper_refused_and_sees_nothing(client):
    """The account channels `orders` and `fills` need the same auth as `user`: another
    authenticated trader, an unauthenticated socket and the old `*` firehose are refused
    with `not authenticated` and receive none of the victim's events; the victim's agent
    may subscribe."""
    k = client.keeper
    k.core.account(ADDR[0]).agents.add(ADDR[3])
    with client.websocket_connect("/ws") as spy, client.websocket_connect("/ws") as own, \
            client.websocket_connect("/ws") as agent:
        for i, channel in enumerate(("orders", "fills")):
            spy.send_json({"op": "subscribe", "channel": channel, "account": ADDR[0], "id": i})
            assert spy.receive_json() == {"op": "error", "id": i, "detail": "not authenticated", "status": 401}
        assert auth(spy, 1)["op"] == "authed"  # authenticated, but as someone else
        for i, (channel, who) in enumerate((("orders", ADDR[0]), ("fills", ADDR[0]), ("fills", "*"))):
            spy.send_json({"op": "subscribe", "channel": channel, "account": who, "id": 10 + i})
            assert spy.receive_json() == {"op": "error", "id": 10 + i, "detail": "not authenticated", "status": 401}
        assert auth(own, 0)["op"] == "authed"
        assert auth(agent, 0, key=KEYS[3])["op"] == "authed"  # an agent signs for the account
        for ws in (own, agent):
            for channel in ("orders", "fills"):
                ws.send_json({"op": "subscribe", "channel": channel, "account": ADDR[0], "id": channel})
                assert ws.receive_json() == {"op": "subscribed", "id": channel, "channel": channel}
        spy.send_json({"op": "subscribe", "channel": "fills", "account": ADDR[1], "id": "mine"})
        assert spy.receive_json()["op"] == "subscribed"  # its own fills: allowed
        post(client, 0, order(0, True))
        post(client, 2, order(2, False))  # ADDR[0]'s order fills against ADDR[2]
        for ws in (own, agent):
            got = {m["channel"] for m in (ws.receive_json() for _ in range(3))}
            assert got == {"orders", "fills"}
        post(client, 1, order(1, True, price=PRICE - 100 * TICK))  # a marker: the spy's own order
        spy.send_json({"op": "challenge", "id": "end"})
        assert spy.receive_json()["op"] == "challenge"  # nothing of ADDR[0]'s came before it
