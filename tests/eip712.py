"""The reference the EIP-712 hash tests check offchain/ against: eth-account's generic
typed-data encoder, fed the same domain (name "MMX Exchange", version "1") and hypothesis
strategies for the raw values."""

from eth_account.messages import SignableMessage, encode_typed_data
from hypothesis import strategies as st

from offchain.order import Domain

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
