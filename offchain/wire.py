"""The wire codec the keeper API and the client SDK share (docs/api.md, "Conventions").

One set of strict rules, one parser: every request a client sends is parsed here, as a
whole, into typed values (`PlaceRequest`, `Cancel`) before the keeper sequences or
matches anything. What does not follow the rules is refused with a `WireError` whose
message names the field ("order.price must be ..."); the keeper answers it and changes
no state.

The rules (strict on purpose: a lax parser is a second, undocumented format):
- **integers** (market, price, size, nonce, expiry, flags, timestamp): a JSON integer, or
  a decimal string `0` or `[1-9][0-9]*` of at most 78 digits; in 0 <= n < 2**256. No
  booleans, floats, signs, spaces, leading zeros or hex.
- **booleans** (is_buy): JSON `true` / `false` only.
- **addresses**: `0x` + 40 hex digits; mixed case must be the EIP-55 checksum.
- **signature**: `0x` + 130 hex digits, r|s|v with v 27 or 28 (`1b`/`1c`); the low-s rule
  is admission's (it needs no parse).
- **order hashes**: `0x` + 64 hex digits.
- **tif**: "GTC", "IOC" or "FOK". **client_id**: only in the signed intent (1-64 printable
  ASCII chars); a request-level `client_id` is refused (an unsigned id could be set or
  swapped by whoever relays the order).
- **intent** (optional, with **intent_signature**): the signed `OrderIntent` of
  offchain/intent.py; enumerations are strings, integers follow the integer rule; it must
  pass `check_intent` against its order. With an intent, tif and client_id are the signed
  ones: the request's own `tif` / `client_id` must be absent.
- **objects** carry only the documented keys (an unknown key is refused: a typo in a
  field name must not silently fall back to a default).
- **sizes**: a request body or WebSocket message of at most `MAX_MESSAGE_BYTES`; a batch
  of at most the keeper's `max_batch` orders; a cancel of at most `MAX_CANCEL_HASHES`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import msgspec
from eth_hash.auto import keccak

from offchain.intent import Intent, IntentError, check_intent
from offchain.order import Domain, Order, Signature, order_hash, recover_hash_signer, sign_hash

CANCEL_TYPE = "Cancel(address account,uint256 market,bytes32[] hashes,uint256 timestamp)"
CANCEL_TYPEHASH = keccak(CANCEL_TYPE.encode())
SCHEDULE_CANCEL_TYPE = "ScheduleCancel(address account,uint256 deadline,uint256 timestamp)"
SCHEDULE_CANCEL_TYPEHASH = keccak(SCHEDULE_CANCEL_TYPE.encode())
SCHEDULE_CANCEL_KEYS = frozenset(("account", "deadline", "timestamp", "signature"))
# An amend binds the replacement order to the order it replaces (both by EIP-712 hash), so
# a replacement cannot be used to cancel anything else; it needs no timestamp: it can run
# only once (afterwards the old order is gone and the new one exists).
AMEND_TYPE = "Amend(bytes32 replaces,bytes32 order)"
AMEND_TYPEHASH = keccak(AMEND_TYPE.encode())
CANCEL_CID_TYPE = "CancelByClientId(address account,string[] client_ids,uint256 timestamp)"
CANCEL_CID_TYPEHASH = keccak(CANCEL_CID_TYPE.encode())
CANCEL_CID_KEYS = frozenset(("account", "client_ids", "timestamp", "signature"))

TIFS = ("GTC", "IOC", "FOK")
MAX_MESSAGE_BYTES = 1 << 20   # an HTTP body or one WebSocket message
MAX_CLIENT_ID = 64
MAX_CANCEL_HASHES = 1000
UINT_MAX_DIGITS = 78          # len(str(2**256 - 1))

AMEND_KEYS_EXTRA = frozenset(("replaces", "amend_signature"))
ORDER_KEYS = frozenset(("account", "market", "is_buy", "price", "size", "nonce", "expiry", "flags"))
PLACE_KEYS = frozenset(("order", "signature", "tif", "client_id", "intent", "intent_signature"))
INTENT_INTS = ("trigger_price", "trail_bps", "trail_amount", "slippage_bps")
INTENT_STRS = ("kind", "tif", "slippage_ref", "stp", "post_only", "client_id")
INTENT_KEYS = frozenset(INTENT_INTS + INTENT_STRS)
CANCEL_KEYS = frozenset(("account", "market", "hashes", "timestamp", "signature"))

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_HEX = set("0123456789abcdefABCDEF")
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}\Z")
_checksums: dict = {}


class WireError(ValueError):
    """A request that does not follow the wire rules; the message names the field."""


MAX_DEPTH = 32  # JSON nesting; the deepest valid request is 3
_BRACKETS = re.compile(rb"[\[\]{}]")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(raw: bytes | str) -> Any:
    """One request's JSON text as Python values, or WireError. Nesting beyond MAX_DEPTH is
    refused before the parser sees it: the C parser recurses per level, and under a raised
    recursion limit (Ape and pytest raise it to 100,000) a deep enough body overflows the C
    stack and kills the process. NaN / Infinity are refused (not JSON).

    msgspec parses first (~1.6 us for a one-order place message against ~12 us here with
    the stdlib: the keeper's hot path); whatever msgspec refuses (a lone surrogate escape,
    a number out of float range, an integer of thousands of digits, a BOM, bytes that are
    not UTF-8 ...) is parsed again by the stdlib parser from UTF-8 text (so a BOM, UTF-16
    or UTF-32 bytes are refused), whose result or error is the answer. So the accepted set, the values and the error messages stay the wire rules
    they were: msgspec only ever answers inputs both parsers read the same way."""
    if (raw.count(b"[") + raw.count(b"{") if isinstance(raw, (bytes, bytearray))
            else raw.count("[") + raw.count("{")) > MAX_DEPTH:
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        depth = 0
        for m in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
            depth += 1 if m.group() in (b"[", b"{") else -1
            if depth > MAX_DEPTH:
                raise WireError(f"body is not JSON: nested deeper than {MAX_DEPTH}")
    try:
        return _fast_decode(raw)
    except (msgspec.DecodeError, UnicodeError):  # UnicodeError: a str holding a lone surrogate
        pass  # the stdlib's answer, below, is the rule
    try:
        # bytes are UTF-8 text, nothing else: json.loads(bytes) would also read UTF-16 /
        # UTF-32 and skip a BOM (a second encoding msgspec and the SDK never produce)
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        return json.loads(text, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:  # ValueError: UnicodeDecodeError too
        raise WireError(f"body is not JSON: {str(exc)[:80]}") from None


_fast_decode = msgspec.json.Decoder().decode
_fast_encode = msgspec.json.Encoder().encode


def encode_json(value: Any) -> str:
    """`value` as compact JSON text: what json.dumps(value, separators=(",", ":")) gives,
    except that non-ASCII text goes as UTF-8 rather than escaped and a non-finite float as
    null (json.dumps writes NaN, which is not JSON). msgspec: ~0.4 us for an ack against
    ~7 us. What msgspec cannot encode (a non-str key, a lone surrogate, an unknown type)
    goes through the stdlib encoder, whose result or TypeError stands."""
    try:
        return _fast_encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):  # ValueError: UnicodeEncodeError
        return json.dumps(value, separators=(",", ":"))


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
    """A uint256 by the integer rule: a JSON integer or a canonical decimal string."""
    if type(value) is int:  # bool is a subclass of int and is refused here
        result = value
    elif isinstance(value, str):
        if len(value) > UINT_MAX_DIGITS or not _DECIMAL.match(value):
            raise WireError(f"{name} must be a decimal string or an integer")
        result = int(value)
    else:
        raise WireError(f"{name} must be an integer")
    if not 0 <= result < 2**256:
        raise WireError(f"{name} out of uint256 range")
    return result


def as_bool(value: Any, name: str) -> bool:
    if value is True or value is False:
        return value
    raise WireError(f"{name} must be a boolean")


def as_address(value: Any, name: str) -> str:
    try:
        return checksum(value)
    except (ValueError, TypeError):
        raise WireError(f"{name} must be an address") from None


def as_hash(value: Any, name: str) -> bytes:
    if not (isinstance(value, str) and len(value) == 66 and value[:2] == "0x" and set(value[2:]) <= _HEX):
        raise WireError(f"{name} must be a 0x-hex 32-byte hash")
    return bytes.fromhex(value[2:])


def as_signature(value: Any, name: str = "signature") -> Signature:
    """65-byte hex r|s|v with v 27 or 28 (never normalised from 0/1)."""
    if not (isinstance(value, str) and len(value) == 132 and value[:2] == "0x" and set(value[2:]) <= _HEX):
        raise WireError(f"{name} must be 0x + 130 hex digits (r|s|v)")
    raw = bytes.fromhex(value[2:])
    if raw[64] not in (27, 28):
        raise WireError(f"{name}: v must be 27 or 28")
    return Signature(v=raw[64], r=int.from_bytes(raw[:32], "big"), s=int.from_bytes(raw[32:64], "big"))


def _object(data: Any, name: str, allowed: frozenset) -> dict:
    if not isinstance(data, dict):
        raise WireError(f"{name} must be an object")
    extra = data.keys() - allowed
    if extra:
        raise WireError(f"{name}: unknown field {sorted(map(str, extra))[0][:40]!r}")
    return data


def _required(data: dict, key: str, name: str) -> Any:
    if key not in data:
        raise WireError(f"{name} missing")
    return data[key]


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


_ORDER_INTS = ("market", "price", "size", "nonce", "expiry")
_UINT_END = 2**256


def _uint_or_none(value: Any) -> int | None:
    """as_int's value when `value` follows the integer rule, else None (no message built)."""
    if type(value) is str:
        if len(value) <= UINT_MAX_DIGITS and _DECIMAL.match(value):
            result = int(value)
            return result if result < _UINT_END else None
        return None
    if type(value) is int and 0 <= value < _UINT_END:
        return value
    return None


