"""Hostile traders through the API: signed orders with every field at its bounds, forged
and foreign-domain signatures, replays of earlier requests (also after a cancel or an
amend, and over the other transport), cancels and amends of other accounts' orders, and
mark moves with large gaps between them; each request over HTTP or the WebSocket.

Checked after every request (stateful, hypothesis):
- a refused request changes nothing: no fill, no book change, no other order touched; a
  request refused before the engine (admission, signature, parse) leaves no journal row;
- every refusal's reason is a stable one: a keeper or engine reason listed in docs/api.md,
  or a 422 naming the field;
and at the end: every fill is between two different accounts, at a price inside the band
around the mark at the time it was made, of orders their own accounts signed; no order is
filled beyond its size; the journal replays into the same state."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.keeper.admission import Reason
from offchain.matching.types import Reason as EngineReason
from offchain.order import Domain, Order, sign_hash, sign_order
from offchain.intent import Intent, sign_intent
from offchain.wire import Cancel, CancelByClientId, amend_digest, amend_request, hash_hex, place_request

from .helpers import ADDR, DOMAIN, EXCHANGE, KEYS, MARKET, PRICE, OfflineKeeper
from .test_hostile_input import assert_consistent, state_of
from .test_hostile_routes import make_client

TICK, LOT = MARKET.tick, MARKET.lot
TRADERS = 3
ATTACKER = 7  # KEYS[7]: signs for itself, or forges for the traders
OTHER_DOMAIN = Domain(1, EXCHANGE)  # another chain, same Exchange address
DOCUMENTED = {r.value for r in Reason} | {r.value for r in EngineReason}
ENGINE = {r.value for r in EngineReason}
API_DOC = (Path(__file__).parents[3] / "docs" / "api.md").read_text()


def band(mark: int) -> tuple[int, int]:
    """The chain's band around `mark` (Exchange: price within mark +- band_bps)."""
    return -(-mark * (10_000 - MARKET.band_bps) // 10_000), mark * (10_000 + MARKET.band_bps) // 10_000


def _pick(rnd, valid: list, hostile: list):
    """Mostly a valid value (so orders rest and match), sometimes one at or past a bound."""
    return rnd.choice(valid) if rnd.random() < 0.93 else rnd.choice(hostile)


def hostile_order(rnd, now: int, mark: int, n: int) -> tuple[int, Order]:
    """Request `n`'s order: a fresh nonce unless it reuses one, any side, any trader."""
    i = rnd.randrange(TRADERS)
    lo, hi = band(mark)
    edge_lo, edge_hi = -(-lo // TICK) * TICK, hi // TICK * TICK
    price = _pick(rnd, [mark // TICK * TICK + d * TICK for d in range(-3, 4)] + [edge_lo, edge_hi],
                  [edge_lo - TICK, edge_hi + TICK, mark + 1, TICK, 0, 2**256 - 1, mark * 3 // TICK * TICK])
    size = _pick(rnd, [LOT, 3 * LOT, 10 * LOT, 50 * LOT], [LOT + 1, 0, 10**30, 2**256 - 1])
    expiry = _pick(rnd, [now + 3600], [now - 1, 0, 2**64, 2**256 - 1])
    flags = _pick(rnd, [0] * 6 + [1, 2], [3, 4, 8, 16, 2**255])
    nonce = _pick(rnd, [n + 1], [1, 0, 2**256 - 1])
    market = _pick(rnd, [1], [0, 2, 2**256 - 1])
    return i, Order(ADDR[i], market, rnd.random() < 0.5, price, size, nonce, expiry, flags)


def place_body(o: Order, key: str, domain: Domain = DOMAIN, tif: str = "GTC", intent: Intent | None = None,
               intent_key: str | None = None) -> dict:
    from offchain.wire import order_to_json

    if intent is not None:  # keeper-side semantics, signed (by intent_key: maybe not the order's signer)
        return place_request(o, sign_order(o, domain, key), intent=intent,
                             intent_signature=sign_intent(o, intent, domain, intent_key or key))
    return {"order": order_to_json(o), "signature": sign_order(o, domain, key).to_hex(), "tif": tif}


CLIENT_IDS = ["a", "b", "c", "x" * 64]


def hostile_intent(rnd, o: Order, mark: int) -> Intent:
    """Any kind, tif, trigger around the mark, slippage, STP mode, post-only mode and a
    client id from a small pool (so ids repeat, across accounts too); often unfit for `o`."""
    kind = rnd.choice(["limit", "limit", "market", "stop_market", "stop_limit", "take_profit",
                       "take_profit_limit", "trailing_stop"])
    trigger = mark + rnd.choice([-5, -1, 1, 5, 0]) * TICK if kind not in ("limit", "market", "trailing_stop") else 0
    return Intent(kind=kind, tif=rnd.choice(["GTC", "GTC", "IOC", "FOK", "GTD"]), trigger_price=max(trigger, 0),
                  trail_bps=rnd.choice([50, 0]) if kind == "trailing_stop" else 0,
                  slippage_bps=rnd.choice([0, 10, 100]) if kind in ("market", "stop_market", "take_profit") else 0,
                  stp=rnd.choice(["default", "expire_taker", "expire_maker", "expire_both", "decrement"]),
                  post_only=rnd.choice(["none", "none", "reject", "slide"]) if o.flags & 1 else "none",
                  client_id=rnd.choice(CLIENT_IDS + [""]))


class Run:
    """One keeper behind the API, the requests sent so far and the marks over time."""

    def __init__(self, client, ws=None) -> None:
        self.c = client
        self.ws = ws  # a WebSocket to the same keeper: a request goes over it or over HTTP
        self.ids = 0
        self.k: OfflineKeeper = client.keeper
        self.sent: list[tuple[str, dict]] = []   # (path, body) of every request, for replays
        self.hashes: list[str] = []              # every order hash the keeper answered with
        self.mark = PRICE
        self.fill_marks: dict[int, int] = {}     # fill id -> mark when it was made
        self.ts = int(time.time() * 1000)

    def set_mark(self, price: int) -> None:
        """A mark move (its triggers may fire and fill: at the new mark's band)."""
        k = self.k
        seq, ts = k.core.next_seq(), int(time.time() * 1000)
        before = {f.id for f in k.fills}
        self.c.portal.call(k.gateway.run_command, lambda ws, out: k.core.set_mark(seq, ts, 1, price, ws, out))
        self.mark = price
        for fill in k.fills:
            if fill.id not in before:
                self.fill_marks[fill.id] = price

    def post(self, path: str, body: dict, over_ws: bool = False) -> tuple[int, str | None, dict]:
        """(status, refusal reason or None, json) of one request, over HTTP or the WebSocket."""
        self.sent.append((path, body))
        if over_ws and self.ws is not None:
            status, data = self._over_ws(path, body)
        else:
            r = self.c.post(path, json=body)
            status, data = r.status_code, r.json()
        if status != 200:
            return status, data["detail"], data
        results = data.get("results")
        if results is not None:  # a batch of one
            (data,) = results
        if data.get("hash"):
            self.hashes.append(data["hash"])
        if data.get("status") == "rejected":
            return 400, data["reason"], data
        return 200, None, data


    def _over_ws(self, path: str, body: dict) -> tuple[int, dict]:
        self.ids += 1
        op = {"/orders": "place", "/orders/batch": "place", "/orders/cancel": "cancel",
              "/orders/amend": "amend", "/orders/cancel-by-client-id": "cancel_by_client_id"}[path]
        message = {"op": op, "id": self.ids, **body} if op != "place" else \
            {"op": op, "id": self.ids, "orders": body["orders"] if path == "/orders/batch" else [body]}
        self.ws.send_json(message)
        reply = self.ws.receive_json()  # no subscriptions: the next message is the answer
        assert reply.get("id") == self.ids, reply
        if reply["op"] == "error":
            return reply["status"], {"detail": reply["detail"]}
        if op == "place":
            (result,) = reply["results"]
            if path == "/orders" and result["status"] == "rejected":  # as HTTP answers it
                return (409 if result["reason"] in ("duplicate order", "duplicate client id") else 400,
                        {"detail": result["reason"]})
            return 200, {"results": [result]} if path == "/orders/batch" else result
        return 200, reply["result"]


def assert_refusal_changed_nothing(run: Run, before, status: int, reason: str, fills_before: set) -> None:
    book, orders, fills = state_of(run.k.core)
    b_book, b_orders, b_fills = before[0]
    assert book == b_book and fills == b_fills and set(run.k.core.fills) == fills_before, reason
    # no order that existed before changed; an engine refusal may add the refused order itself
    assert {h: v for h, v in orders.items() if h in b_orders} == b_orders, reason
    if status == 422:
        assert isinstance(reason, str) and reason
    else:
        assert reason in DOCUMENTED or reason.startswith("batch larger than"), reason
    if reason not in ENGINE:
        assert run.k.core.seq == before[1] and orders == b_orders, reason


STEPS = ["place"] * 8 + ["intent"] * 3 + ["forged", "foreign_domain", "forged_intent", "replay", "cancel",
                                         "cancel_foreign", "cancel_cid", "cancel_cid_foreign", "amend",
                                         "amend_foreign", "mark"]
FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@FUZZ
@given(seed=st.integers(0, 2**32))
def test_hostile_traders__refusals_change_nothing_and_fills_stay_sound(tmp_path_factory, seed):
    # a plain PRNG from the drawn seed: hypothesis' own draws lean to the hostile ends of
    # every choice, and a run needs mostly valid orders to rest and match between attacks
    rnd = random.Random(seed)
    c = make_client(tmp_path_factory.mktemp("orders"))
    with c, c.websocket_connect("/ws") as ws:
        run = Run(c, ws)
        run.set_mark(PRICE)
        for step in rnd.choices(STEPS, k=40):
            now = int(time.time())
            if step == "mark":  # large gaps both ways; the band moves with it
                run.set_mark(max(TICK, run.mark * rnd.choice([50, 95, 105, 150, 300]) // 100
                                 // TICK * TICK))
                continue
            if step == "replay" and run.sent:
                path, body = rnd.choice(run.sent)
            elif step in ("cancel", "cancel_foreign") and run.hashes:
                i = rnd.randrange(TRADERS)
                key = KEYS[ATTACKER] if step == "cancel_foreign" else KEYS[i]
                picked = rnd.sample(run.hashes, min(len(run.hashes), rnd.randrange(4)))
                hashes = tuple(bytes.fromhex(h[2:]) for h in picked)
                run.ts += rnd.choice([1, 1, 1, 0, -5])  # fresh, replayed, older
                message = Cancel(ADDR[i], 1, hashes, run.ts)
                path, body = "/orders/cancel", message.to_json(message.sign(DOMAIN, key))
            elif step in ("cancel_cid", "cancel_cid_foreign"):
                i = rnd.randrange(TRADERS)
                key = KEYS[ATTACKER] if step == "cancel_cid_foreign" else KEYS[i]
                run.ts += rnd.choice([1, 1, 1, 0, -5])
                ids = tuple(rnd.sample(CLIENT_IDS, rnd.randrange(1, 3)))
                cid = CancelByClientId(ADDR[i], ids, run.ts)
                path, body = "/orders/cancel-by-client-id", cid.to_json(cid.sign(DOMAIN, key))
            elif step in ("amend", "amend_foreign") and run.hashes:
                i, o = hostile_order(rnd, now, run.mark, len(run.sent))
                old = rnd.choice(run.hashes)
                key = KEYS[ATTACKER] if step == "amend_foreign" else KEYS[i]
                new_hash = bytes.fromhex(hash_hex(o, DOMAIN)[2:])
                binding = sign_hash(amend_digest(bytes.fromhex(old[2:]), new_hash, DOMAIN), key)
                path, body = "/orders/amend", amend_request(old, place_body(o, KEYS[i]), binding)
            else:
                i, o = hostile_order(rnd, now, run.mark, len(run.sent))
                key = KEYS[ATTACKER] if step == "forged" else KEYS[i]
                tif = rnd.choice(["GTC"] * 4 + ["IOC", "FOK"])
                intent = hostile_intent(rnd, o, run.mark) if step in ("intent", "forged_intent") else None
                body = place_body(o, key, OTHER_DOMAIN if step == "foreign_domain" else DOMAIN, tif, intent,
                                  KEYS[ATTACKER] if step == "forged_intent" else None)
                path = rnd.choice(["/orders", "/orders/batch"])
                if path == "/orders/batch":
                    body = {"orders": [body]}
            before = (state_of(run.k.core), run.k.core.seq)
            fills_before = set(run.k.core.fills)
            journal_before = len(list(run.k.journal.commands()))
            status, reason, _ = run.post(path, body, over_ws=rnd.random() < 0.5)
            for fill_id in set(run.k.core.fills) - fills_before:
                run.fill_marks[fill_id] = run.mark
            if reason is not None:
                assert_refusal_changed_nothing(run, before, status, reason, fills_before)
                if reason not in ENGINE:
                    assert len(list(run.k.journal.commands())) == journal_before, reason
        assert c.get("/health").status_code == 200
        assert run.ids > 0  # some requests went over the WebSocket
        assert_consistent(run.k)
        filled: dict[bytes, int] = {}
        for fill in run.k.fills:  # every fill the keeper made, in order
            assert fill.maker_account != fill.taker_account
            lo, hi = band(run.fill_marks[fill.id])
            assert lo <= fill.price <= hi, (fill, run.fill_marks[fill.id])
            for h in (fill.maker_hash, fill.taker_hash):
                filled[h] = filled.get(h, 0) + fill.size
        for h, size in filled.items():  # live or finished, the journal has every order
            row, _, _ = run.k.journal.order("0x" + h.hex())
            assert row.signer == row.account, "an order someone else signed was filled"
            assert size <= row.size
    c.keeper.journal.close()


def test_docs__every_keeper_and_engine_reason_is_listed_in_api_md():
    missing = sorted(r for r in DOCUMENTED if f"`{r}`" not in API_DOC)
    assert missing == [], f"reasons not in docs/api.md: {missing}"


def test_refusal_reasons__each_has_a_sentence_in_the_shared_reasons_table():
    from offchain.client.wallet import reasons

    table = reasons()
    assert sorted(r for r in DOCUMENTED if r not in table) == []
