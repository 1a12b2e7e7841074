"""Hostile input against the API: whatever a client sends, the keeper answers it, changes
no state unless the request is valid as a whole, and its journal stays a gap-free prefix
that a restart replays into the same book, orders and fills.

Invariant checked after every scenario (`assert_consistent`): the journal's commands are
exactly 1..core.seq (no gap), its fills are exactly the keeper's fills, and a fresh Core
replaying the journal has the same book, orders (status, open, filled) and fills."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from offchain.client.messages import place_request
from offchain.keeper.api import ApiLimits, create_app
from offchain.keeper.core import Core, Outbox, market_config
from offchain.matching import Engine

from .helpers import ADDR, KEYS, MARKET, PRICE, OfflineKeeper, order, signed


def make_client(tmp_path, limits: ApiLimits | None = None, raise_server_exceptions: bool = True, **kw):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db", **kw)
    client = TestClient(create_app(keeper, limits or ApiLimits()), raise_server_exceptions=raise_server_exceptions)
    client.keeper = keeper
    return client


def serving(tmp_path, **kw) -> Iterator[TestClient]:
    """make_client's client, started (the app's lifespan) for the test; its journal closed
    after (a `client` fixture yields from it)."""
    c = make_client(tmp_path, **kw)
    with c:
        yield c
    c.keeper.journal.close()


@pytest.fixture
def client(tmp_path):
    yield from serving(tmp_path)


def body(i, o, key=None, tif="GTC"):
    o, sig, _ = signed(i, o, key)
    return place_request(o, sig, tif)


def replayed(keeper) -> Core:
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    out = Outbox.new()
    for row in keeper.journal.commands():
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
    return core


def state_of(core: Core) -> tuple:
    orders = {h: (s.status, s.open, s.filled) for h, s in core.orders.items()}
    fills = {i: (f.maker_hash, f.taker_hash, f.size, f.price) for i, f in core.fills.items()}
    return core.engine.depth(1, 50), orders, fills


def assert_consistent(keeper) -> None:
    seqs = [row.seq for row in keeper.journal.commands()]
    assert seqs == list(range(1, keeper.core.seq + 1)), "journal is not a gap-free prefix"
    assert sorted(r.id for r in keeper.journal.fills()) == sorted(keeper.core.fills)
    assert state_of(replayed(keeper)) == state_of(keeper.core)


def test_ws_place__poisoned_item_after_a_crossing_order__refused_whole_and_nothing_matched(client):
    """The issue's frame: {"op":"place","orders":[<valid crossing order>, 1]}."""
    maker = body(0, order(0, True))
    assert client.post("/orders", json=maker).json()["status"] == "accepted"
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "place", "id": 1, "orders": [body(1, order(1, False)), 1]})
        reply = ws.receive_json()
    assert reply == {"op": "error", "id": 1, "detail": "orders[1] must be an object", "status": 422}
    assert client.keeper.core.fills == {} and client.keeper.fills == []
    (resting,) = client.keeper.core.orders.values()
    assert resting.status == "open" and resting.open == 10**17
    assert_consistent(client.keeper)


def test_http_batch__poisoned_item__422_and_nothing_matched(client):
    client.post("/orders", json=body(0, order(0, True)))
    r = client.post("/orders/batch", json={"orders": [body(1, order(1, False)), {"order": 1}]})
    assert r.status_code == 422 and r.json()["detail"] == "orders[1].order must be an object"
    assert client.keeper.core.fills == {}
    assert_consistent(client.keeper)


def _mutate(b: dict, path: str, value) -> dict:
    b = json.loads(json.dumps(b))
    target = b
    *parents, leaf = path.split(".")
    for p in parents:
        target = target[p]
    target[leaf] = value
    return b


GOOD = None  # filled per test from a real signed body


@pytest.mark.parametrize("path,value,detail", [
    ("order.is_buy", "yes", "order.is_buy must be a boolean"),
    ("order.is_buy", 1, "order.is_buy must be a boolean"),
    ("order.price", "0x77359400", "order.price must be a decimal string or an integer"),
    ("order.price", "02000000000", "order.price must be a decimal string or an integer"),
    ("order.price", 2e9, "order.price must be an integer"),
    ("order.price", True, "order.price must be an integer"),
    ("order.nonce", -1, "order.nonce out of uint256 range"),
    ("order.extra", 1, "order: unknown field 'extra'"),
    ("tif", "gtc", "tif must be one of GTC, IOC, FOK"),
    ("client_id", "x" * 100_000, "client_id: must be signed: send it as intent.client_id"),
    ("client_id", "bot-7:quote#1", "client_id: must be signed: send it as intent.client_id"),
    ("signature", "0x1234", "signature must be 0x + 130 hex digits (r|s|v)"),
])
def test_place__lax_or_oversized_field__422_with_reason_and_no_state(client, path, value, detail):
    b = _mutate(body(0, order(0, True)), path, value)
    r = client.post("/orders", json=b)
    assert r.status_code == 422 and r.json()["detail"] == detail
    assert client.keeper.core.seq == 0 and client.keeper.core.orders == {}


