"""The reference the EIP-712 hash tests check offchain/ against: eth-account's generic
typed-data encoder, fed the same domain (name "MMX Exchange", version "1") and hypothesis
strategies for the raw values."""

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from hypothesis import strategies as st

from offchain.order import Domain, Signature, address_of

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESS = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
DOMAIN_FIELDS = [
    ("name", "string"), ("version", "string"), ("chainId", "uint256"),
    ("verifyingContract", "address"),
]
domains = st.builds(Domain, chain_id=st.integers(min_value=1, max_value=2**64), exchange=ADDRESS)


def reference_message(primary: str, fields: list[tuple[str, str]], domain: Domain, message: dict) -> SignableMessage:
    """`message` of type `primary` (its `fields`) under `domain`, by eth-account's encoder."""
    return encode_typed_data(full_message={
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_FIELDS],
            primary: [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": primary,
        "domain": {
            "name": "MMX Exchange", "version": "1", "chainId": domain.chain_id,
            "verifyingContract": domain.exchange,
        },
        "message": message,
    })


def assert_signs_like_eth_account(signature: Signature, reference: SignableMessage, key: str, recovered: str) -> None:
    """Our `signature` of a message is eth-account's signature of its `reference` (same v,
    r, s: both are deterministic, RFC 6979), and our recovery of it gives the key's address."""
    ref = Account.sign_message(reference, key)
    assert (signature.v, signature.r, signature.s) == (ref.v, ref.r, ref.s)
    assert recovered == address_of(key)
