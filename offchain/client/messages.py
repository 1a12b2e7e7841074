"""Wire formats shared by the keeper API and the client SDK.

- Integers travel as JSON numbers or decimal strings (both accepted); the keeper always
  answers with decimal strings for uint256 values (prices, sizes, nonces, hashes' ints).
- A place request carries the signed order, its signature (65-byte hex r|s|v) and the
  keeper-side semantics that are not signed: time in force and optional trigger.
- A cancel request is signed too (the account or its agent), over an EIP-712 message in
  the Exchange's domain:
      Cancel(address account,uint256 market,bytes32[] hashes,uint256 timestamp)
  `hashes` non-empty: cancel those orders; empty: cancel all of the account's orders in
  `market` (0 = every market). `timestamp` is unix milliseconds; the keeper takes it only
  within a window around its clock, and a cancel-all only with a timestamp above the
  account's previous cancel-all (no replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from offchain.order import Domain, Order, Signature, order_hash, recover_hash_signer, sign_hash

CANCEL_TYPE = "Cancel(address account,uint256 market,bytes32[] hashes,uint256 timestamp)"
CANCEL_TYPEHASH = keccak(CANCEL_TYPE.encode())

TIFS = ("GTC", "IOC", "FOK")

_HEX = set("0123456789abcdefABCDEF")
_checksums: dict = {}


def checksum(address: str | bytes) -> str:
    """The EIP-55 form of a 0x-hex (or 20-byte) address, cached: eth_utils' costs ~50 us and
    the keeper normalises one or two per order. Raises ValueError for a non-address."""
    found = _checksums.get(address)
    if found is not None:
        return found
    from eth_utils import to_checksum_address

    if isinstance(address, (bytes, bytearray)):
        if len(address) != 20:
            raise ValueError("not an address")
    elif not (isinstance(address, str) and len(address) == 42 and address[:2] in ("0x", "0X")
              and set(address[2:]) <= _HEX):
        raise ValueError("not an address")
    result = to_checksum_address(address)
    if isinstance(address, str) and address != result and address.lower() != address and address.upper()[2:] != address[2:]:
        raise ValueError("bad address checksum")
    if len(_checksums) > 1_000_000:
        _checksums.clear()
    _checksums[bytes(address) if isinstance(address, bytearray) else address] = result
    return result


def as_int(value: Any, name: str = "value") -> int:
    """A JSON number or decimal string as a non-negative int (bools and floats refused)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or not (text.isdigit() or (text[:2] in ("0x", "0X") and len(text) > 2)):
            raise ValueError(f"{name} must be a decimal string or an integer")
        result = int(text, 16) if text[:2] in ("0x", "0X") else int(text)
    else:
        raise ValueError(f"{name} must be an integer")
    if not 0 <= result < 2**256:
        raise ValueError(f"{name} out of uint256 range")
    return result


def order_to_json(order: Order) -> dict:
    return {
        "account": order.account,
        "market": str(order.market),
        "is_buy": order.is_buy,
        "price": str(order.price),
        "size": str(order.size),
        "nonce": str(order.nonce),
        "expiry": str(order.expiry),
        "flags": str(order.flags),
    }


def order_from_json(data: Any) -> Order:
    if not isinstance(data, dict):
        raise ValueError("order must be an object")
    try:
        account = checksum(data.get("account"))
    except (ValueError, TypeError):
        raise ValueError("order.account must be an address") from None
    is_buy = data.get("is_buy")
    if not isinstance(is_buy, bool):
        raise ValueError("order.is_buy must be a boolean")
    fields = {}
    for name in ("market", "price", "size", "nonce", "expiry"):
        if name not in data:
            raise ValueError(f"order.{name} missing")
        fields[name] = as_int(data[name], f"order.{name}")
    fields["flags"] = as_int(data.get("flags", 0), "order.flags")
    return Order(account=account, is_buy=is_buy, **fields)


def place_request(
    order: Order, signature: Signature, tif: str = "GTC", client_id: str | None = None
) -> dict:
    body = {"order": order_to_json(order), "signature": signature.to_hex(), "tif": tif}
    if client_id is not None:
        body["client_id"] = client_id
    return body


@dataclass(frozen=True, slots=True)
class Cancel:
    account: str
    market: int
    hashes: tuple[bytes, ...]
    timestamp: int  # unix ms

    def digest(self, domain: Domain) -> bytes:
        hashes_hash = keccak(b"".join(self.hashes))
        account = bytes.fromhex(self.account[2:]).rjust(32, b"\x00")
        struct = keccak(
            CANCEL_TYPEHASH
            + account
            + self.market.to_bytes(32, "big")
            + hashes_hash
            + self.timestamp.to_bytes(32, "big")
        )
        return keccak(b"\x19\x01" + domain.separator + struct)

    def sign(self, domain: Domain, private_key: bytes | str) -> Signature:
        return sign_hash(self.digest(domain), private_key)

    def signer(self, domain: Domain, signature: Signature) -> str:
        return recover_hash_signer(self.digest(domain), signature)

    def to_json(self, signature: Signature) -> dict:
        return {
            "account": self.account,
            "market": str(self.market),
            "hashes": ["0x" + h.hex() for h in self.hashes],
            "timestamp": str(self.timestamp),
            "signature": signature.to_hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> tuple["Cancel", Signature]:
        from eth_utils import is_address, to_checksum_address

        if not isinstance(data, dict):
            raise ValueError("cancel must be an object")
        account = data.get("account")
        if not isinstance(account, str) or not is_address(account):
            raise ValueError("account must be an address")
        hashes = data.get("hashes", [])
        if not isinstance(hashes, list):
            raise ValueError("hashes must be a list")
        raw = []
        for h in hashes:
            if not isinstance(h, str):
                raise ValueError("hash must be a hex string")
            try:
                b = bytes.fromhex(h.removeprefix("0x"))
            except ValueError as exc:
                raise ValueError("hash must be a hex string") from exc
            if len(b) != 32:
                raise ValueError("hash must be 32 bytes")
            raw.append(b)
        signature = data.get("signature")
        if not isinstance(signature, str):
            raise ValueError("signature missing")
        return (
            cls(
                account=to_checksum_address(account),
                market=as_int(data.get("market", 0), "market"),
                hashes=tuple(raw),
                timestamp=as_int(data.get("timestamp"), "timestamp"),
            ),
            Signature.from_hex(signature),
        )


def hash_hex(order: Order, domain: Domain) -> str:
    return "0x" + order_hash(order, domain).hex()
