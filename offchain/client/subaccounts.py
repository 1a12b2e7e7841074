"""SDK for sub-accounts and position transfers (docs/subaccounts.md).

    from offchain.client.subaccounts import SubaccountClient
    subs = SubaccountClient(w3, exchange_address, KeySigner(w3, key))
    sub = subs.open(1)                                  # -> the sub-account's address
    subs.split(sub, market=1, size=10**18, collateral=500 * 10**6)
    # trade it: KeeperClient(url, key, account=sub) signs the sub-account's orders
    subs.merge(sub, market=1, collateral=500 * 10**6)

    t = subs.transfer(from_account=me, to_account=desk, market=1, size=10**18, price=2_000 * 10**6)
    mine = subs.sign(t)                                 # each side signs the same transfer
    subs.submit(t, mine, theirs)                        # on chain from this wallet, or
    keeper_client.relay_transfer(t, mine, theirs)       # POST /transfers: the keeper sends it

The calls run at the Exchange's address with the ExchangeAccounts ABI (the Exchange
forwards them). Writes simulate first (offchain.client.wallet.Transactor): a refusal raises
TxError with the Exchange's reason and changes nothing. Amounts are exact integers.
"""

from __future__ import annotations

import itertools
import time

from offchain.artifacts import abi
from offchain.order import Domain, Signature
from offchain.subaccounts import NO_SIGNATURE, PositionTransfer, sign_transfer, subaccount_address

from .wallet import Signer, Transactor, TxError


class SubaccountClient:
    def __init__(self, w3, exchange: str, signer: Signer | None = None, private_key: str | None = None) -> None:
        self.w3 = w3
        self.exchange = w3.eth.contract(address=exchange, abi=abi("ExchangeAccounts"))
        self.views = w3.eth.contract(address=exchange, abi=abi("Exchange"))
        self.tx = Transactor(w3, signer)
        self.private_key = private_key or getattr(getattr(signer, "account", None), "key", None)
        self.domain = Domain(w3.eth.chain_id, exchange)
        self._nonces = itertools.count(time.time_ns())

    # -- sub-accounts ------------------------------------------------------------------------
    def address_of(self, index: int, owner: str | None = None) -> str:
        return subaccount_address(owner or self.tx.address, index)

    def is_open(self, sub: str, owner: str | None = None) -> bool:
        """Opened sub-accounts have their owner as agent (docs/subaccounts.md)."""
        return bool(self.views.functions.is_agent(sub, owner or self.tx.address).call())

    def open(self, index: int) -> str:
        """Open sub-account `index` of the signer; returns its address."""
        self.tx.send(self.exchange.functions.open_subaccount(index))
        return self.address_of(index)

    def move_collateral(self, source: str, target: str, amount: int) -> None:
        self.tx.send(self.exchange.functions.move_collateral(source, target, amount))

    def split(self, sub: str, market: int, size: int, collateral: int = 0) -> None:
        """Move `collateral`, then `size` base units of the signer's position, into `sub` at mark."""
        self.tx.send(self.exchange.functions.split(sub, market, size, collateral))

    def merge(self, sub: str, market: int, collateral: int = 0) -> None:
        """Move `sub`'s whole position in `market` back at mark, then `collateral`."""
        self.tx.send(self.exchange.functions.merge(sub, market, collateral))

    # -- transfers ---------------------------------------------------------------------------
    def transfer(self, from_account: str, to_account: str, market: int, size: int, price: int, *,
                 nonce: int | None = None, expiry: int | None = None, ttl: int = 3_600) -> PositionTransfer:
        """A PositionTransfer: `size` is the target's signed change (> 0: it receives a long)."""
        return PositionTransfer(from_account, to_account, market, size, price,
                                next(self._nonces) if nonce is None else nonce,
                                int(time.time()) + ttl if expiry is None else expiry)

    def sign(self, transfer: PositionTransfer, private_key: str | None = None) -> Signature:
        key = private_key or self.private_key
        if key is None:
            raise TxError("", "signing a transfer needs a private key (private_key=)")
        return sign_transfer(transfer, self.domain, key)

    def submit(self, transfer: PositionTransfer, from_sig: Signature | None = None,
               to_sig: Signature | None = None) -> None:
        """transfer_position from this wallet (a side the wallet acts for needs no signature)."""
        self.tx.send(self.exchange.functions.transfer_position(
            transfer.as_tuple(), from_sig.as_tuple() if from_sig else NO_SIGNATURE,
            to_sig.as_tuple() if to_sig else NO_SIGNATURE))

    def position(self, account: str, market: int) -> tuple[int, int]:
        size, cost = self.views.functions.position(account, market).call()
        return int(size), int(cost)


def relay_body(transfer: PositionTransfer, from_sig: Signature | None, to_sig: Signature | None) -> dict:
    """The POST /transfers body (docs/api.md)."""
    return {"transfer": transfer.to_json(), "from_signature": from_sig.to_hex() if from_sig else "",
            "to_signature": to_sig.to_hex() if to_sig else ""}
