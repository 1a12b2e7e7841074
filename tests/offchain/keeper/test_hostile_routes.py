"""Hostile input against the routes around the order path: WebSocket subscriptions and
frames, the read-only GET routes, and POST /transfers. Whatever a client sends, it gets a
4xx whose `detail` is a string (never a 500), no state changes, the keeper keeps serving,
and no client-chosen value becomes a key the keeper keeps after the client left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.order import address_of

from .helpers import ADDR, order, ws_auth
from .test_hostile_input import JSON, assert_consistent, body, serving
from .test_hostile_input import make_client as hostile_client

HERE = Path(__file__).parent
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def make_client(tmp_path) -> TestClient:
    # raise_server_exceptions=False: a handler that fails is seen as the 500 a client gets
    return hostile_client(tmp_path, raise_server_exceptions=False)


@pytest.fixture
def client(tmp_path):
    yield from serving(tmp_path, raise_server_exceptions=False)


# -- WebSocket subscriptions ---------------------------------------------------------------
CHANNELS = ["book", "l2", "trades", "funding", "user", "orders", "fills"]


@st.composite
def subscribe(draw) -> dict:
    msg = {"op": "subscribe", "id": 1,
           "channel": draw(st.sampled_from(CHANNELS) | JSON)}
    for key in ("market", "account"):
        if draw(st.booleans()):
            msg[key] = draw(st.sampled_from([1, "1", 0, 2, ADDR[0], ADDR[0].lower()]) | JSON
                            | st.floats() | st.integers(-(2**300), 2**300))
    return msg


@FUZZ
@given(messages=st.lists(subscribe(), min_size=1, max_size=8))
def test_ws_subscribe__any_channel_market_account__answered_4xx_and_no_key_left(tmp_path_factory, messages):
    c = make_client(tmp_path_factory.mktemp("sub"))
    hub = c.keeper.gateway.hub
    with c, c.websocket_connect("/ws") as ws:
        for msg in messages:
            ws.send_text(json.dumps(msg))
            while True:
                reply = ws.receive_json()
                if reply.get("op") in ("subscribed", "error"):
                    break
            if reply["op"] == "error":
                assert 400 <= reply["status"] < 500 and isinstance(reply["detail"], str), reply
            else:  # only a market the keeper lists (no auth on this socket: no private channel)
                assert reply["channel"] in ("book", "l2", "trades", "funding")
        assert {key[1] for key in hub.subs} <= {1}, hub.subs
        assert c.get("/health").status_code == 200
    assert hub.subs == {} and not any(hub.per_channel.values())
    assert c.keeper.core.seq == 0
    c.keeper.journal.close()


@pytest.mark.parametrize("market,detail", [("abc", "unknown market"), ([1], "unknown market"),
                                           (2, "unknown market"), (True, "unknown market"),
                                           (1.0, "unknown market"), (10**30, "unknown market"),
                                           ("01", "unknown market"), ("+1", "unknown market"),
                                           (" 1", "unknown market")])
def test_ws_subscribe_funding__bad_or_unknown_market__unknown_market_not_500(client, market, detail):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "id": 7, "channel": "funding", "market": market})
        assert ws.receive_json() == {"op": "error", "id": 7, "detail": detail, "status": 400}
        ws.send_json({"op": "subscribe", "id": 8, "channel": "funding", "market": "1"})
        assert ws.receive_json() == {"op": "subscribed", "id": 8, "channel": "funding"}
    assert client.keeper.gateway.hub.subs == {}


def test_ws_private_channels__fresh_accounts_per_connection__hub_keeps_no_key_after_they_leave(client):
    """Anyone can make a fresh key, sign its own challenge and subscribe its own account:
    the keys of such subscriptions must leave with their connection."""
    hub = client.keeper.gateway.hub
    for n in range(5):
        key = "0x" + f"{1000 + n:064x}"
        who = address_of(key)
        with client.websocket_connect("/ws") as ws:
            assert ws_auth(ws, 0, key=key, account=who)["op"] == "authed"
            for channel in ("user", "orders", "fills"):
                ws.send_json({"op": "subscribe", "id": channel, "channel": channel, "account": who})
                assert ws.receive_json() == {"op": "subscribed", "id": channel, "channel": channel}
            assert len(hub.subs) == 3
    assert hub.subs == {} and not any(hub.per_channel.values())


# -- WebSocket frames ----------------------------------------------------------------------
@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"op":"place","id":"\xff","orders":[]}',
                                 '{"op":"place","orders":[]}'.encode("utf-16"),
                                 b'\xef\xbb\xbf{"op":"place","orders":[]}'],
                         ids=["not-utf8", "bad-byte-in-string", "utf16", "bom"])
def test_ws_binary_frame__not_utf8_json__422_never_repaired(client, raw):
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(raw)
        reply = ws.receive_json()
        assert reply["op"] == "error" and reply["status"] == 422 and reply["detail"].startswith("bad message")
        ws.send_json({"op": "place", "id": 2, "orders": []})  # the connection still serves
        assert ws.receive_json() == {"op": "ack", "id": 2, "results": []}
    assert client.keeper.core.seq == 0


def test_ws_binary_frame__utf8_json__handled_as_text(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(json.dumps({"op": "place", "id": 1, "orders": [body(0, order(0, True))]}).encode())
        (result,) = ws.receive_json()["results"]
    assert result["status"] == "accepted"
    assert_consistent(client.keeper)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_http_body__not_plain_utf8__422_and_no_state(client, encoding):
    raw = json.dumps(body(0, order(0, True))).encode(encoding)
    r = client.post("/orders", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith("body is not JSON")
    assert client.keeper.core.seq == 0


# -- GET routes ----------------------------------------------------------------------------
SEGMENT = (st.integers(-(2**300), 2**300).map(str) | st.text(max_size=20)
           | st.sampled_from(["1", "01", "1e3", "0x10", ADDR[0], "%00", "..", "9" * 5000]))
ROUTES = ["/book/{}", "/book/1?depth={}", "/fills/{}", "/orders/{}", "/accounts/{}",
          "/accounts/{}/orders", "/accounts/{}/fills", "/accounts/" + ADDR[0] + "/fills?limit={}",
          "/accounts/" + ADDR[0] + "/orders/by-client-id/{}", "/ws/schemas/{}.json", "/funding/{}",
          "/funding/1/history?limit={}", "/risk/liquidations?limit={}", "/accounts/{}/risk",
          "/accounts/{}/funding", "/accounts/{}/subaccounts"]


@FUZZ
@given(requests=st.lists(st.tuples(st.sampled_from(ROUTES), SEGMENT), min_size=1, max_size=10))
def test_get__any_path_or_query_value__answered_with_a_string_detail_never_500(tmp_path_factory, requests):
    from urllib.parse import quote

    c = make_client(tmp_path_factory.mktemp("get"))
    with c:
        for route, segment in requests:
            r = c.get(route.format(quote(segment, safe="")))
            assert r.status_code < 500 or r.status_code == 503, (route, segment, r.status_code, r.text)
            if r.status_code != 200:
                assert isinstance(r.json()["detail"], str), r.text
        assert c.get("/health").json()["seq"] == 0
    c.keeper.journal.close()


def test_get_fill__id_beyond_the_database_integer__404(client):
    for fill_id in ("0", str(2**63), "9" * 30):  # "-1": off the integer rule, 422 (below)
        r = client.get(f"/fills/{fill_id}")
        assert (r.status_code, r.json()) == (404, {"detail": "unknown fill"})


def test_get__bad_query_parameter__422_with_a_string_detail(client):
    r = client.get("/book/1?depth=0")
    assert (r.status_code, r.json()) == (422, {"detail": "depth: Input should be greater than or equal to 1"})


# -- POST /transfers -----------------------------------------------------------------------
T = {"from_account": ADDR[0], "to_account": ADDR[1], "market": 1, "size": "-5", "price": "2000000000",
     "nonce": "1", "expiry": 2**40}


@pytest.mark.parametrize("raw,detail", [
    (b"junk", "body is not JSON"),
    (b"[]", "request must be an object"),
    (b'{"transfer": 1}', "transfer must be an object"),
    (json.dumps({"transfer": T, "extra": 1}).encode(), "request: unknown field 'extra'"),
    (json.dumps({"transfer": {**T, "memo": "x"}}).encode(), "transfer: unknown field 'memo'"),
    (json.dumps({"transfer": {k: v for k, v in T.items() if k != "nonce"}}).encode(), "transfer.nonce missing"),
    (json.dumps({"transfer": {**T, "market": 1.0}}).encode(), "transfer.market must be an integer"),
    (json.dumps({"transfer": {**T, "market": True}}).encode(), "transfer.market must be an integer"),
    (json.dumps({"transfer": {**T, "price": " 2"}}).encode(), "transfer.price must be a decimal string"),
    (json.dumps({"transfer": {**T, "size": "-0"}}).encode(), "transfer.size must be a signed decimal"),
    (json.dumps({"transfer": {**T, "size": -(2**255) - 1}}).encode(), "transfer.size out of int256 range"),
    (json.dumps({"transfer": {**T, "from_account": "0x" + "a" * 39}}).encode(), "transfer.from_account must be"),
    (json.dumps({"transfer": T, "from_signature": 5}).encode(), "from_signature must be 0x"),
    (json.dumps({"transfer": T, "to_signature": "0x" + "00" * 64 + "01"}).encode(), "to_signature: v must be"),
])
def test_post_transfers__malformed_body__422_naming_the_field(client, raw, detail):
    r = client.post("/transfers", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"].startswith(detail), r.text


def test_post_transfers__well_formed_body__reaches_the_relay(client):
    """The strict parse takes what the SDK sends (offchain.client.subaccounts.relay_body):
    past it, an offline keeper answers 503 "no chain"."""
    r = client.post("/transfers", json={"transfer": T, "from_signature": "", "to_signature": None})
    assert (r.status_code, r.json()) == (503, {"detail": "no chain"})


DEEP = """
import sys
sys.path.insert(0, {here!r})
sys.setrecursionlimit(100_000)  # what Ape (`ape run keeper`) and pytest run under
from fastapi.testclient import TestClient
from offchain.keeper.api import ApiLimits, create_app
from helpers import OfflineKeeper
c = TestClient(create_app(OfflineKeeper("sqlite:///{db}"), ApiLimits()), raise_server_exceptions=False)
r = c.post("/transfers", content=b"[" * 1_000_000, headers={{"content-type": "application/json"}})
print(r.status_code, r.json()["detail"], c.get("/health").status_code)
"""


def test_post_transfers__deeply_nested_body__422_and_the_process_lives(tmp_path):
    """Before: starlette's request.json() recursed per level and, under a raised recursion
    limit, a 1 MB body of '[' overflowed the C stack: the keeper process died (SIGSEGV)."""
    script = DEEP.format(here=str(HERE), db=f"{tmp_path}/j.db")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=HERE.parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "422 body is not JSON: nested deeper than 32 200"


# -- duplicate keys --------------------------------------------------------------------------
def test_place__duplicate_key__last_counts_and_a_signed_field_changed_so_is_a_bad_signature(client):
    """JSON with a key twice: the keeper reads the last one (msgspec and the stdlib agree,
    so the journal replays what was read). A relay adding a second `price` after the signed
    one changes what the keeper reads, not what was signed: refused, nothing placed."""
    def post(text: str):
        return client.post("/orders", content=text.encode(), headers={"content-type": "application/json"})

    first = json.dumps(body(0, order(0, True)))
    assert '"price": ' in first and '"flags": ' in first
    decoy_before = first.replace('"price": ', '"price": "1990000000", "price": ', 1)
    r = post(decoy_before)
    assert r.status_code == 200 and r.json()["status"] == "accepted"  # the last is the signed price
    second = json.dumps(body(0, order(0, True, nonce=2)))
    decoy_after = second.replace('"flags": ', '"price": "1990000000", "flags": ', 1)
    r = post(decoy_after)
    assert (r.status_code, r.json()["detail"]) == (400, "bad signature")
    assert client.keeper.core.seq == 1


# -- path and query integers: the wire's integer rule (offchain/keeper/params.py) ---------------
# each is a number to pydantic's lax int (which took all but the last four) and none is canonical
OFF_RULE = ["+1", " 1", "1 ", "1_0", "01", "00", "1.0", "-1", "-0", "1e1", "0x1", "\u0661", str(2**256), "9" * 79]


def _int_parameters(app) -> list[tuple[str, str, str]]:
    """(path, parameter, where) of every GET route's integer parameter, from the OpenAPI schema."""
    found = []
    for path, ops in app.openapi()["paths"].items():
        for p in ops.get("get", {}).get("parameters", []):
            if p["schema"].get("type") == "integer":
                found.append((path, p["name"], p["in"]))
    return found


