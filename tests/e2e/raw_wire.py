"""A trader speaking the keeper's wire format by hand: every message built from docs/api.md
with eth-account's encode_typed_data and sent with httpx (no SDK). Used by the raw e2e tests
to show the documented format is enough."""

from __future__ import annotations

import time

import httpx
from eth_account import Account
from eth_account.messages import encode_typed_data

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
    "Amend": _fields(("replaces", "bytes32"), ("order", "bytes32")),
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
        r = self.http.post("/orders", json=self.order_body(is_buy, price, size, **intent)[1])
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "accepted", r.text
        return r.json()

    def post_order(self, is_buy: bool, price: int, size: int = SIZE, **intent) -> httpx.Response:
        return self.http.post("/orders", json=self.order_body(is_buy, price, size, **intent)[1])

    def order_body(self, is_buy: bool, price: int, size: int = SIZE, **intent) -> tuple[bytes, dict]:
        """The order's EIP-712 hash and its POST /orders body (an intent when given)."""
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
        return signed.message_hash, body

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


def until(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value