def order_from_json(data: Any, name: str = "order") -> Order:
    data = _object(data, name, ORDER_KEYS)
    # the common case, a valid order, without building a field name per check (~2x faster);
    # anything off falls through to the checks below, which name the first bad field
    is_buy = data.get("is_buy")
    if is_buy is True or is_buy is False:
        market, price, size, nonce, expiry = map(_uint_or_none, map(data.get, _ORDER_INTS))
        flags = _uint_or_none(data.get("flags", 0))
        if None not in (market, price, size, nonce, expiry, flags):
            try:
                account = checksum(data.get("account"))
            except (ValueError, TypeError):
                pass
            else:
                return Order(account=account, market=market, is_buy=is_buy, price=price, size=size,
                             nonce=nonce, expiry=expiry, flags=flags)
    return _order_from_json_checked(data, name)


def _order_from_json_checked(data: dict, name: str) -> Order:
    account = as_address(_required(data, "account", f"{name}.account"), f"{name}.account")
    is_buy = as_bool(_required(data, "is_buy", f"{name}.is_buy"), f"{name}.is_buy")
    fields = {key: as_int(_required(data, key, f"{name}.{key}"), f"{name}.{key}")
              for key in ("market", "price", "size", "nonce", "expiry")}
    fields["flags"] = as_int(data.get("flags", 0), f"{name}.flags")
    return Order(account=account, is_buy=is_buy, **fields)


