"""offchain.order against eth-account's generic EIP-712 encoder and signer."""

import pytest
from eth_account import Account
from hypothesis import given, settings, strategies as st

from offchain.order import (
    SECP256K1_N,
    Domain,
    InvalidSignature,
    Order,
    Signature,
    address_of,
    order_hash,
    recover_signer,
    sign_order,
)
from tests import eip712
from tests.eip712 import ADDRESS, UINT256, domains

KEY = "0x" + "11" * 32

ORDER_FIELDS = [
    ("account", "address"), ("market", "uint256"), ("is_buy", "bool"), ("price", "uint256"),
    ("size", "uint256"), ("nonce", "uint256"), ("expiry", "uint256"), ("flags", "uint256"),
]

orders = st.builds(
    Order, account=ADDRESS, market=UINT256, is_buy=st.booleans(), price=UINT256,
    size=UINT256, nonce=UINT256, expiry=UINT256, flags=UINT256,
)


def reference_message(order: Order, domain: Domain):
    return eip712.reference_message("Order", ORDER_FIELDS, domain, order.as_dict())


@settings(max_examples=60, deadline=None)
@given(order=orders, domain=domains)
def test_order_hash__any_order__equals_eth_account_digest(order, domain):
    signed = Account.sign_message(reference_message(order, domain), KEY)
    assert order_hash(order, domain) == signed.message_hash


@settings(max_examples=30, deadline=None)
@given(order=orders, domain=domains)
def test_sign_order__any_order__same_signature_as_eth_account_and_recovers(order, domain):
    signature = sign_order(order, domain, KEY)
    eip712.assert_signs_like_eth_account(signature, reference_message(order, domain), KEY,
                                         recover_signer(order, domain, signature))


def test_recover__other_domain__different_signer():
    order = Order(address_of(KEY), 1, True, 2_000_000_000, 10**18, 1, 2**40)
    signature = sign_order(order, Domain(1, "0x" + "aa" * 20), KEY)
    assert recover_signer(order, Domain(2, "0x" + "aa" * 20), signature) != address_of(KEY)
    assert recover_signer(order, Domain(1, "0x" + "bb" * 20), signature) != address_of(KEY)


def test_recover__high_s_twin__rejected():
    order = Order(address_of(KEY), 1, False, 5, 7, 1, 2**40)
    domain = Domain(1, "0x" + "aa" * 20)
    signature = sign_order(order, domain, KEY)
    twin = Signature(v=55 - signature.v, r=signature.r, s=SECP256K1_N - signature.s)
    with pytest.raises(InvalidSignature, match="high s"):
        recover_signer(order, domain, twin)


def test_recover__bad_v__rejected():
    order = Order(address_of(KEY), 1, False, 5, 7, 1, 2**40)
    domain = Domain(1, "0x" + "aa" * 20)
    signature = sign_order(order, domain, KEY)
    with pytest.raises(InvalidSignature, match="v must be"):
        recover_signer(order, domain, Signature(v=29, r=signature.r, s=signature.s))


def test_signature__bytes_round_trip__identical():
    signature = sign_order(Order(address_of(KEY), 1, True, 1, 1, 1, 1), Domain(1, "0x" + "aa" * 20), KEY)
    assert Signature.from_hex(signature.to_hex()) == signature
