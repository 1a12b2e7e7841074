"""The EIP-712 signed order: the one place that builds, hashes, signs and recovers it.

The struct and domain are fixed by DESIGN.md; `Exchange.hash_order` computes the same
digest on chain (tests/offchain/order prove it for arbitrary orders). Hashing is written
out by hand over fixed 32-byte words instead of going through eth-account's generic
typed-data encoder because the keeper hashes every incoming order on its hot path;
the generic encoder is used in the tests as the independent reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import coincurve
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

DOMAIN_NAME = "MMX Exchange"
DOMAIN_VERSION = "1"

POST_ONLY = 1
REDUCE_ONLY = 2
# set only by the keeper's liquidation runner on an unsigned order of a liquidatable account
# (docs/liquidation.md, "Book liquidations"); admission refuses it from clients
LIQUIDATION = 4
# A single-fill order (DESIGN.md "The signed order", docs/exchange.md "Single-fill orders"):
# the chain settles it only by one fill of its whole size and consumes its nonce, one bit
# of a per-account bitmap, instead of a filled[hash] slot (~17k gas less per side). An
# account's single-fill orders must have distinct nonces: once one is filled or cancelled,
# every single-fill order of that account and nonce is void.
ONE_FILL = 8
KNOWN_FLAGS = POST_ONLY | REDUCE_ONLY | ONE_FILL  # the flags a client may sign


def encode_flags(post_only: bool = False, reduce_only: bool = False, one_fill: bool = False) -> int:
    """The signed order's `flags` word (the one place the bits are combined)."""
    return (POST_ONLY if post_only else 0) | (REDUCE_ONLY if reduce_only else 0) | (ONE_FILL if one_fill else 0)

ORDER_TYPE = (
    "Order(address account,uint256 market,bool is_buy,uint256 price,uint256 size,"
    "uint256 nonce,uint256 expiry,uint256 flags)"
)
ORDER_TYPEHASH = keccak(ORDER_TYPE.encode())
DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)

# secp256k1 group order; signatures with s above half of it are malleable twins.
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2

_ZERO_PAD_12 = b"\x00" * 12


class InvalidSignature(ValueError):
    """The signature is malformed, malleable (high s) or does not recover a key."""


@dataclass(frozen=True, slots=True)
class Order:
    """The signed order, field for field as the Exchange's `Order` struct."""

    account: str
    market: int
    is_buy: bool
    price: int
    size: int
    nonce: int
    expiry: int
    flags: int = 0

    @property
    def post_only(self) -> bool:
        return bool(self.flags & POST_ONLY)

    @property
    def reduce_only(self) -> bool:
        return bool(self.flags & REDUCE_ONLY)

    @property
    def one_fill(self) -> bool:
        return bool(self.flags & ONE_FILL)

    def as_tuple(self) -> tuple:
        """The order as the ABI tuple that contract calls take."""
        return (
            self.account,
            self.market,
            self.is_buy,
            self.price,
            self.size,
            self.nonce,
            self.expiry,
            self.flags,
        )

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "market": self.market,
            "is_buy": self.is_buy,
            "price": self.price,
            "size": self.size,
            "nonce": self.nonce,
            "expiry": self.expiry,
            "flags": self.flags,
        }