def intent_from_json(data: Any, order: Order, name: str = "intent") -> Intent:
    """An intent object by the wire rules (absent keys take Intent's defaults), checked
    against its order (`check_intent`): WireError names the field."""
    data = _object(data, name, INTENT_KEYS)
    fields: dict[str, Any] = {}
    for key in INTENT_INTS:
        if key in data:
            fields[key] = as_int(data[key], f"{name}.{key}")
    for key in INTENT_STRS:
        if key in data:
            if not isinstance(data[key], str):
                raise WireError(f"{name}.{key} must be a string")
            fields[key] = data[key]
    intent = Intent(**fields)
    try:
        check_intent(order, intent)
    except IntentError as exc:
        # the reason names "intent.<field>"; prefix it like every other field
        raise WireError(f"{name}{str(exc).removeprefix('intent')}") from None
    return intent


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """One signed order to place, parsed: the order, its signature and the keeper-side
    semantics: time in force and the client's own id, unsigned, or, with an `intent`,
    as the trader signed them (then `tif` / `client_id` are the intent's)."""

    order: Order
    signature: Signature
    tif: str = "GTC"
    client_id: str | None = None
    intent: Intent | None = None
    intent_signature: Signature | None = None


UNSIGNED_CLIENT_ID = "client_id: must be signed: send it as intent.client_id"


