"""The signed order intent: the one place that builds, checks, hashes, signs and verifies it.

The on-chain `Order` (offchain.order) carries what the Exchange enforces: side, limit /
worst price, size, nonce, expiry, post-only and reduce-only flags. What only the keeper
acts on — order kind, time in force, trigger price, trailing distance, slippage cap,
self-trade-prevention mode, post-only reject-or-slide and the client order id — is signed
by the trader as a second EIP-712 message, `OrderIntent`, over the order's EIP-712 hash
and these fields, in the same domain as the order (so it cannot be replayed on another
chain or Exchange deployment). With it the keeper can prove it honoured the trader's
intent (it keeps the signature in the journal) and cannot fire a stop the trader did not
ask for: a trigger order without a signed intent does not exist.

Enumerations are EIP-712 `string`s (a wallet shows "stop_market", not "2"); they are
hashed, so the cost is one keccak each. An absent intent means the plain limit order the
API took before intents existed: kind "limit", the request's unsigned tif, no client id
(a client id is always signed: docs/api.md).

`check_intent(order, intent)` is the single rule book for which combinations exist; the
keeper runs it before anything is sequenced and the engine never sees an intent that
fails it. `engine_fields(intent)` maps an intent to the matching core's `Place` fields.

Hashing is written out by hand over 32-byte words like offchain.order (the keeper hashes
on its hot path); tests/offchain/intent compares it with eth-account's encode_typed_data.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from eth_hash.auto import keccak

from offchain.matching.types import BPS, OrderKind, PostOnly, SlippageRef, STPMode, TimeInForce
from offchain.order import (
    POST_ONLY,
    Domain,
    Order,
    Signature,
    order_hash,
    recover_hash_signer,
    sign_hash,
)

INTENT_TYPE = (
    "OrderIntent(bytes32 order,string kind,string tif,uint256 trigger_price,uint256 trail_bps,"
    "uint256 trail_amount,uint256 slippage_bps,string slippage_ref,string stp,string post_only,"
    "string client_id)"
)
INTENT_TYPEHASH = keccak(INTENT_TYPE.encode())

# The wire / signed names of the enumerations and what the matching core calls them.
KINDS: dict[str, OrderKind] = {
    "limit": OrderKind.LIMIT,
    "market": OrderKind.MARKET,
    "stop_market": OrderKind.STOP_MARKET,
    "stop_limit": OrderKind.STOP_LIMIT,
    "take_profit": OrderKind.TAKE_PROFIT,
    "take_profit_limit": OrderKind.TAKE_PROFIT_LIMIT,
    "trailing_stop": OrderKind.TRAILING_STOP,
}
# Every signed order has an expiry, so "GTC" rests until it (the engine's GTD) exactly as
# plain limit orders always have; "GTD" is accepted as the explicit spelling of the same.
TIFS: dict[str, TimeInForce] = {
    "GTC": TimeInForce.GTD,
    "GTD": TimeInForce.GTD,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
}
STPS: dict[str, STPMode | None] = {
    "default": None,  # the market's default (expire_maker)
    "expire_taker": STPMode.EXPIRE_TAKER,
    "expire_maker": STPMode.EXPIRE_MAKER,
    "expire_both": STPMode.EXPIRE_BOTH,
    "decrement": STPMode.DECREMENT,
}
POST_ONLYS: dict[str, PostOnly] = {
    "none": PostOnly.NONE,
    "reject": PostOnly.REJECT,
    "slide": PostOnly.SLIDE,
}
SLIPPAGE_REFS: dict[str, SlippageRef] = {"best": SlippageRef.BEST, "mark": SlippageRef.MARK}

FIXED_TRIGGER = frozenset(("stop_market", "stop_limit", "take_profit", "take_profit_limit"))
TRIGGER_KINDS = FIXED_TRIGGER | {"trailing_stop"}
LIMIT_KINDS = frozenset(("limit", "stop_limit", "take_profit_limit"))  # rest at order.price
MARKET_KINDS = frozenset(("market", "stop_market", "take_profit", "trailing_stop"))

MAX_CLIENT_ID = 64
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,64}\Z")
_UINT256_MAX = 2**256 - 1


class IntentError(ValueError):
    """An intent that is malformed or does not fit its order; the message is a stable
    reason naming the field ("intent.trigger_price: required for stop_market")."""


@dataclass(frozen=True, slots=True)
class Intent:
    """The keeper-side fields of one order, exactly as signed (see docs/api.md)."""

    kind: str = "limit"
    tif: str = "GTC"
    trigger_price: int = 0  # stop / take-profit kinds: the mark price that fires it
    trail_bps: int = 0      # trailing stop: distance from the mark's extreme, in bps ...
    trail_amount: int = 0   # ... or in price units (exactly one of the two)
    slippage_bps: int = 0   # market-executing kinds: worst = ref +- bps (0: order.price only)
    slippage_ref: str = "best"
    stp: str = "default"
    post_only: str = "none"  # "reject" / "slide" need the order's POST_ONLY flag, and back
    client_id: str = ""      # "" = none

    @property
    def is_trigger(self) -> bool:
        return self.kind in TRIGGER_KINDS

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> dict:
        """The wire form (integers as decimal strings, like the order)."""
        data = asdict(self)
        for key in ("trigger_price", "trail_bps", "trail_amount", "slippage_bps"):
            data[key] = str(data[key])
        return data


PLAIN = Intent()


def _text(value: str) -> bytes:
    return keccak(value.encode())


def struct_hash(order_digest: bytes, intent: Intent) -> bytes:
    if len(order_digest) != 32:
        raise IntentError("intent.order: must be a 32-byte order hash")
    i = intent
    return keccak(
        INTENT_TYPEHASH
        + order_digest
        + _text(i.kind)
        + _text(i.tif)
        + i.trigger_price.to_bytes(32, "big")
        + i.trail_bps.to_bytes(32, "big")
        + i.trail_amount.to_bytes(32, "big")
        + i.slippage_bps.to_bytes(32, "big")
        + _text(i.slippage_ref)
        + _text(i.stp)
        + _text(i.post_only)
        + _text(i.client_id)
    )


def intent_hash(order_digest: bytes, intent: Intent, domain: Domain) -> bytes:
    """The EIP-712 digest of `intent` bound to the order whose EIP-712 hash is `order_digest`."""
    return domain.digest(struct_hash(order_digest, intent))


def sign_intent(order: Order, intent: Intent, domain: Domain, private_key: bytes | str) -> Signature:
    return sign_hash(intent_hash(order_hash(order, domain), intent, domain), private_key)


def recover_intent_signer(order_digest: bytes, intent: Intent, domain: Domain,
                          signature: Signature) -> str:
    """The checksummed signer (InvalidSignature for a malformed or high-s signature)."""
    return recover_hash_signer(intent_hash(order_digest, intent, domain), signature)


def _uint(intent: Intent, name: str) -> int:
    value = getattr(intent, name)
    if value.__class__ is not int or not 0 <= value <= _UINT256_MAX:
        raise IntentError(f"intent.{name}: must be a uint256")
    return value


def check_intent(order: Order, intent: Intent) -> None:
    """Raise IntentError unless `intent` is a combination the keeper executes for `order`.

    The rules (each one a reason the trader sees; nothing failing them reaches the engine):
    - every enumeration is one of its names; client_id is "" or 1-64 printable ASCII;
    - trigger_price > 0 for stop / take-profit kinds and 0 otherwise;
    - trailing_stop: exactly one of trail_bps (1..9999) and trail_amount; both 0 otherwise;
    - slippage_bps < 10000, only on kinds that execute as market orders;
      slippage_ref "mark" needs slippage_bps;
    - market: tif IOC or FOK (the remainder is cancelled; it never rests);
    - post_only "reject" / "slide" only on kinds that rest at order.price, never with IOC /
      FOK, and exactly when the signed order carries the POST_ONLY flag (the chain's view
      and the keeper's agree).
    """
    for name, table in (("kind", KINDS), ("tif", TIFS), ("stp", STPS), ("post_only", POST_ONLYS),
                        ("slippage_ref", SLIPPAGE_REFS)):
        value = getattr(intent, name)
        if value.__class__ is not str or value not in table:
            raise IntentError(f"intent.{name}: must be one of {', '.join(table)}")
    client_id = intent.client_id
    if client_id.__class__ is not str or (client_id and not _CLIENT_ID.match(client_id)):
        raise IntentError(f"intent.client_id: must be empty or 1-{MAX_CLIENT_ID} printable ASCII characters")
    trigger = _uint(intent, "trigger_price")
    trail_bps = _uint(intent, "trail_bps")
    trail_amount = _uint(intent, "trail_amount")
    slippage = _uint(intent, "slippage_bps")
    kind = intent.kind
    if kind in FIXED_TRIGGER:
        if trigger == 0:
            raise IntentError(f"intent.trigger_price: required for {kind}")
    elif trigger:
        raise IntentError(f"intent.trigger_price: only for {', '.join(sorted(FIXED_TRIGGER))}")
    if kind == "trailing_stop":
        if (trail_bps > 0) == (trail_amount > 0):
            raise IntentError("intent.trail_bps: exactly one of trail_bps and trail_amount")
        if trail_bps >= BPS:
            raise IntentError("intent.trail_bps: must be below 10000")
    elif trail_bps or trail_amount:
        raise IntentError("intent.trail_bps: only for trailing_stop")
    if slippage:
        if kind not in MARKET_KINDS:
            raise IntentError(f"intent.slippage_bps: only for {', '.join(sorted(MARKET_KINDS))}")
        if slippage >= BPS:
            raise IntentError("intent.slippage_bps: must be below 10000")
    elif intent.slippage_ref != "best":
        raise IntentError("intent.slippage_ref: needs slippage_bps")
    if kind == "market" and intent.tif not in ("IOC", "FOK"):
        raise IntentError("intent.tif: a market order is IOC or FOK")
    flagged = bool(order.flags & POST_ONLY)
    if intent.post_only != "none":
        if kind not in LIMIT_KINDS:
            raise IntentError(f"intent.post_only: only for {', '.join(sorted(LIMIT_KINDS))}")
        if intent.tif in ("IOC", "FOK"):
            raise IntentError("intent.post_only: not with IOC or FOK")
        if not flagged:
            raise IntentError("intent.post_only: the order's POST_ONLY flag is not set")
    elif flagged:
        raise IntentError("intent.post_only: the order's POST_ONLY flag needs reject or slide")


def engine_fields(intent: Intent) -> dict[str, Any]:
    """The matching core's `Place` keyword arguments for a checked intent."""
    return {
        "kind": KINDS[intent.kind],
        "tif": TIFS[intent.tif],
        "post_only": POST_ONLYS[intent.post_only],
        "stp": STPS[intent.stp],
        "slippage_bps": intent.slippage_bps,
        "slippage_ref": SLIPPAGE_REFS[intent.slippage_ref],
        "trigger_price": intent.trigger_price,
        "trail_bps": intent.trail_bps,
        "trail_amount": intent.trail_amount,
    }
