import time

import pytest

from offchain.keeper.admission import AccountState, AdmissionContext, Rejection, check_order
from offchain.order import REDUCE_ONLY, Signature, sign_order

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, order

NOW = int(time.time())


def ctx(margin=True):
    return AdmissionContext(DOMAIN, {1: MARKET}, {1: PRICE}, margin)


def funded(i=0, collateral=10**12):
    state = AccountState(ADDR[i])
    state.collateral = collateral
    return state


def check(o, key=KEYS[0], state=None, c=None):
    return check_order(o, sign_order(o, DOMAIN, key), state or funded(), c or ctx(), NOW)


def reason(**kw):
    with pytest.raises(Rejection) as info:
        check(**kw)
    return info.value.reason


def test_check__valid_order__admitted_with_hash_and_signer():
    admitted = check(order(0, True))
    assert admitted.signer == ADDR[0] and len(admitted.hash) == 32


def test_check__signed_by_other_key__bad_signature():
    assert reason(o=order(0, True), key=KEYS[1]) == "bad signature"


def test_check__signed_by_approved_agent__admitted():
    state = funded()
    state.agents.add(ADDR[1])
    assert check(order(0, True), key=KEYS[1], state=state).signer == ADDR[1]


def test_check__high_s_signature__bad_signature():
    o = order(0, True)
    sig = sign_order(o, DOMAIN, KEYS[0])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    flipped = Signature(v=55 - sig.v, r=sig.r, s=n - sig.s)
    with pytest.raises(Rejection, match="bad signature"):
        check_order(o, flipped, funded(), ctx(), NOW)


@pytest.mark.parametrize("kw,expected", [
    ({"price": PRICE + 1}, "price off tick"),
    ({"size": 10**15 + 1}, "size off lot"),
    ({"price": 0}, "invalid price"),
    ({"size": 0}, "invalid size"),
    ({"market": 9}, "unknown market"),
    ({"flags": 16}, "unknown flags"),  # 8 is ONE_FILL
    ({"flags": 4}, "liquidation flag"),  # only the liquidation runner makes these (no signature)
    ({"flags": 6}, "liquidation flag"),
    ({"expiry": NOW}, "expired"),
])
def test_check__bad_field__rejected_with_reason(kw, expected):
    assert reason(o=order(0, True, **kw)) == expected


def test_check__nonce_below_floor__rejected():
    state = funded()
    state.min_nonce = 5
    assert reason(o=order(0, True, nonce=4), state=state) == "nonce"


def test_check__not_enough_collateral__margin():
    # 1 ETH at 2,000 USDC needs 200 USDC initial margin; 100 USDC is not enough
    assert reason(o=order(0, True, size=10**18), state=funded(collateral=100 * 10**6)) == "margin"
    assert check(order(0, True, size=10**18), state=funded(collateral=200 * 10**6))


def test_check__open_orders_count_towards_margin():
    state = funded(collateral=200 * 10**6)
    state.open_buy[1] = 10**18
    assert reason(o=order(0, True, size=10**17), state=state) == "margin"
    # the other side nets against the open buys: worst case stays 1 ETH
    assert check(order(0, False, size=10**17), state=state)


def test_check__reduce_only__skips_margin():
    assert check(order(0, False, flags=REDUCE_ONLY), state=funded(collateral=0))


def test_account_state__pending_fill_then_undo__back_to_zero():
    state = funded()
    state.apply_fill(1, True, PRICE, 10**17)
    assert state.position(1) == 10**17
    state.apply_fill(1, True, PRICE, 10**17, -1)
    assert state.position(1) == 0 and state.pending[1] == [0, 0]


def test_account_state__unrealised_pnl_in_equity():
    state = funded(collateral=0)
    state.apply_fill(1, True, PRICE, 10**18)
    assert state.equity({1: PRICE + 10 * 10**6}) == 10 * 10**6
