"""offchain.order against eth-account's generic EIP-712 encoder and signer."""

from eth_account import Account
from eth_account.messages import encode_typed_data
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

import pytest

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESS = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
KEY = "0x" + "11" * 32

ORDER_FIELDS = [
    ("account", "address"), ("market", "uint256"), ("is_buy", "bool"), ("price", "uint256"),
    ("size", "uint256"), ("nonce", "uint256"), ("expiry", "uint256"), ("flags", "uint256"),
]
DOMAIN_FIELDS = [
    ("name", "string"), ("version", "string"), ("chainId", "uint256"),
    ("verifyingContract", "address"),
]

orders = st.builds(
    Order, account=ADDRESS, market=UINT256, is_buy=st.booleans(), price=UINT256,
    size=UINT256, nonce=UINT256, expiry=UINT256, flags=UINT256,
)
domains = st.builds(Domain, chain_id=st.integers(min_value=1, max_value=2**64), exchange=ADDRESS)


def reference_message(order: Order, domain: Domain):
    return encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_FIELDS],
            "Order": [{"name": n, "type": t} for n, t in ORDER_FIELDS],
        },
        "primaryType": "Order",
        "domain": {
            "name": "MMX Exchange", "version": "1", "chainId": domain.chain_id,
            "verifyingContract": domain.exchange,
        },
        "message": order.as_dict(),
    })


@settings(max_examples=60, deadline=None)
@given(order=orders, domain=domains)
def test_order_hash__any_order__equals_eth_account_digest(order, domain):
    signed = Account.sign_message(reference_message(order, domain), KEY)
    assert order_hash(order, domain) == signed.message_hash


@settings(max_examples=30, deadline=None)
@given(order=orders, domain=domains)
def test_sign_order__any_order__same_signature_as_eth_account_and_recovers(order, domain):
    reference = Account.sign_message(reference_message(order, domain), KEY)
    signature = sign_order(order, domain, KEY)
    assert (signature.v, signature.r, signature.s) == (reference.v, reference.r, reference.s)
    assert recover_signer(order, domain, signature) == address_of(KEY)


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