@pytest.mark.parametrize("v_byte", ["00", "01", "1d", "ff"])
def test_place__v_not_27_or_28__422_never_normalised(client, v_byte):
    b = body(0, order(0, True))
    b["signature"] = b["signature"][:-2] + v_byte
    r = client.post("/orders", json=b)
    assert r.status_code == 422 and r.json()["detail"] == "signature: v must be 27 or 28"
    assert client.keeper.core.seq == 0


def test_place__valid_with_signed_client_id__accepted_oversized_refused(client):
    from offchain.intent import Intent

    from .test_order_kinds import with_intent

    ok = client.post("/orders", json=with_intent(0, order(0, True), Intent(client_id="bot-7:quote#1"))).json()
    assert (ok["status"], ok["client_id"]) == ("accepted", "bot-7:quote#1")
    big = with_intent(0, order(0, True, nonce=2), Intent())
    big["intent"]["client_id"] = "x" * 100_000
    r = client.post("/orders", json=big)
    assert r.status_code == 422 and r.json()["detail"].startswith("intent.client_id")


def test_http__body_over_limit__413_before_parse(tmp_path):
    c = make_client(tmp_path, ApiLimits(max_body_bytes=10_000))
    with c:
        big = {"orders": [body(0, order(0, True))] * 40}
        r = c.post("/orders/batch", json=big)
        assert r.status_code == 413 and r.json()["detail"] == "body too large"
        chunked = c.post("/orders/batch", content=iter([b"{" * 6000, b" " * 6000]),
                         headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert c.keeper.core.seq == 0
        assert c.get("/health").status_code == 200


@pytest.mark.parametrize("raw", [b"", b"not json", b"[" * 100_000, b'{"orders": NaN}', b"\xff\xfe",
                                 b'{"orders": [' + b"1" * 5000 + b"]}"],
                         ids=["empty", "text", "deep", "nan", "utf", "huge-int"])
def test_http__unparseable_body__422(client, raw):
    r = client.post("/orders/batch", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)


def test_ws__message_rate_over_limit__closed_1008(tmp_path):
    c = make_client(tmp_path, ApiLimits(ws_rate=1, ws_burst=20))
    with c, c.websocket_connect("/ws") as ws:
        for _ in range(200):  # 180 over the burst: refills (1/s) cannot absorb them however slow the server
            ws.send_text("junk")
        with pytest.raises(WebSocketDisconnect) as info:
            while True:
                ws.receive_json()
        assert info.value.code == 1008
    assert c.get("/health").status_code == 200


def test_ws__message_over_size_limit__closed_1009(tmp_path):
    c = make_client(tmp_path, ApiLimits(max_body_bytes=1000))
    with c, c.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"op": "subscribe", "channel": "x" * 2000}))
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 1009


def test_ws__client_that_never_reads__closed_1008_at_queue_limit(tmp_path, monkeypatch):
    import asyncio

    from offchain.keeper import api

    async def stalled(*_args):  # a peer whose TCP window stays shut: nothing drains
        await asyncio.Event().wait()

    monkeypatch.setattr(api, "_pump", stalled)
    c = make_client(tmp_path, ApiLimits(ws_max_queue=5))
    with c, c.websocket_connect("/ws") as ws:
        for _ in range(200):
            ws.send_text("junk")  # each earns an error reply nobody reads
        codes = []
        try:
            while True:
                ws.receive_json()
        except WebSocketDisconnect as exc:
            codes.append(exc.code)
        assert codes == [1008]


def test_rate_limit__forged_orders_naming_a_victim__victim_budget_untouched(tmp_path):
    """Issue item 3: forged orders (signed by an attacker, naming the victim) are refused
    for their signature and take none of the victim's tokens."""
    c = make_client(tmp_path, rate=0.001, burst=3)
    with c:
        forged = [body(0, order(0, True, nonce=n), key=KEYS[7]) for n in range(20)]
        results = c.post("/orders/batch", json={"orders": forged}).json()["results"]
        assert {r["reason"] for r in results} == {"bad signature"}
        own = [c.post("/orders", json=body(0, order(0, True, nonce=100 + n, price=PRICE - n * 10_000)))
               for n in range(3)]
        assert [r.status_code for r in own] == [200, 200, 200]
        assert c.post("/orders", json=body(0, order(0, True, nonce=200))).status_code == 429