def parse_place(data: Any, name: str = "") -> PlaceRequest:
    """A place request (`{order, signature, tif?, client_id?}`) by the wire rules."""
    prefix = f"{name}." if name else ""
    data = _object(data, name or "request", PLACE_KEYS)
    order = order_from_json(_required(data, "order", f"{prefix}order"), f"{prefix}order")
    signature = as_signature(_required(data, "signature", f"{prefix}signature"), f"{prefix}signature")
    tif = data.get("tif", "GTC")
    if tif not in TIFS:  # `in` on a tuple of str: a non-str never matches
        raise WireError(f"{prefix}tif must be one of GTC, IOC, FOK")
    if "intent" not in data:
        if "intent_signature" in data:
            raise WireError(f"{prefix}intent_signature without intent")
        if data.get("client_id") is not None:
            # an unsigned id could be set or swapped by whoever relays the order, and then a
            # trader's signed cancel-by-client-id would cancel an order it did not mean
            raise WireError(UNSIGNED_CLIENT_ID if not prefix else f"{prefix}{UNSIGNED_CLIENT_ID}")
        return PlaceRequest(order, signature, tif, None)
    for key in ("tif", "client_id"):
        if key in data:
            raise WireError(f"{prefix}{key}: signed in the intent; omit it here")
    intent = intent_from_json(data["intent"], order, f"{prefix}intent")
    intent_signature = as_signature(_required(data, "intent_signature", f"{prefix}intent_signature"),
                                    f"{prefix}intent_signature")
    return PlaceRequest(order, signature, intent.tif, intent.client_id or None, intent, intent_signature)


def parse_place_batch(items: Any, max_batch: int) -> list[PlaceRequest]:
    """A list of place requests, parsed as a whole: one bad item refuses the request."""
    if not isinstance(items, list):
        raise WireError("orders must be a list")
    if len(items) > max_batch:
        raise WireError(f"batch larger than {max_batch}")
    return [parse_place(item, f"orders[{i}]") for i, item in enumerate(items)]


def place_request(
    order: Order, signature: Signature, tif: str = "GTC", client_id: str | None = None,
    intent: Intent | None = None, intent_signature: Signature | None = None,
) -> dict:
    """A place request body; with `intent` (and its signature) tif / client_id are the intent's."""
    if intent is not None:
        if intent_signature is None:
            raise ValueError("an intent needs its signature")
        return {"order": order_to_json(order), "signature": signature.to_hex(),
                "intent": intent.to_json(), "intent_signature": intent_signature.to_hex()}
    if client_id is not None:
        raise ValueError("a client id is signed: pass intent=Intent(tif=..., client_id=...) and its signature")
    return {"order": order_to_json(order), "signature": signature.to_hex(), "tif": tif}


class _SignedMessage:
    """sign / signer for an EIP-712 message class with `digest(domain)`."""

    __slots__ = ()

    def sign(self, domain: Domain, private_key: bytes | str) -> Signature:
        return sign_hash(self.digest(domain), private_key)

    def signer(self, domain: Domain, signature: Signature) -> str:
        return recover_hash_signer(self.digest(domain), signature)


@dataclass(frozen=True, slots=True)
class Cancel(_SignedMessage):
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
        return domain.digest(struct)

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
        """A cancel request (`{account, market?, hashes?, timestamp, signature}`) by the wire rules."""
        data = _object(data, "cancel", CANCEL_KEYS)
        account = as_address(_required(data, "account", "account"), "account")
        hashes = data.get("hashes", [])
        if not isinstance(hashes, list):
            raise WireError("hashes must be a list")
        if len(hashes) > MAX_CANCEL_HASHES:
            raise WireError(f"more than {MAX_CANCEL_HASHES} hashes")
        raw = tuple(as_hash(h, f"hashes[{i}]") for i, h in enumerate(hashes))
        signature = as_signature(_required(data, "signature", "signature"))
        market = as_int(data.get("market", 0), "market")
        timestamp = as_int(_required(data, "timestamp", "timestamp"), "timestamp")
        return cls(account=account, market=market, hashes=raw, timestamp=timestamp), signature