def _url(path: str, name: str, where: str, value: str) -> str:
    from urllib.parse import quote

    filled = {"market": "1", "address": ADDR[0], "fill_id": "1", "order_hash": "0x" + "00" * 32}
    url = path
    for key, default in filled.items():
        url = url.replace("{" + key + "}", quote(value, safe="") if (key == name and where == "path") else default)
    return url + (f"?{name}={quote(value, safe='')}" if where == "query" else "")


def test_get__every_integer_parameter_off_the_wire_rule__422_bad_integer_and_no_state(client):
    params = _int_parameters(client.app)
    assert {("/book/{market}", "market"), ("/book/{market}", "depth"), ("/fills/{fill_id}", "fill_id"),
            ("/accounts/{address}/fills", "limit"), ("/funding/{market}", "market"),
            ("/funding/{market}/history", "limit"), ("/risk/liquidations", "limit")} <= {(p, n) for p, n, _ in params}
    for path, name, where in params:
        for value in OFF_RULE:
            r = client.get(_url(path, name, where, value))
            assert (r.status_code, r.json()) == (422, {"detail": f"{name}: bad integer"}), (path, name, value)
        # the canonical spelling passes the rule (the route's own answer follows: 200, 404 ...)
        r = client.get(_url(path, name, where, "1"))
        assert r.json().get("detail") != f"{name}: bad integer", (path, name)
    assert client.keeper.core.seq == 0