def test_rate_limit__client_ip_budget__429_before_parsing(tmp_path):
    c = make_client(tmp_path, ApiLimits(client_rate=0.001, client_burst=5))
    with c:
        codes = [c.post("/orders", content=b"junk").status_code for _ in range(8)]
        assert codes[:5] == [422] * 5 and codes[5:] == [429] * 3


# -- property: arbitrary frames over WebSocket and HTTP ------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**300), 2**300) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)
# a pool of real signed orders: bids and asks that cross, so valid frames make fills
VALID = [body(i % 4, order(i % 4, i % 2 == 0, nonce=i, price=PRICE + (5 - i % 10) * 10_000, size=10**16 * (1 + i % 3)))
         for i in range(16)]
PATHS = ["order.account", "order.market", "order.is_buy", "order.price", "order.size", "order.nonce",
         "order.expiry", "order.flags", "signature", "tif", "client_id", "order", "zzz"]


@st.composite
def place_item(draw):
    kind = draw(st.sampled_from(["valid", "valid", "mutated", "junk"]))
    good = VALID[draw(st.integers(0, len(VALID) - 1))]
    if kind == "valid":
        return good
    if kind == "mutated":
        return _mutate(good, draw(st.sampled_from(PATHS)), draw(JSON))
    return draw(JSON)


@st.composite
def frame(draw):
    """(transport, payload): a WS message or an HTTP body, valid, poisoned or junk."""
    transport = draw(st.sampled_from(["ws", "ws", "http_batch", "http_one", "http_cancel"]))
    items = draw(st.lists(place_item(), min_size=1, max_size=4))
    if transport == "ws":
        payload = draw(st.sampled_from([
            {"op": "place", "id": 1, "orders": items},
            {"op": "place", "id": "x", "orders": items[0]},
            {"op": "cancel", "id": 2, "account": ADDR[0], "hashes": items, "timestamp": "1", "signature": "0x"},
        ]) | JSON)
        return transport, json.dumps(payload)
    if transport == "http_batch":
        return transport, json.dumps(draw(st.sampled_from([{"orders": items}, items]) | JSON))
    if transport == "http_one":
        return transport, json.dumps(items[0])
    return transport, json.dumps(draw(JSON))


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(frames=st.lists(frame(), min_size=1, max_size=12))
def test_fuzz__arbitrary_frames__every_request_answered_and_journal_replays_same_state(tmp_path_factory, frames):
    c = make_client(tmp_path_factory.mktemp("fuzz"))
    with c, c.websocket_connect("/ws") as ws:
        sent = 0
        for transport, text in frames:
            if transport == "ws":
                ws.send_text(text)
                sent += 1
                continue
            path = {"http_batch": "/orders/batch", "http_one": "/orders", "http_cancel": "/orders/cancel"}[transport]
            r = c.post(path, content=text.encode(), headers={"content-type": "application/json"})
            assert r.status_code in (200, 400, 409, 413, 422, 429), (r.status_code, r.text)
            assert isinstance(r.json()["detail"] if r.status_code != 200 else r.json(), (str, dict))
        replies = 0
        while replies < sent:
            message = ws.receive_json()
            if message.get("op") in ("ack", "error", "subscribed"):
                assert message.get("status", 400) != 500, message
                replies += 1
        assert c.get("/health").status_code == 200
    assert_consistent(c.keeper)
    c.keeper.journal.close()


@pytest.mark.anyio
async def test_admission__chain_time_ahead_of_host__expiry_judged_by_chain_time(offline_keeper):
    """Issue item 6: the keeper's clock is max(host clock, latest block timestamp), so an
    order already expired in chain time is refused instead of matched and skipped."""
    import time

    from offchain.keeper.service import Keeper

    k = offline_keeper()
    shell = Keeper.__new__(Keeper)
    shell.core = k.core
    k.gateway.clock = shell.clock
    k.core.oracle.block_time = int(time.time()) + 7200  # the chain jumped two hours ahead
    expiring = signed(0, order(0, True, expiry=int(time.time()) + 3600))
    later = signed(0, order(0, True, nonce=2, expiry=int(time.time()) + 3 * 3600))

    first, second = await k.gateway.place_batch([expiring, later])
    await k.stop()
    assert first == {"status": "rejected", "reason": "expired"} and second["status"] == "accepted"
