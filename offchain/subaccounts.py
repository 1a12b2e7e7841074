"""Sub-accounts and the EIP-712 PositionTransfer: the one Python definition.

A sub-account is an ordinary Exchange account whose address is derived from its owner
and a number (contracts/ExchangeAccounts.vy); a PositionTransfer is both accounts'
consent to move part of a position at an agreed price. Same domain as the Order
(offchain/order.py: "MMX Exchange", "1", chain id, the Exchange). docs/subaccounts.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address

from offchain.order import (
    Domain,
    Signature,
    _address_word,
    _word,
    recover_hash_signer,
    sign_hash,
)

TRANSFER_TYPE = (
    "PositionTransfer(address from_account,address to_account,uint256 market,int256 size,"
    "uint256 price,uint256 nonce,uint256 expiry)"
)
TRANSFER_TYPEHASH = keccak(TRANSFER_TYPE.encode())
# The signature the Exchange reads as "none" (the caller itself consents for that side).
NO_SIGNATURE = (0, b"\x00" * 32, b"\x00" * 32)
_INT256_MIN, _INT256_MAX = -(2**255), 2**255 - 1
_UINT256_MAX = 2**256 - 1


def subaccount_address(owner: str, index: int) -> str:
    """The address of `owner`'s sub-account `index`: the low 160 bits of
    keccak256(abi_encode(owner, index)), as ExchangeAccounts.open_subaccount derives it."""
    if not 0 < index <= _UINT256_MAX:
        raise ValueError("sub-account index must be a non-zero uint256")
    return to_checksum_address(keccak(_address_word(owner) + _word(index))[-20:])


@dataclass(frozen=True, slots=True)
class PositionTransfer:
    """Move `size` (the target's signed change in base units: > 0 the target receives a
    long, < 0 a short; it must shrink the source's position) of `from_account`'s
    position in `market` to `to_account` at `price` (USDC units per 1e18 base units)."""

    from_account: str
    to_account: str
    market: int
    size: int
    price: int
    nonce: int
    expiry: int

    def __post_init__(self) -> None:
        for name in ("market", "price", "nonce", "expiry"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT256_MAX:
                raise ValueError(f"transfer.{name} must be a uint256")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not _INT256_MIN <= self.size <= _INT256_MAX:
            raise ValueError("transfer.size must be an int256")
        _address_word(self.from_account)
        _address_word(self.to_account)

    def as_tuple(self) -> tuple:
        """The ABI tuple ExchangeAccounts.transfer_position takes."""
        return (self.from_account, self.to_account, self.market, self.size, self.price, self.nonce, self.expiry)

    def to_json(self) -> dict:
        return {
            "from_account": self.from_account, "to_account": self.to_account, "market": self.market,
            "size": str(self.size), "price": str(self.price), "nonce": str(self.nonce), "expiry": self.expiry,
        }

    @classmethod
    def from_json(cls, data: dict) -> "PositionTransfer":
        return cls(
            from_account=to_checksum_address(data["from_account"]),
            to_account=to_checksum_address(data["to_account"]),
            market=int(data["market"]),
            size=int(data["size"]),
            price=int(data["price"]),
            nonce=int(data["nonce"]),
            expiry=int(data["expiry"]),
        )


def transfer_hash(transfer: PositionTransfer, domain: Domain) -> bytes:
    """The EIP-712 digest both sides sign (and the Exchange's replay key)."""
    struct = keccak(
        TRANSFER_TYPEHASH
        + _address_word(transfer.from_account)
        + _address_word(transfer.to_account)
        + _word(transfer.market)
        + (transfer.size % 2**256).to_bytes(32, "big")
        + _word(transfer.price)
        + _word(transfer.nonce)
        + _word(transfer.expiry)
    )
    return domain.digest(struct)


def sign_transfer(transfer: PositionTransfer, domain: Domain, private_key: bytes | str) -> Signature:
    return sign_hash(transfer_hash(transfer, domain), private_key)


def recover_transfer_signer(transfer: PositionTransfer, domain: Domain, signature: Signature) -> str:
    return recover_hash_signer(transfer_hash(transfer, domain), signature)