def test_get__canonical_integers__the_routes_own_range_answers_after_the_rule(client):
    assert client.get("/book/01").json() == {"detail": "market: bad integer"}
    assert client.get("/book/1").json()["market"] == "1"
    assert (client.get("/book/2").status_code, client.get("/book/2").json()) == (404, {"detail": "unknown market"})
    assert client.get("/book/1?depth=501").json() == {"detail": "depth: Input should be less than or equal to 500"}
    assert client.get("/book/1?depth=1_0").json() == {"detail": "depth: bad integer"}
    # a uint256 that is no fill id: the route's 404, as before
    assert client.get(f"/fills/{2**256 - 1}").json() == {"detail": "unknown fill"}


@pytest.mark.parametrize("text", [
    "00" * 32,                          # no 0x: bytes.fromhex took it
    "0x" + " 00" * 32,                  # spaces between the bytes: bytes.fromhex skips them
    "0x" + "00" * 31 + " 00",
    "0X" + "00" * 32,
    "0x" + "00" * 31 + "0",             # 63 digits
    "0x" + "00" * 32 + "0",
    "0x" + "gg" * 32,
    "0x" + "\u0660" * 64,                # non-ASCII digits
])
def test_get_order__hash_off_the_wire_rule__400_not_a_hash(client, text):
    from urllib.parse import quote

    r = client.get("/orders/" + quote(text, safe=""))
    assert (r.status_code, r.json()) == (400, {"detail": "not a hash"})


def test_get_order__canonical_hash__looked_up_in_either_case(client):
    h = client.post("/orders", json=body(0, order(0, True))).json()["hash"]
    assert client.get(f"/orders/{h}").json()["hash"] == h
    assert client.get("/orders/0x" + h[2:].upper()).json()["hash"] == h  # hex digits: the wire takes either case
    assert client.get("/orders/0x" + "00" * 32).json() == {"detail": "unknown order"}
