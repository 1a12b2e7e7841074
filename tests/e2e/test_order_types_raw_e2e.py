"""Order types on a real anvil through raw HTTP + eth-account only (no SDK): every message is
built from docs/api.md with eth-account's encode_typed_data and sent with httpx to a keeper
subprocess; results are read back over HTTP and from the Exchange contract. One keeper for
the file (module fixture) to keep the suite's time down; each test leaves the book empty."""

from __future__ import annotations

import time

import httpx
import pytest
from web3 import Web3

from offchain.artifacts import abi
from tests.constants import USDC

from .raw_wire import Raw, until
from .test_keeper_crash import start_keeper
from .vault_helpers import PRICE, mark

pytestmark = pytest.mark.e2e
SIZE = 10**16


def settled(raw: Raw, order_hash: str, count: int) -> list[dict]:
    """The order's fills once none is in flight: exactly `count`, all settled on chain."""
    fills = until(lambda: (f := raw.fills_of(order_hash)) and len(f) >= count
                  and all(x["state"] in ("settled", "rejected") for x in f) and f, "the fills did not settle")
    assert [(f["state"], f["reason"]) for f in fills] == [("settled", "")] * count
    return sorted(fills, key=lambda f: f["id"])


@pytest.fixture(scope="module")
def keeper_url(session_stack, tmp_path_factory):
    stack = session_stack
    tmp = tmp_path_factory.mktemp("raw_order_types")
    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    proc = start_keeper(stack, tmp, f"sqlite:///{tmp}/keeper.db", 0, None, "raw")
    try:
        yield proc.url
    finally:
        proc.terminate()
        proc.wait(60)
        mark(w3, stack, PRICE)  # the stack is shared by the session


@pytest.fixture
def env(stack, keeper_url):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    with httpx.Client(base_url=keeper_url, timeout=30) as http:
        info = http.get("/info").json()
        maker, taker = Raw(http, info, stack.trader_keys[4]), Raw(http, info, stack.trader_keys[5])
        until(lambda: maker.mark() == PRICE, "the keeper did not see the mark")
        try:
            yield w3, maker, taker
        finally:
            for raw in (maker, taker):
                if hashes := [o["hash"] for o in raw.open_orders()]:
                    raw.cancel(hashes)
            mark(w3, stack, PRICE)


def exchange_filled(w3, stack, order_hash: str) -> int:
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    return exchange.functions.filled(bytes.fromhex(order_hash[2:])).call()


def test_raw__trailing_stop__follows_the_mark_up_fires_on_the_reversal_and_settles(stack, env):
    w3, maker, taker = env
    bid = maker.place(True, PRICE + 2 * USDC)
    # sell trailing stop 5 USDC behind the peak: had it not followed the mark up to +10 it
    # would fire only at -5; it fires at +4 (below the followed peak minus 5)
    ack = taker.place(False, PRICE - 50 * USDC, kind="trailing_stop", tif="IOC", trail_amount=5 * USDC,
                      client_id=f"raw-trail-{time.time_ns()}")
    assert ack["order_status"] == "waiting for trigger"
    for price in (PRICE + 10 * USDC, PRICE + 6 * USDC):  # up (peak follows), then a retrace short of 5
        mark(w3, stack, price)
        until(lambda p=price: taker.mark() == p, "the keeper did not see the mark")
        assert taker.order(ack["hash"])["status"] == "waiting for trigger"
    mark(w3, stack, PRICE + 4 * USDC)
    until(lambda: taker.order(ack["hash"])["status"] != "waiting for trigger", "the trailing stop did not fire")
    (fill,) = settled(taker, ack["hash"], 1)
    assert (fill["maker_hash"], fill["price"], fill["size"]) == (bid["hash"], str(PRICE + 2 * USDC), str(SIZE))
    assert exchange_filled(w3, stack, ack["hash"]) == SIZE
    assert taker.order(ack["hash"])["status"] == "filled"



def test_raw__take_profit__waits_below_its_trigger_fires_above_and_settles(stack, env):
    w3, maker, taker = env
    bid = maker.place(True, PRICE + 1 * USDC)
    ack = taker.place(False, PRICE - 50 * USDC, kind="take_profit", tif="IOC", trigger_price=PRICE + 2 * USDC)
    assert ack["order_status"] == "waiting for trigger"
    mark(w3, stack, PRICE + 1 * USDC)  # not yet
    until(lambda: taker.mark() == PRICE + 1 * USDC, "the keeper did not see the mark")
    assert (taker.order(ack["hash"])["status"], taker.fills_of(ack["hash"])) == ("waiting for trigger", [])
    mark(w3, stack, PRICE + 3 * USDC)
    (fill,) = settled(taker, ack["hash"], 1)
    assert (fill["maker_hash"], fill["price"]) == (bid["hash"], str(PRICE + 1 * USDC))
    assert exchange_filled(w3, stack, ack["hash"]) == SIZE


def test_raw__stop_limit__fires_trades_up_to_its_limit_and_rests_the_rest(stack, env):
    w3, maker, taker = env
    within = maker.place(False, PRICE + 3 * USDC)
    maker.place(False, PRICE + 6 * USDC)  # beyond the limit
    ack = taker.place(True, PRICE + 4 * USDC, 2 * SIZE, kind="stop_limit", trigger_price=PRICE + 2 * USDC)
    assert ack["order_status"] == "waiting for trigger"
    mark(w3, stack, PRICE + 2 * USDC)
    (fill,) = settled(taker, ack["hash"], 1)
    assert (fill["maker_hash"], fill["price"], fill["size"]) == (within["hash"], str(PRICE + 3 * USDC), str(SIZE))
    status = taker.order(ack["hash"])
    assert (status["status"], status["open"], status["filled"]) == ("open", str(SIZE), str(SIZE))
    assert taker.http.get("/book/1").json()["bids"][0] == [str(PRICE + 4 * USDC), str(SIZE)]
    assert exchange_filled(w3, stack, ack["hash"]) == SIZE