@dataclass(frozen=True, slots=True)
class Signature:
    """An ECDSA signature as the Exchange takes it: v in {27, 28}, low s."""

    v: int
    r: int
    s: int

    def as_tuple(self) -> tuple:
        """The (uint8 v, bytes32 r, bytes32 s) ABI tuple."""
        return (self.v, self.r.to_bytes(32, "big"), self.s.to_bytes(32, "big"))

    def to_bytes(self) -> bytes:
        return self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes([self.v])

    def to_hex(self) -> str:
        return "0x" + self.to_bytes().hex()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Signature":
        if len(raw) != 65:
            raise InvalidSignature("signature must be 65 bytes")
        v = raw[64]
        if v < 27:
            v += 27
        return cls(v=v, r=int.from_bytes(raw[:32], "big"), s=int.from_bytes(raw[32:64], "big"))

    @classmethod
    def from_hex(cls, text: str) -> "Signature":
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError as exc:
            raise InvalidSignature("signature is not hex") from exc
        return cls.from_bytes(raw)


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain of one Exchange deployment."""

    chain_id: int
    exchange: str

    @property
    def separator(self) -> bytes:
        return domain_separator(self.chain_id, self.exchange)

    def digest(self, struct: bytes) -> bytes:
        """The EIP-712 digest of a struct hash in this domain: what an account signs (an
        order, a cancel, an amend, a transfer, an intent)."""
        return keccak(b"\x19\x01" + domain_separator(self.chain_id, self.exchange) + struct)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    raw = bytes.fromhex(address[2:] if address[:2] in ("0x", "0X") else address)
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return _ZERO_PAD_12 + raw


_separator_cache: dict[tuple[int, str], bytes] = {}


def domain_separator(chain_id: int, exchange: str) -> bytes:
    key = (chain_id, exchange.lower())
    cached = _separator_cache.get(key)
    if cached is None:
        cached = keccak(
            DOMAIN_TYPEHASH
            + keccak(DOMAIN_NAME.encode())
            + keccak(DOMAIN_VERSION.encode())
            + _word(chain_id)
            + _address_word(exchange)
        )
        _separator_cache[key] = cached
    return cached


def struct_hash(order: Order) -> bytes:
    return keccak(
        ORDER_TYPEHASH
        + _address_word(order.account)
        + _word(order.market)
        + _word(1 if order.is_buy else 0)
        + _word(order.price)
        + _word(order.size)
        + _word(order.nonce)
        + _word(order.expiry)
        + _word(order.flags)
    )


def order_hash(order: Order, domain: Domain) -> bytes:
    """The EIP-712 digest the account signs and the Exchange keys fills by."""
    return domain.digest(struct_hash(order))


def sign_hash(digest: bytes, private_key: bytes | str) -> Signature:
    key = _private_key_bytes(private_key)
    raw = coincurve.PrivateKey(key).sign_recoverable(digest, hasher=None)
    # libsecp256k1 always produces low-s signatures, as the Exchange requires.
    return Signature(
        v=27 + raw[64], r=int.from_bytes(raw[:32], "big"), s=int.from_bytes(raw[32:64], "big")
    )


def sign_order(order: Order, domain: Domain, private_key: bytes | str) -> Signature:
    return sign_hash(order_hash(order, domain), private_key)


def recover_hash_signer(digest: bytes, signature: Signature) -> str:
    """The checksummed address that made `signature` over `digest`.

    Applies the Exchange's rules: v in {27, 28}, 0 < r, s < n and s in the lower half.
    """
    if signature.v not in (27, 28):
        raise InvalidSignature("v must be 27 or 28")
    if not (0 < signature.r < SECP256K1_N):
        raise InvalidSignature("r out of range")
    if not (0 < signature.s <= SECP256K1_HALF_N):
        raise InvalidSignature("high s")
    raw = _word(signature.r) + _word(signature.s) + bytes([signature.v - 27])
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(raw, digest, hasher=None)
    except Exception as exc:  # coincurve raises a bare Exception on unrecoverable input
        raise InvalidSignature("signature does not recover") from exc
    return to_checksum_address(keccak(public_key.format(compressed=False)[1:])[-20:])


def recover_signer(order: Order, domain: Domain, signature: Signature) -> str:
    return recover_hash_signer(order_hash(order, domain), signature)


def address_of(private_key: bytes | str) -> str:
    public_key = coincurve.PrivateKey(_private_key_bytes(private_key)).public_key
    return to_checksum_address(keccak(public_key.format(compressed=False)[1:])[-20:])


def _private_key_bytes(private_key: bytes | str) -> bytes:
    if isinstance(private_key, str):
        return bytes.fromhex(private_key.removeprefix("0x"))
    return bytes(private_key)
