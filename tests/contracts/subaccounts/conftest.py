"""Fixtures of the sub-account tests: the Exchange seen through the ExchangeAccounts ABI
(its sub-account entry points run at the Exchange's address) and transfer helpers."""

import itertools

import pytest

from offchain.subaccounts import NO_SIGNATURE, PositionTransfer, sign_transfer, subaccount_address
from tests.constants import FAR_EXPIRY, ETH


@pytest.fixture(scope="module")
def subs(project, exchange):
    """The Exchange's address with the ExchangeAccounts ABI (open_subaccount, move_collateral,
    transfer_position, split, merge)."""
    return project.ExchangeAccounts.at(exchange.address)


@pytest.fixture(scope="module")
def open_sub(subs):
    """open_sub(owner, index=1) -> the sub-account's address (opened on chain)."""

    def _open(owner, index=1):
        subs.open_subaccount(index, sender=owner)
        return subaccount_address(owner.address, index)

    return _open


@pytest.fixture(scope="module")
def create_transfer():
    """create_transfer(source, target, size, price, market=ETH, nonce=None, expiry=FAR) -> PositionTransfer."""
    nonces = itertools.count(1)

    def create(source, target, size, price, *, market=ETH, nonce=None, expiry=FAR_EXPIRY):
        addr = lambda a: a if isinstance(a, str) else a.address  # noqa: E731
        return PositionTransfer(addr(source), addr(target), market, size, price,
                                next(nonces) if nonce is None else nonce, expiry)

    return create


@pytest.fixture(scope="module")
def sign_t(domain):
    """sign_t(transfer, signer) -> Signature ABI tuple (signer: an Ape test account or a key)."""

    def _sign(transfer, signer):
        key = signer if isinstance(signer, (bytes, str)) else signer.private_key
        return sign_transfer(transfer, domain, key).as_tuple()

    return _sign


@pytest.fixture(scope="module")
def relay(subs, sign_t):
    """relay(transfer, source_signer, target_signer, sender) -> receipt: transfer_position
    with both sides' signatures, sent by `sender`."""

    def _relay(transfer, source_signer, target_signer, sender):
        return subs.transfer_position(transfer.as_tuple(), sign_t(transfer, source_signer),
                                      sign_t(transfer, target_signer), sender=sender)

    return _relay


@pytest.fixture(scope="module")
def no_sig():
    return NO_SIGNATURE