def test_raw__market_order__stops_at_the_slippage_cap_remainder_cancelled_and_settles(stack, env):
    w3, maker, taker = env
    asks = [maker.place(False, PRICE + d * USDC) for d in (1, 2, 10)]
    # 10 bps from the best ask (2001): worst 2003.001, so 2001 and 2002 trade, 2010 does not
    ack = taker.place(True, PRICE + 50 * USDC, 3 * SIZE, kind="market", tif="IOC", slippage_bps=10,
                      slippage_ref="best")
    assert (ack["fills"], ack["order_status"], ack["open"]) == (2, "cancelled", "0")
    fills = settled(taker, ack["hash"], 2)
    assert [(f["maker_hash"], f["price"]) for f in fills] == [
        (asks[0]["hash"], str(PRICE + 1 * USDC)), (asks[1]["hash"], str(PRICE + 2 * USDC))]
    assert exchange_filled(w3, stack, ack["hash"]) == 2 * SIZE
    assert maker.order(asks[2]["hash"])["status"] == "open"


def test_raw__schedule_cancel__cancels_every_order_at_the_deadline_then_is_spent(stack, env):
    w3, maker, taker = env
    resting = taker.place(True, PRICE - 20 * USDC)
    deadline, ts = taker.now_ms() + 6_000, taker.now_ms()
    _, sig = taker.sign("ScheduleCancel", {"account": taker.account.address, "deadline": deadline, "timestamp": ts})
    r = taker.http.post("/orders/schedule-cancel", json={"account": taker.account.address, "deadline": str(deadline),
                                                         "timestamp": str(ts), "signature": sig})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert taker.order(resting["hash"])["status"] == "open"
    until(lambda: taker.order(resting["hash"])["status"] == "cancelled", "not cancelled at the deadline")
    assert taker.now_ms() >= deadline
    later = taker.place(True, PRICE - 21 * USDC)  # the switch is spent
    assert later["order_status"] == "open"


def test_raw__client_id__echoed_queried_unique_and_cancelled_by_it(stack, env):
    w3, maker, taker = env
    cid = f"raw-cid-{time.time_ns()}"
    ack = maker.place(True, PRICE - 7 * USDC, client_id=cid)
    assert (ack["client_id"], ack["order_status"]) == (cid, "open")
    address = maker.account.address
    found = maker.http.get(f"/accounts/{address}/orders/by-client-id/{cid}")
    assert (found.status_code, found.json()["hash"], found.json()["client_id"]) == (200, ack["hash"], cid)
    dup = maker.post_order(True, PRICE - 8 * USDC, client_id=cid)
    assert dup.status_code == 409, dup.text
    ts = maker.now_ms()
    _, sig = maker.sign("CancelByClientId", {"account": address, "client_ids": [cid, "never-used"], "timestamp": ts})
    c = maker.http.post("/orders/cancel-by-client-id", json={"account": address, "client_ids": [cid, "never-used"],
                                                             "timestamp": str(ts), "signature": sig})
    assert c.status_code == 200 and c.json() == {"status": "ok", "cancelled": [ack["hash"]],
                                                 "unknown": ["never-used"]}, c.text
    assert maker.http.get(f"/accounts/{address}/orders/by-client-id/{cid}").json()["status"] == "cancelled"
    assert maker.open_orders() == []


def test_raw__amend_keeps_priority_replacement_settles_then_cancel_by_client_id(stack, env):
    w3, maker, taker = env
    cid = f"raw-amend-{time.time_ns()}"
    old = maker.place(True, PRICE - 2 * USDC, 2 * SIZE, client_id=cid)
    new_hash, replacement = maker.order_body(True, PRICE - 2 * USDC, SIZE, client_id=cid)
    _, binding = maker.sign("Amend", {"replaces": bytes.fromhex(old["hash"][2:]), "order": new_hash})
    r = maker.http.post("/orders/amend", json={**replacement, "replaces": old["hash"], "amend_signature": binding})
    assert r.status_code == 200 and r.json()["priority"] == "kept", r.text
    new = r.json()["hash"]
    address = maker.account.address
    assert maker.http.get(f"/accounts/{address}/orders/by-client-id/{cid}").json()["hash"] == new
    assert (maker.order(old["hash"])["status"], maker.order(old["hash"])["replaced_by"]) == ("cancelled", new)
    take = taker.place(False, PRICE - 2 * USDC, SIZE // 2)
    assert take["fills"] == 1
    (fill,) = settled(taker, take["hash"], 1)
    assert fill["maker_hash"] == new
    assert (exchange_filled(w3, stack, new), exchange_filled(w3, stack, old["hash"])) == (SIZE // 2, 0)
    ts = maker.now_ms()
    _, sig = maker.sign("CancelByClientId", {"account": address, "client_ids": [cid], "timestamp": ts})
    c = maker.http.post("/orders/cancel-by-client-id", json={"account": address, "client_ids": [cid],
                                                             "timestamp": str(ts), "signature": sig})
    assert c.status_code == 200 and c.json() == {"status": "ok", "cancelled": [new], "unknown": []}, c.text
