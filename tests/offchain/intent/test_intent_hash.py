"""offchain.intent against eth-account's generic EIP-712 encoder and signer."""

from eth_account import Account
from hypothesis import given, settings, strategies as st

from offchain.intent import (
    INTENT_TYPE,
    KINDS,
    POST_ONLYS,
    SLIPPAGE_REFS,
    STPS,
    TIFS,
    Intent,
    intent_hash,
    recover_intent_signer,
    sign_intent,
)
from offchain.order import Domain, Order, address_of, order_hash, sign_order
from tests import eip712
from tests.eip712 import ADDRESS, UINT256, domains

KEY = "0x" + "22" * 32
OTHER_KEY = "0x" + "33" * 32
INTENT_FIELDS = [
    ("order", "bytes32"), ("kind", "string"), ("tif", "string"), ("trigger_price", "uint256"),
    ("trail_bps", "uint256"), ("trail_amount", "uint256"), ("slippage_bps", "uint256"),
    ("slippage_ref", "string"), ("stp", "string"), ("post_only", "string"), ("client_id", "string"),
]

intents = st.builds(
    Intent, kind=st.sampled_from(list(KINDS)), tif=st.sampled_from(list(TIFS)),
    trigger_price=UINT256, trail_bps=UINT256, trail_amount=UINT256, slippage_bps=UINT256,
    slippage_ref=st.sampled_from(list(SLIPPAGE_REFS)), stp=st.sampled_from(list(STPS)),
    post_only=st.sampled_from(list(POST_ONLYS)),
    client_id=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=64),
)


def reference_message(digest: bytes, intent: Intent, domain: Domain):
    return eip712.reference_message("OrderIntent", INTENT_FIELDS, domain, {"order": digest, **intent.as_dict()})


def test_intent_type__matches_field_list():
    assert INTENT_TYPE == "OrderIntent(" + ",".join(f"{t} {n}" for n, t in INTENT_FIELDS) + ")"


@settings(max_examples=60, deadline=None)
@given(digest=st.binary(min_size=32, max_size=32), intent=intents, domain=domains)
def test_intent_hash__any_intent__equals_eth_account_digest(digest, intent, domain):
    signed = Account.sign_message(reference_message(digest, intent, domain), KEY)
    assert intent_hash(digest, intent, domain) == signed.message_hash


@settings(max_examples=20, deadline=None)
@given(intent=intents, domain=domains)
def test_sign_intent__any_intent__same_signature_as_eth_account_and_recovers(intent, domain):
    order = Order(address_of(KEY), 1, True, 2_000_000_000, 10**18, 7, 2**40)
    digest = order_hash(order, domain)
    reference = Account.sign_message(reference_message(digest, intent, domain), KEY)
    signature = sign_intent(order, intent, domain, KEY)
    assert (signature.v, signature.r, signature.s) == (reference.v, reference.r, reference.s)
    assert recover_intent_signer(digest, intent, domain, signature) == address_of(KEY)


DOMAIN = Domain(31337, "0x" + "aa" * 20)
ORDER = Order(address_of(KEY), 1, False, 1_900_000_000, 10**18, 9, 2**40)
STOP = Intent(kind="stop_market", tif="IOC", trigger_price=1_950_000_000)


def test_recover__intent_changed_after_signing__other_signer():
    signature = sign_intent(ORDER, STOP, DOMAIN, KEY)
    digest = order_hash(ORDER, DOMAIN)
    moved = Intent(kind="stop_market", tif="IOC", trigger_price=1_950_000_001)
    assert recover_intent_signer(digest, STOP, DOMAIN, signature) == address_of(KEY)
    assert recover_intent_signer(digest, moved, DOMAIN, signature) != address_of(KEY)


def test_recover__intent_bound_to_other_order__other_signer():
    signature = sign_intent(ORDER, STOP, DOMAIN, KEY)
    other = Order(ORDER.account, 1, False, 1_900_000_000, 10**18, 10, 2**40)
    assert recover_intent_signer(order_hash(other, DOMAIN), STOP, DOMAIN, signature) != address_of(KEY)


def test_recover__other_domain__other_signer():
    signature = sign_intent(ORDER, STOP, DOMAIN, KEY)
    other = Domain(1, DOMAIN.exchange)
    assert recover_intent_signer(order_hash(ORDER, other), STOP, other, signature) != address_of(KEY)


def test_intent_signature__is_not_an_order_signature():
    """The intent digest differs from the order digest: one signature cannot stand for the other."""
    digest = order_hash(ORDER, DOMAIN)
    assert intent_hash(digest, Intent(), DOMAIN) != digest
    assert sign_intent(ORDER, Intent(), DOMAIN, KEY) != sign_order(ORDER, DOMAIN, KEY)
