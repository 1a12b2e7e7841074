"""/risk/adl ranks a market's side by that market's PnL net of that market's unsettled
funding, the Exchange's rule for an ADL counterparty (ExchangeRisk.adl: PnL minus the
counterparty's unsettled funding in that market > 0), not by the account's total funding."""

from __future__ import annotations

import types

from offchain.keeper.admission import AccountState, MarketInfo
from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.risk.liquidation import MarketRisk, health

ONE = 10**18
USDC = 10**6
INFO = {1: MarketInfo(1, tick=10_000, lot=10**15, min_size=10**15),
        2: MarketInfo(2, tick=10_000, lot=10**15, min_size=10**15)}
MARKS = {1: 2_100 * USDC, 2: 1_000 * USDC}


def state(address: str, positions: dict[int, tuple[int, int]], owed: dict[int, int]) -> AccountState:
    s = AccountState(address)
    s.collateral = 10_000 * USDC
    s.positions = {m: [size, cost] for m, (size, cost) in positions.items()}
    s.funding_owed = owed
    s.funding = sum(owed.values())
    return s


def runner_over(accounts: list[AccountState]) -> LiquidationRunner:
    runner = LiquidationRunner()
    core = types.SimpleNamespace(accounts={a.address: a for a in accounts}, marks=MARKS, markets=INFO)
    runner.keeper = types.SimpleNamespace(core=core)
    runner.markets = {m: MarketRisk.of(i) for m, i in INFO.items()}
    return runner


A, B, C = ("0x" + c * 40 for c in "abc")


def test_adl_ranks__each_market_ranked_by_its_own_pnl_net_of_its_own_funding():
    # A: +100 USDC in market 1 but owes 150 of funding there: not a counterparty on chain
    # B: +100 in market 1, owes 150 in market 2 (its other position): a counterparty in 1
    # C: -50 in market 1 but receives 100 of funding there: +50 net, a counterparty in 1
    a = state(A, {1: (ONE, 2_000 * USDC)}, {1: 150 * USDC})
    b = state(B, {1: (ONE, 2_000 * USDC), 2: (-ONE, -1_000 * USDC)}, {1: 0, 2: 150 * USDC})
    c = state(C, {1: (ONE, 2_150 * USDC)}, {1: -100 * USDC})
    runner = runner_over([a, b, c])

    ranks = runner.adl_ranks()

    longs_in_1 = {acc: r["1"] for acc, r in ranks.items() if "1" in r and r["1"]["side"] == "long"}
    assert set(longs_in_1) == {B, C}
    assert {r["of"] for r in longs_in_1.values()} == {2}
    assert "2" not in ranks.get(B, {})  # B's short in 2: -0 PnL, owes 150 there: never in profit


def test_keeper_view__funding_folded_per_market__equity_unchanged():
    b = state(B, {1: (ONE, 2_000 * USDC), 2: (-ONE, -1_000 * USDC)}, {1: 20 * USDC, 2: 150 * USDC})
    runner = runner_over([b])
    (view,) = runner.keeper_view()
    assert view.positions == ((1, ONE, 2_020 * USDC), (2, -ONE, -850 * USDC))
    assert health(view, MARKS, runner.markets).equity == b.equity(MARKS)
