"""Chain helpers for the vault and web tests: settle a fill through the real Exchange.

A queued withdrawal needs the vault's cash held as margin by an open position; the
operator (the keeper's role) settles one signed fill between the vault (signed by its
manager, the vault's first agent) and a funded taker."""

from __future__ import annotations

import itertools

from web3 import Web3

from offchain.artifacts import abi
from offchain.client.wallet import KeySigner, Transactor
from offchain.deploy import Web3Deployer
from offchain.keeper.devstack import DevStack, fund
from offchain.order import Domain, Order, address_of, sign_order

MARKET = 1
PRICE = 2_000 * 10**6
FAR = 2**40
REDUCE_ONLY = 2
_nonces = itertools.count(1_000)


def fund_taker(w3: Web3, stack: DevStack, key: str, amount: int) -> None:
    fund(w3, stack.deployment, Web3Deployer(w3, stack.admin_key), key, amount)


def mark(w3: Web3, stack: DevStack, price: int = PRICE) -> None:
    """Publish a fresh mark (tests advance chain time past the oracle's staleness limit)."""
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    Transactor(w3, KeySigner(w3, stack.admin_key)).send(oracle.functions.set_price(MARKET, price))


def settle(w3: Web3, stack: DevStack, vault: str, manager_key: str, taker_key: str, vault_buys: bool,
           size: int, flags: int = 0) -> None:
    """One fill at PRICE: the vault is the maker (signed by its manager), the taker crosses it."""
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    mark(w3, stack)
    domain = Domain(chain_id=w3.eth.chain_id, exchange=exchange.address)
    maker = Order(vault, MARKET, vault_buys, PRICE, size, next(_nonces), FAR, flags)
    taker = Order(address_of(taker_key), MARKET, not vault_buys, PRICE, size, next(_nonces), FAR, 0)
    fill = (maker.as_tuple(), sign_order(maker, domain, manager_key).as_tuple(),
            taker.as_tuple(), sign_order(taker, domain, taker_key).as_tuple(), size)
    receipt = KeySigner(w3, stack.operator_key).send(
        {"to": exchange.address, "data": exchange.functions.settle([fill])._encode_transaction_data()})
    settled = exchange.events.FillSettled().process_receipt(receipt)
    assert len(settled) == 1, exchange.events.FillSkipped().process_receipt(receipt)
