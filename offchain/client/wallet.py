"""Sending LP and vault transactions: signers, revert reasons as sentences, dates, amounts.

Every write goes through `Transactor.send`: it first simulates the call (eth_call from
the sender), so a call that would revert raises `TxError` with the contract's reason and
a sentence a person understands, before any gas is spent or any state changes. The
sentences live in reasons.json beside this file, which the web app bundles too, so the
CLI, the SDK and the browser say the same thing.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from offchain.gas import gas_limit

USDC = 10**6
BPS = 10_000
REASONS_PATH = Path(__file__).with_name("reasons.json")


@cache
def reasons() -> dict[str, str]:
    return json.loads(REASONS_PATH.read_text())


def sentence(reason: str) -> str:
    """The person-readable sentence for a contract revert reason (the reason itself if unknown)."""
    return reasons().get(reason, f"The transaction was refused: {reason}." if reason else
                         "The transaction was refused without a reason.")


class TxError(Exception):
    """A refused transaction: `reason` is the contract's stable string, str() the sentence."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        self.message = message or sentence(reason)
        super().__init__(self.message)


_REVERT = re.compile(r"(?:execution reverted|revert(?:ed)?)[:\s]*(?:reason string\s*)?['\"]?([^'\"\n]*)")


def revert_reason(exc: BaseException) -> str:
    """The revert string inside a web3 / Ape error (ContractLogicError, VirtualMachineError)."""
    for attr in ("revert_message", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and ": " in value and not value.startswith("execution reverted"):
            return value.strip()
    text = str(exc.args[0]) if exc.args else str(exc)
    match = _REVERT.search(text)
    return (match.group(1) if match else text).strip().strip("'\"")


def iso(timestamp: int) -> str:
    """A unix time as an ISO 8601 UTC date ('-' for none)."""
    if timestamp <= 0:
        return "-"
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def usdc_units(text: str | int | Decimal) -> int:
    """Whole USDC (decimals allowed) to exact 6-decimal units; ValueError with a reason."""
    try:
        value = Decimal(str(text)) * USDC
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if value <= 0 or value != value.to_integral_value():
        raise ValueError("amount must be positive with at most 6 decimals")
    return int(value)


def fmt_usdc(units: int) -> str:
    """Exact decimal rendering of USDC units: 1234500000 -> '1,234.500000'."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), USDC)
    return f"{sign}{whole:,}.{frac:06d}"


def bounded(expected: int, slippage_bps: int) -> int:
    """The worst acceptable result `slippage_bps` below a preview (rounded down)."""
    if not 0 <= slippage_bps <= BPS:
        raise ValueError("slippage must be between 0 and 10000 bps")
    return expected * (BPS - slippage_bps) // BPS


class Signer(Protocol):
    address: str

    def send(self, tx: dict) -> Any:
        """Sign and send {to, data}; return the receipt (web3 AttributeDict)."""
        ...


class KeySigner:
    """Signs with a raw private key over the given web3 (bots, automation, tests)."""

    def __init__(self, w3, private_key: str) -> None:
        from eth_account import Account

        self.w3 = w3
        self.account = Account.from_key(private_key)
        self.address = self.account.address

    def send(self, tx: dict) -> Any:
        w3 = self.w3
        tx = dict(tx, **{"from": self.address, "chainId": w3.eth.chain_id,
                         "nonce": w3.eth.get_transaction_count(self.address, "pending")})
        tx.setdefault("gas", gas_limit(w3.eth.estimate_gas(tx)))
        base = w3.eth.get_block("latest").get("baseFeePerGas", w3.eth.gas_price)
        tx.setdefault("maxPriorityFeePerGas", min(w3.eth.max_priority_fee, base))
        tx.setdefault("maxFeePerGas", base * 2 + tx["maxPriorityFeePerGas"])
        signed = self.account.sign_transaction(tx)
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)


class ApeSigner:
    """Signs with an account from Ape's account manager (keyfile, hardware, TEST::n)."""

    def __init__(self, account, w3) -> None:
        self.account = account
        self.address = account.address
        self.w3 = w3

    def send(self, tx: dict) -> Any:
        from ape import networks

        txn = networks.ecosystem.create_transaction(to=tx["to"], data=tx["data"], sender=self.address)
        receipt = self.account.call(txn)
        return self.w3.eth.get_transaction_receipt(receipt.txn_hash)


def view(fn, sender: str | None = None) -> Any:
    """Call a view (or simulate a write); a revert becomes TxError with its sentence."""
    from web3.exceptions import ContractLogicError

    try:
        return fn.call({"from": sender} if sender else {})
    except ContractLogicError as exc:
        raise TxError(revert_reason(exc)) from None


class Transactor:
    """Simulate, then send, one contract call at a time, through a `Signer`."""

    def __init__(self, w3, signer: Signer | None) -> None:
        self.w3 = w3
        self.signer = signer

    @property
    def address(self) -> str:
        if self.signer is None:
            raise TxError("", "this command needs an account to sign with (--account)")
        return self.signer.address

    def simulate(self, fn) -> Any:
        """`fn`'s result as the signer would get it; TxError with the reason if it reverts."""
        return view(fn, self.address)

    def send(self, fn) -> Any:
        """Send `fn` (a web3 ContractFunction); TxError if it would revert or did."""
        self.simulate(fn)
        tx = {"to": fn.address, "data": fn._encode_transaction_data()}
        try:
            receipt = self.signer.send(tx)
        except Exception as exc:  # noqa: BLE001 - the signer's own errors carry the revert string
            reason = revert_reason(exc)
            if "reject" in str(exc).lower() or "denied" in str(exc).lower():
                raise TxError("rejected", "You declined to sign the transaction; nothing was sent.") from None
            raise TxError(reason) from exc
        if receipt["status"] != 1:
            raise TxError("", f"the transaction {receipt['transactionHash'].hex()} reverted")
        return receipt
