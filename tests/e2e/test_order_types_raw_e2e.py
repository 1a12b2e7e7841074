"""Order types on a real anvil through raw HTTP + eth-account only (no SDK): every message is
built from docs/api.md with eth-account's encode_typed_data and sent with httpx to a keeper
subprocess; results are read back over HTTP and from the Exchange contract. One keeper for
the file (module fixture) to keep the suite's time down; each test leaves the book empty."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from offchain.artifacts import abi
from offchain.devnet import free_port

from .test_keeper_crash import start_keeper
from .vault_helpers import PRICE, mark

pytestmark = pytest.mark.e2e
USDC = 10**6
SIZE = 10**16


def _fields(*pairs):
    return [{"name": n, "type": t} for n, t in pairs]


TYPES = {
    "EIP712Domain": _fields(("name", "string"), ("version", "string"), ("chainId", "uint256"),
                            ("verifyingContract", "address")),
    "Order": _fields(("account", "address"), ("market", "uint256"), ("is_buy", "bool"), ("price", "uint256"),
                     ("size", "uint256"), ("nonce", "uint256"), ("expiry", "uint256"), ("flags", "uint256")),
    "OrderIntent": _fields(("order", "bytes32"), ("kind", "string"), ("tif", "string"),
                           ("trigger_price", "uint256"), ("trail_bps", "uint256"), ("trail_amount", "uint256"),
                           ("slippage_bps", "uint256"), ("slippage_ref", "string"), ("stp", "string"),
                           ("post_only", "string"), ("client_id", "string")),
    "Cancel": _fields(("account", "address"), ("market", "uint256"), ("hashes", "bytes32[]"),
                      ("timestamp", "uint256")),
    "ScheduleCancel": _fields(("account", "address"), ("deadline", "uint256"), ("timestamp", "uint256")),
    "CancelByClientId": _fields(("account", "address"), ("client_ids", "string[]"), ("timestamp", "uint256")),
}
DEFAULT_INTENT = {"kind": "limit", "tif": "GTC", "trigger_price": 0, "trail_bps": 0, "trail_amount": 0,
                  "slippage_bps": 0, "slippage_ref": "best", "stp": "default", "post_only": "none",
                  "client_id": ""}


class Raw:
    """One trader speaking the wire format by hand."""

    def __init__(self, http: httpx.Client, info: dict, private_key: str):
        self.http, self.info, self.account = http, info, Account.from_key(private_key)

    def sign(self, primary: str, message: dict):
        data = encode_typed_data(full_message={
            "types": {"EIP712Domain": TYPES["EIP712Domain"], primary: TYPES[primary]}, "primaryType": primary,
            "domain": {"name": "MMX Exchange", "version": "1", "chainId": int(self.info["chain_id"]),
                       "verifyingContract": self.info["exchange"]}, "message": message})
        signed = self.account.sign_message(data)
        return signed, "0x" + bytes(signed.signature).hex()

    def place(self, is_buy: bool, price: int, size: int = SIZE, **intent) -> dict:
        order = {"account": self.account.address, "market": 1, "is_buy": is_buy, "price": price, "size": size,
                 "nonce": time.time_ns(), "expiry": int(time.time()) + 3600, "flags": 0}
        signed, sig = self.sign("Order", order)
        body = {"order": {k: (v if isinstance(v, (bool, str)) else str(v)) for k, v in order.items()},
                "signature": sig}
        if intent:
            full = {**DEFAULT_INTENT, **intent}
            _, isig = self.sign("OrderIntent", {"order": signed.message_hash, **full})
            body["intent"] = {k: (str(v) if isinstance(v, int) else v) for k, v in full.items()}
            body["intent_signature"] = isig
        r = self.http.post("/orders", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted", r.text
        return r.json()

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def cancel(self, hashes: list[str]) -> dict:
        ts = self.now_ms()
        _, sig = self.sign("Cancel", {"account": self.account.address, "market": 0,
                                      "hashes": [bytes.fromhex(h[2:]) for h in hashes], "timestamp": ts})
        r = self.http.post("/orders/cancel", json={"account": self.account.address, "market": "0",
                                                   "hashes": hashes, "timestamp": str(ts), "signature": sig})
        assert r.status_code == 200, r.text
        return r.json()

    def order(self, order_hash: str) -> dict:
        r = self.http.get(f"/orders/{order_hash}")
        assert r.status_code == 200, r.text
        return r.json()

    def fills_of(self, order_hash: str) -> list[dict]:
        fills = self.http.get(f"/accounts/{self.account.address}/fills").json()["fills"]
        return [f for f in fills if order_hash in (f["taker_hash"], f["maker_hash"])]

    def mark(self, market: int = 1) -> int:
        return int(self.http.get("/info").json()["markets"][str(market)]["mark"])

    def open_orders(self) -> list[dict]:
        return self.http.get(f"/accounts/{self.account.address}/orders").json()["orders"]


def until(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def settled(raw: Raw, order_hash: str, count: int) -> list[dict]:
    """The order's fills once none is in flight: exactly `count`, all settled on chain."""
    fills = until(lambda: (f := raw.fills_of(order_hash)) and len(f) >= count
                  and all(x["state"] in ("settled", "rejected") for x in f) and f, "the fills did not settle")
    assert [(f["state"], f["reason"]) for f in fills] == [("settled", "")] * count
    return sorted(fills, key=lambda f: f["id"])


@pytest.fixture(scope="module")
def keeper_url(stack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("raw_order_types")
    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    port = free_port()
    proc = start_keeper(stack, tmp, f"sqlite:///{tmp}/keeper.db", port, None, "raw")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)
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

