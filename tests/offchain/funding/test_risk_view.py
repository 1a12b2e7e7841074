"""offchain.funding.risk.account_with_funding: unsettled funding folded into each
position's cost leaves the keeper's equity and requirements equal to the settled
account's, and makes ADL rank by PnL including funding (the Exchange's ADL check)."""

from hypothesis import given, settings, strategies as st

from offchain.funding.risk import account_with_funding
from offchain.risk.liquidation import AccountRisk, MarketRisk, adl_rank, health

ONE, USDC = 10**18, 10**6
MARKETS = {1: MarketRisk(1, 10**15, 10**15, 1_000, 500), 2: MarketRisk(2, 10**15, 10**15, 2_000, 1_000)}
MARKS = {1: 2_000 * USDC, 2: 150 * USDC}

sizes = st.integers(-10**20, 10**20)
costs = st.integers(-10**12, 10**12)
owed = st.integers(-10**10, 10**10)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(coll=st.integers(0, 10**12), s1=sizes, c1=costs, o1=owed, s2=sizes, c2=costs, o2=owed)
def test_account_with_funding__same_health_as_settled(coll, s1, c1, o1, s2, c2, o2):
    positions = {1: (s1, c1), 2: (s2, c2)}
    funding = {m: o for m, o in ((1, o1), (2, o2)) if positions[m][0] != 0}
    folded = account_with_funding("a", coll, positions, funding)
    settled = AccountRisk("a", coll - sum(funding.values()),
                          tuple((m, s, c) for m, (s, c) in sorted(positions.items()) if s != 0))
    assert health(folded, MARKS, MARKETS) == health(settled, MARKS, MARKETS)


def test_adl_rank__funding_receiver_qualifies_payer_does_not():
    # both shorts at the mark (price PnL 0): one is owed funding, one owes it
    receiver = account_with_funding("r", 1_000 * USDC, {1: (-ONE, -2_000 * USDC)}, {1: -400 * USDC})
    payer = account_with_funding("p", 1_000 * USDC, {1: (-ONE, -2_000 * USDC)}, {1: 5 * USDC})
    flat = account_with_funding("f", 1_000 * USDC, {1: (-ONE, -2_000 * USDC)}, {})
    assert [c.account for c in adl_rank(True, 1, [payer, flat, receiver], MARKS, MARKETS)] == ["r"]
