"""The liquidation runner's health (offchain/risk/liquidation.py) with a market's margin
tiers: the same requirements as the chain's tiered ledger._requirement, so an account the
table makes liquidatable is one the runner acts on."""

from offchain.risk.liquidation import AccountRisk, MarketRisk, health
from offchain.risk.margin import TierTable
from tests.constants import ONE, USDC

TABLE = TierTable.of([(0, 1_000, 500), (2_000 * USDC, 2_000, 1_000), (10_000 * USDC, 5_000, 4_900)])


def test_health__tiered_market__tier_requirements():
    mark = 1_680 * USDC
    account = AccountRisk("a", 2_802_400_000, ((1, 6 * ONE, 12_000 * USDC),))
    flat = health(account, {1: mark}, {1: MarketRisk(1, 10**15, 10**15, 1_000, 500)})
    tiered = health(account, {1: mark}, {1: MarketRisk(1, 10**15, 10**15, 1_000, 500, TABLE)})
    n = 6 * mark
    assert tiered.maintenance == TABLE.requirement(n, False) and tiered.initial == TABLE.requirement(n, True)
    assert flat.equity == tiered.equity == 882_400_000
    assert not flat.liquidatable and tiered.liquidatable  # the chain test's account (test_margin_tiers.py)


def test_market_risk__of_copies_tiers():
    class Info:
        market, lot, min_size, initial_margin_bps, maintenance_margin_bps, tiers = 1, 1, 1, 1_000, 500, TABLE

    assert MarketRisk.of(Info()).tiers is TABLE