@dataclass(frozen=True, slots=True)
class ScheduleCancel(_SignedMessage):
    """The dead-man's switch: at `deadline` (unix ms; 0 clears it) the keeper cancels all of
    the account's orders unless a later ScheduleCancel moved or cleared it. Signed by the
    account or its agent, EIP-712 in the Exchange's domain; `timestamp` (unix ms) orders
    the messages (an older one is refused)."""

    account: str
    deadline: int
    timestamp: int

    def digest(self, domain: Domain) -> bytes:
        struct = keccak(SCHEDULE_CANCEL_TYPEHASH + bytes.fromhex(self.account[2:]).rjust(32, b"\x00")
                        + self.deadline.to_bytes(32, "big") + self.timestamp.to_bytes(32, "big"))
        return domain.digest(struct)

    def to_json(self, signature: Signature) -> dict:
        return {"account": self.account, "deadline": str(self.deadline), "timestamp": str(self.timestamp),
                "signature": signature.to_hex()}

    @classmethod
    def from_json(cls, data: Any) -> tuple["ScheduleCancel", Signature]:
        data = _object(data, "schedule_cancel", SCHEDULE_CANCEL_KEYS)
        account = as_address(_required(data, "account", "account"), "account")
        deadline = as_int(_required(data, "deadline", "deadline"), "deadline")
        timestamp = as_int(_required(data, "timestamp", "timestamp"), "timestamp")
        signature = as_signature(_required(data, "signature", "signature"))
        return cls(account, deadline, timestamp), signature


def amend_digest(replaces: bytes, new_hash: bytes, domain: Domain) -> bytes:
    """The EIP-712 digest of `Amend(bytes32 replaces,bytes32 order)`."""
    return domain.digest(keccak(AMEND_TYPEHASH + replaces + new_hash))


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """Replace the live order `replaces` (its hash) by a new signed order (with its intent,
    if any). `signature` signs `Amend(replaces, order)` and must be the account's or an
    agent's (docs/api.md "Amend")."""

    replaces: bytes
    place: PlaceRequest
    signature: Signature

    def digest(self, domain: Domain) -> bytes:
        return amend_digest(self.replaces, order_hash(self.place.order, domain), domain)

    def signer(self, domain: Domain) -> str:
        return recover_hash_signer(self.digest(domain), self.signature)


def parse_amend(data: Any) -> AmendRequest:
    """An amend request: a place request plus `replaces` (the old order's hash) and
    `amend_signature`, by the wire rules."""
    data = _object(data, "request", PLACE_KEYS | AMEND_KEYS_EXTRA)
    replaces = as_hash(_required(data, "replaces", "replaces"), "replaces")
    signature = as_signature(_required(data, "amend_signature", "amend_signature"), "amend_signature")
    place = parse_place({k: v for k, v in data.items() if k not in AMEND_KEYS_EXTRA})
    return AmendRequest(replaces, place, signature)


def amend_request(replaces: bytes | str, place: dict, amend_signature: Signature) -> dict:
    """An amend body: the place request of the replacement plus the binding."""
    raw = replaces if isinstance(replaces, bytes) else bytes.fromhex(replaces.removeprefix("0x"))
    return {**place, "replaces": "0x" + raw.hex(), "amend_signature": amend_signature.to_hex()}


