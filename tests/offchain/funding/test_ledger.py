"""Lazy funding settlement (FundingLedger) against an eager exact model.

Invariant kept: collateral + funding balance + insurance fund is unchanged by every
settlement (funding only moves money), each settlement pays the ceiling of the exact
accrued amount, balance * PAY_SCALE - dust is the sum of the settled exact amounts
(0 <= dust < PAY_SCALE), and once every position is settled balance = dust = 0 and
sum(paid) = sum(received) + residue, the residue (swept to the fund) being below one unit
per settlement.
"""

from __future__ import annotations

from fractions import Fraction
import math

from hypothesis import given, settings, strategies as st

from offchain.funding import PAY_SCALE, RATE_ONE, FundingLedger, index_delta

ACCOUNTS = ["a", "b", "c", "d"]
MARKETS = [1, 2, 3]

step = st.one_of(
    st.tuples(st.just("trade"), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), st.sampled_from(MARKETS),
              st.integers(1, 10**21)),
    # rates up to +-4 %, marks from 1 unit to 1e12 units (large price gaps between intervals)
    st.tuples(st.just("rate"), st.sampled_from(MARKETS), st.integers(-RATE_ONE // 25, RATE_ONE // 25),
              st.one_of(st.integers(1, 10**12), st.sampled_from([1, 3, 2_000 * 10**6, 10**12]))),
    st.tuples(st.just("settle"), st.sampled_from(ACCOUNTS), st.sampled_from(MARKETS)),
)


class EagerModel:
    """Accrues every position's exact funding at every rate update (no laziness)."""

    def __init__(self) -> None:
        self.size: dict[tuple[str, int], int] = {}
        self.accrued: dict[tuple[str, int], Fraction] = {}
        self.settled: dict[str, int] = {}

    def rate(self, market: int, rate: int, mark: int) -> None:
        for (acct, m), size in self.size.items():
            if m == market and size:
                self.accrued[(acct, m)] = self.accrued.get((acct, m), Fraction(0)) + Fraction(size * index_delta(rate, mark), PAY_SCALE)

    def settle(self, acct: str, market: int) -> int:
        owed = math.ceil(self.accrued.pop((acct, market), Fraction(0)))
        self.settled[acct] = self.settled.get(acct, 0) + owed
        return owed

    def trade(self, acct: str, market: int, delta: int) -> None:
        self.settle(acct, market)
        self.size[(acct, market)] = self.size.get((acct, market), 0) + delta


@settings(max_examples=200, derandomize=True, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=60))
def test_ledger__lazy_settlement_matches_eager_model(steps):
    ledger, model = FundingLedger(), EagerModel()
    settlements = 0
    exact = 0  # the settled exact amounts (the eager model's accrual, times PAY_SCALE)

    def settled(acct, market):
        nonlocal exact
        exact += model.accrued.get((acct, market), Fraction(0)) * PAY_SCALE
        return model.settle(acct, market)

    for s in steps:
        if s[0] == "trade":
            _, buyer, seller, market, size = s
            if buyer == seller:
                continue
            # both sides of a fill: positions sum to zero per market (opens, closes, flips)
            for acct, delta in ((buyer, size), (seller, -size)):
                assert ledger.trade(acct, market, delta) == settled(acct, market)
                model.size[(acct, market)] = model.size.get((acct, market), 0) + delta
                settlements += 1
        elif s[0] == "rate":
            _, market, rate, mark = s
            ledger.apply_rate(market, rate, mark)
            model.rate(market, rate, mark)
        else:
            _, acct, market = s
            assert ledger.settle(acct, market) == settled(acct, market)
            settlements += 1
        # money only moves, and the balance is exactly what settled (plus the dust)
        assert sum(ledger.collateral.values()) + ledger.balance + ledger.insurance == 0
        assert 0 <= ledger.dust < PAY_SCALE
        assert ledger.balance * PAY_SCALE - ledger.dust == exact
        for m in MARKETS:
            assert sum(p.size for (a, mm), p in ledger.positions.items() if mm == m) == 0

    for acct in ACCOUNTS:
        for market in MARKETS:
            assert ledger.settle(acct, market) == settled(acct, market)
            settlements += 1
    assert ledger.balance == ledger.dust == 0 and exact == 0
    for acct in ACCOUNTS:
        assert -ledger.collateral.get(acct, 0) == model.settled.get(acct, 0)
        assert ledger.paid.get(acct, 0) - ledger.received.get(acct, 0) == model.settled.get(acct, 0)
    paid, received = sum(ledger.paid.values()), sum(ledger.received.values())
    residue = ledger.insurance
    assert paid == received + residue
    assert 0 <= residue <= settlements


def test_ledger__long_pays_short_on_positive_rate():
    ledger = FundingLedger()
    ledger.trade("long", 1, 10**18)
    ledger.trade("short", 1, -10**18)
    ledger.apply_rate(1, RATE_ONE // 10_000, 2_000 * 10**6)  # 0.01 % at 2,000 USDC
    assert ledger.pending("long", 1) == 200_000
    assert ledger.pending("short", 1) == -200_000
    assert ledger.settle("long", 1) == 200_000
    assert ledger.balance == 200_000  # the balance holds it until the short settles
    assert ledger.settle("short", 1) == -200_000
    assert ledger.balance == ledger.insurance == 0
    assert ledger.collateral == {"long": -200_000, "short": 200_000}


def test_ledger__rounding__against_the_payer_residue_to_fund():
    ledger = FundingLedger()
    ledger.trade("long", 1, 1)       # 1e-18 of a unit
    ledger.trade("short", 1, -1)
    ledger.apply_rate(1, 1, 10**6)   # index +1: owes 1e-24 of a USDC unit
    assert ledger.settle("long", 1) == 1    # the payer pays the ceiling
    assert (ledger.balance, ledger.dust, ledger.insurance) == (1, PAY_SCALE - 1, 0)
    assert ledger.settle("short", 1) == 0   # the receiver gets the floor: the unit completes
    assert (ledger.balance, ledger.dust, ledger.insurance) == (0, 0, 1)
