"""offchain.subaccounts: the PositionTransfer digest against eth-account's generic EIP-712
encoder and signer (what a wallet's eth_signTypedData_v4 signs), and the sub-account
address derivation (the contract tests check both against the Exchange)."""

from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings, strategies as st

from offchain.order import address_of
from offchain.subaccounts import (TRANSFER_TYPE, PositionTransfer, recover_transfer_signer, sign_transfer,
                                  subaccount_address, transfer_hash)
from tests import eip712
from tests.eip712 import ADDRESS, UINT256, domains

KEY = "0x" + "44" * 32
FIELDS = [("from_account", "address"), ("to_account", "address"), ("market", "uint256"), ("size", "int256"),
          ("price", "uint256"), ("nonce", "uint256"), ("expiry", "uint256")]
INT256 = st.integers(min_value=-(2**255), max_value=2**255 - 1)
transfers = st.builds(PositionTransfer, from_account=ADDRESS.map(to_checksum_address),
                      to_account=ADDRESS.map(to_checksum_address), market=UINT256, size=INT256, price=UINT256,
                      nonce=UINT256, expiry=UINT256)


def reference(t: PositionTransfer, domain):
    return eip712.reference_message("PositionTransfer", FIELDS, domain, {n: getattr(t, n) for n, _ in FIELDS})


def test_transfer_type__matches_field_list():
    assert TRANSFER_TYPE == "PositionTransfer(" + ",".join(f"{t} {n}" for n, t in FIELDS) + ")"


@settings(max_examples=60, deadline=None)
@given(t=transfers, domain=domains)
def test_transfer_hash__any_transfer__equals_eth_account_digest(t, domain):
    assert transfer_hash(t, domain) == Account.sign_message(reference(t, domain), KEY).message_hash


@settings(max_examples=20, deadline=None)
@given(t=transfers, domain=domains)
def test_sign_transfer__same_signature_as_eth_account_and_recovers(t, domain):
    sig = sign_transfer(t, domain, KEY)
    eip712.assert_signs_like_eth_account(sig, reference(t, domain), KEY, recover_transfer_signer(t, domain, sig))


@given(owner=ADDRESS, index=st.integers(min_value=1, max_value=2**256 - 1))
def test_subaccount_address__low_160_bits_of_keccak(owner, index):
    expected = keccak(bytes(12) + bytes.fromhex(owner[2:]) + index.to_bytes(32, "big"))[-20:]
    assert subaccount_address(owner, index) == to_checksum_address(expected)


def test_transfer__bad_fields__value_error():
    import pytest

    for bad in ({"size": 2**255}, {"market": -1}, {"price": True}, {"from_account": "0x12"}):
        fields = dict(from_account=address_of(KEY), to_account=address_of(KEY), market=1, size=1, price=1, nonce=1,
                      expiry=1) | bad
        with pytest.raises(ValueError):
            PositionTransfer(**fields)
    with pytest.raises(ValueError):
        subaccount_address(address_of(KEY), 0)