@dataclass(frozen=True, slots=True)
class CancelByClientId(_SignedMessage):
    """Cancel the account's orders named by their signed client ids. `timestamp` (unix ms)
    must be within the cancel window and above the account's previous one: a captured
    message cannot be replayed, not even against an order placed later with one of the ids."""

    account: str
    client_ids: tuple[str, ...]
    timestamp: int

    def digest(self, domain: Domain) -> bytes:
        ids = keccak(b"".join(keccak(c.encode()) for c in self.client_ids))
        struct = keccak(CANCEL_CID_TYPEHASH + bytes.fromhex(self.account[2:]).rjust(32, b"\x00") + ids
                        + self.timestamp.to_bytes(32, "big"))
        return domain.digest(struct)

    def to_json(self, signature: Signature) -> dict:
        return {"account": self.account, "client_ids": list(self.client_ids), "timestamp": str(self.timestamp),
                "signature": signature.to_hex()}

    @classmethod
    def from_json(cls, data: Any) -> tuple["CancelByClientId", Signature]:
        data = _object(data, "cancel_by_client_id", CANCEL_CID_KEYS)
        account = as_address(_required(data, "account", "account"), "account")
        ids = _required(data, "client_ids", "client_ids")
        if not isinstance(ids, list) or not ids:
            raise WireError("client_ids must be a non-empty list")
        if len(ids) > MAX_CANCEL_HASHES:
            raise WireError(f"more than {MAX_CANCEL_HASHES} client_ids")
        for i, c in enumerate(ids):
            if not (isinstance(c, str) and _CLIENT_ID.match(c)):
                raise WireError(f"client_ids[{i}] must be 1-{MAX_CLIENT_ID} printable ASCII characters")
        timestamp = as_int(_required(data, "timestamp", "timestamp"), "timestamp")
        signature = as_signature(_required(data, "signature", "signature"))
        return cls(account, tuple(ids), timestamp), signature


WS_AUTH_TYPE = "WsAuth(address account,bytes32 challenge)"
WS_AUTH_TYPEHASH = keccak(WS_AUTH_TYPE.encode())


def ws_auth_digest(account: str, challenge: bytes, domain: Domain) -> bytes:
    """The EIP-712 digest a WebSocket client signs to follow `account`'s private channel:
    the keeper's one-time challenge for this connection, in the Exchange's domain."""
    struct = keccak(WS_AUTH_TYPEHASH + bytes.fromhex(account[2:]).rjust(32, b"\x00") + challenge)
    return domain.digest(struct)


def hash_hex(order: Order, domain: Domain) -> str:
    return "0x" + order_hash(order, domain).hex()


TRANSFER_KEYS = frozenset(("from_account", "to_account", "market", "size", "price", "nonce", "expiry"))
RELAY_KEYS = frozenset(("transfer", "from_signature", "to_signature"))
_SIGNED_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")


def as_int256(value: Any, name: str) -> int:
    """An int256 by the integer rule, with an optional '-' (the sign of a transfer's size)."""
    if type(value) is int:
        result = value
    elif isinstance(value, str) and len(value) <= UINT_MAX_DIGITS + 1 and _SIGNED_DECIMAL.match(value) \
            and value != "-0":
        result = int(value)
    else:
        raise WireError(f"{name} must be a signed decimal string or an integer")
    if not -(2**255) <= result < 2**255:
        raise WireError(f"{name} out of int256 range")
    return result


def parse_relay(data: Any) -> tuple:
    """A POST /transfers body `{transfer, from_signature?, to_signature?}` by the wire rules
    -> (PositionTransfer, from Signature | None, to Signature | None); "", null or an absent
    signature is none (the owner alone signs for its own sub-account)."""
    from offchain.subaccounts import PositionTransfer

    data = _object(data, "request", RELAY_KEYS)
    t = _object(_required(data, "transfer", "transfer"), "transfer", TRANSFER_KEYS)
    for key in sorted(TRANSFER_KEYS):
        _required(t, key, f"transfer.{key}")
    transfer = PositionTransfer(
        from_account=as_address(t["from_account"], "transfer.from_account"),
        to_account=as_address(t["to_account"], "transfer.to_account"),
        market=as_int(t["market"], "transfer.market"), size=as_int256(t["size"], "transfer.size"),
        price=as_int(t["price"], "transfer.price"), nonce=as_int(t["nonce"], "transfer.nonce"),
        expiry=as_int(t["expiry"], "transfer.expiry"))
    signatures = []
    for key in ("from_signature", "to_signature"):
        value = data.get(key)
        signatures.append(None if value is None or value == "" else as_signature(value, key))
    return transfer, signatures[0], signatures[1]
