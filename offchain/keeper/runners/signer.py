"""Turns desired orders into signed EIP-712 orders (and signed cancels) for one account.

The key is an agent the account approved on the Exchange (the pool's keeper agent, a
vault's manager agent, or the factory's unwind agent); the order's `account` is the
pool / vault, so the Exchange checks `is_agent(account, signer)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from offchain.nonces import OrderNonces
from offchain.wire import Cancel
from offchain.order import Domain, Order, Signature, encode_flags, sign_order
from offchain.strategies import DesiredOrder

from ..keys import Key

DEFAULT_TTL_S = 7 * 86_400  # resting grid orders live long; the reconciler replaces expired ones


class OrderSigner:
    def __init__(self, domain: Domain, key: Key, account: str, *, first_nonce: int, ttl_s: int = DEFAULT_TTL_S):
        # Nonces only need to be unique per account and above its on-chain floor; a counter
        # started from the wall clock (µs, passed in) stays above any earlier run's.
        # Single-fill orders take theirs from reserved 256-nonce words (offchain/nonces.py),
        # so they share bitmap words on chain.
        self.domain = domain
        self.key = key
        self.account = account
        self.ttl_s = ttl_s
        self._nonces = OrderNonces(first_nonce)

    @property
    def agent(self) -> str:
        return self.key.address

    def order(self, d: DesiredOrder, now_s: int, one_fill: bool = False) -> Order:
        """The signed order's fields for `d`; `one_fill`: a single-fill (ONE_FILL) order."""
        return Order(self.account, d.market, d.is_buy, d.price, d.size, self._nonces.take(one_fill),
                     now_s + self.ttl_s, encode_flags(d.post_only, d.reduce_only, one_fill))

    def sign(self, d: DesiredOrder, now_s: int, one_fill: bool = False) -> tuple[Order, Signature]:
        order = self.order(d, now_s, one_fill)
        return order, sign_order(order, self.domain, self.key.private_key)

    def batch(self, orders: Iterable[DesiredOrder], tif: str, now_s: int,
              one_fill: Sequence[bool] = ()) -> list[tuple[Order, Signature, str]]:
        """(order, signature, tif) per desired order; `one_fill[i]`: the i-th single-fill."""
        return [(*self.sign(d, now_s, i < len(one_fill) and one_fill[i]), tif) for i, d in enumerate(orders)]

    def cancel(self, market: int, hashes: Iterable[bytes], now_ms: int) -> tuple[Cancel, Signature]:
        cancel = Cancel(self.account, market, tuple(hashes), now_ms)
        return cancel, cancel.sign(self.domain, self.key.private_key)
