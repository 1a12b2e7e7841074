"""The keeper's admission pre-check with margin tiers and unsettled funding: it accepts an
order exactly when equity (collateral - unsettled funding + unrealised PnL) covers the
tiered initial requirement of the worst case, the rule contracts/margin_tiers.vy applies
(tests/contracts/exchange/test_margin_tiers_module.py shows the two tables agree)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from hypothesis import given, settings, strategies as st

from offchain.keeper.admission import AccountState, AdmissionContext, Rejection, check_order
from offchain.order import sign_order
from offchain.risk.margin import TierTable

from tests.offchain.keeper.helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, order
from tests.constants import ONE, USDC

NOW = int(time.time())
# PRICE is 2,000 USDC: 10 % up to 1,000 USDC notional, 20 % up to 4,000, 50 % beyond
TIERS = TierTable.of([(0, 1_000, 500), (1_000 * USDC, 2_000, 1_000), (4_000 * USDC, 5_000, 2_500)])
TIERED = dataclasses.replace(MARKET, tiers=TIERS)


def admitted(o, state) -> bool:
    c = AdmissionContext(DOMAIN, {1: TIERED}, {1: PRICE})
    try:
        check_order(o, sign_order(o, DOMAIN, KEYS[0]), state, c, NOW)
        return True
    except Rejection as exc:
        assert exc.reason == "margin"
        return False


def state_with(collateral: int, funding: int = 0) -> AccountState:
    s = AccountState(ADDR[0])
    s.collateral = collateral
    s.funding = funding
    s.loaded = True
    return s


@pytest.mark.parametrize("notional_usdc", [998, 1_000, 1_002, 3_998, 4_000, 4_002])  # lot = 2 USDC
@pytest.mark.parametrize("slack", [-1, 0])
def test_admission__tier_boundaries__accepts_iff_tiered_requirement_covered(notional_usdc, slack):
    size = notional_usdc * USDC * ONE // PRICE
    need = TIERS.requirement(size * PRICE // ONE)
    assert admitted(order(0, True, size=size), state_with(need + slack)) == (slack == 0)


def test_admission__unsettled_funding__counts_against_equity():
    size = 1_000 * USDC * ONE // PRICE
    need = TIERS.requirement(size * PRICE // ONE)
    assert admitted(order(0, True, size=size), state_with(need + 5, funding=5))
    assert not admitted(order(0, True, size=size), state_with(need + 5, funding=6))
    assert admitted(order(0, True, size=size), state_with(need - 5, funding=-5))  # funding owed to it


@settings(max_examples=150, derandomize=True)
@given(position=st.integers(-10**19, 10**19), cost_offset=st.integers(-10**9, 10**9),
       open_buy=st.integers(0, 10**19), new=st.integers(1, 10**19), is_buy=st.booleans(),
       collateral=st.integers(0, 5_000 * USDC), funding=st.integers(-10**8, 10**8))
def test_admission__random_positions__agrees_with_tiered_rule(position, cost_offset, open_buy, new, is_buy,
                                                               collateral, funding):
    lot = MARKET.lot
    position, open_buy, new = position // lot * lot, open_buy // lot * lot, max(lot, new // lot * lot)
    s = state_with(collateral, funding)
    cost = position * PRICE // ONE + cost_offset if position else 0  # a flat position has no cost
    s.positions[1] = [position, cost]
    s.open_buy[1] = open_buy
    value = position * PRICE // ONE if position >= 0 else -(-position * PRICE // ONE)
    equity = collateral - funding + value - cost
    buys = open_buy + (new if is_buy else 0)
    sells = 0 if is_buy else new
    worst = max(abs(position + buys), abs(position - sells))
    expected = equity >= TIERS.requirement(worst * PRICE // ONE)
    assert admitted(order(0, is_buy, size=new), s) == expected
