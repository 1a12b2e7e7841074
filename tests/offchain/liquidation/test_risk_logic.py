"""offchain.risk.liquidation against an independent model (exact rationals, no rounding
shortcuts): health, step sizes, backstop threshold, ADL ranking and plan, bankruptcy price."""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor

from hypothesis import example, given, settings
from hypothesis import strategies as st

from offchain.keeper.admission import AccountState, MarketInfo
from offchain.risk.liquidation import (
    AccountRisk,
    LiquidationParams,
    MarketRisk,
    StepKind,
    adl_plan,
    adl_rank,
    bankruptcy_price,
    health,
    next_step,
    step_size,
)
from tests.constants import BPS, ONE, USDC

MARKETS = {
    1: MarketRisk(1, lot=10**15, min_size=10**15, initial_margin_bps=1_000, maintenance_margin_bps=500),
    2: MarketRisk(2, lot=10**14, min_size=10**14, initial_margin_bps=2_000, maintenance_margin_bps=1_000),
}


def model_value(size: int, mark: int) -> int:
    # truncation toward zero, written the other way round from the implementation
    q = Fraction(size * mark, ONE)
    return floor(q) if q >= 0 else ceil(q)


def model_health(acc: AccountRisk, marks: dict[int, int]) -> tuple[int, int]:
    equity, mm = acc.collateral, 0
    for m, size, cost in acc.positions:
        equity += model_value(size, marks[m]) - cost
        mm += ceil(Fraction(abs(size) * marks[m] // ONE * MARKETS[m].maintenance_margin_bps, BPS))
    return equity, mm


sizes = st.integers(-5_000, 5_000).filter(bool)
positions = st.lists(st.tuples(st.sampled_from([1, 2]), sizes, st.integers(100 * USDC, 100_000 * USDC)),
                     min_size=1, max_size=2, unique_by=lambda t: t[0])
marks_st = st.fixed_dictionaries({1: st.integers(1 * USDC, 5_000 * USDC), 2: st.integers(1_000 * USDC, 90_000 * USDC)})


def account(collateral: int, pos) -> AccountRisk:
    # sizes in lots of each market; cost from an entry price per whole unit
    rows = []
    for m, lots, entry in pos:
        size = lots * MARKETS[m].lot * 10
        rows.append((m, size, model_value(size, entry)))
    return AccountRisk("0x" + "11" * 20, collateral, tuple(rows))


@given(st.integers(-10**12, 10**12), positions, marks_st)
def test_health__matches_model_and_keeper_view(collateral, pos, marks):
    acc = account(collateral, pos)
    h = health(acc, marks, MARKETS)
    assert (h.equity, h.maintenance) == model_health(acc, marks)
    state = AccountState(acc.account)
    state.collateral = collateral
    state.positions = {m: [s, c] for m, s, c in acc.positions}
    assert state.equity(marks) == h.equity
    assert h.liquidatable == (h.equity < h.maintenance)


@given(st.integers(-10**12, 10**12), positions, marks_st)
def test_next_step__kind_follows_thresholds(collateral, pos, marks):
    acc = account(collateral, pos)
    p = LiquidationParams(whole_below_notional=0)
    h = health(acc, marks, MARKETS)
    step = next_step(acc, marks, MARKETS, p)
    if h.equity >= h.maintenance:
        assert step is None
        return
    assert step is not None and step.size > 0
    size, _ = acc.position(step.market)
    assert step.is_buy == (size < 0) and step.size <= abs(size)
    # the largest maintenance contribution goes first
    contrib = {m: abs(s) * marks[m] // ONE * MARKETS[m].maintenance_margin_bps for m, s, _ in acc.positions}
    assert contrib[step.market] == max(contrib.values())
    if Fraction(h.equity) < Fraction(2 * h.maintenance, 3) - Fraction(h.maintenance, 30_000):
        assert step.kind is StepKind.BACKSTOP and step.size == abs(size) and step.limit_price == 0
    elif step.kind is StepKind.BOOK:
        mark = marks[step.market]
        assert step.limit_price == (mark * 10_100 // BPS if step.is_buy else ceil(Fraction(mark * 9_900, BPS)))


@given(st.integers(0, 10**11), positions, marks_st, st.integers(0, 1_000), st.integers(0, 300))
@example(collateral=0, pos=[(1, 4_000, 2_000 * USDC)], marks={1: 1_950 * USDC, 2: 60_000 * USDC},
         buffer_bps=500, slip_bps=100)
def test_step_size__restores_margin_plus_buffer_or_is_capped(collateral, pos, marks, buffer_bps, slip_bps):
    p = LiquidationParams(buffer_bps=buffer_bps, slippage_bps=slip_bps, whole_below_notional=0)
    acc = account(collateral, pos)
    h = health(acc, marks, MARKETS)
    if not h.liquidatable:
        return
    m, size, cost = max(acc.positions, key=lambda r: abs(r[1]) * marks[r[0]] * MARKETS[r[0]].maintenance_margin_bps)
    info, mark = MARKETS[m], marks[m]
    q = step_size(size, mark, info, h, p)
    whole = abs(size)
    assert 0 < q <= whole
    assert q == whole or (q % info.lot == 0 and whole - q >= info.min_size)
    cap = ceil(Fraction(whole * p.max_step_bps, BPS) / info.lot) * info.lot
    if q < whole and q < cap:
        # not capped: closing q at the slippage limit brings equity to maintenance + buffer
        # (model: exact rationals, requirement without the per-market ceil)
        eq = Fraction(h.equity) - Fraction(q * mark * slip_bps, ONE * BPS)
        req = Fraction(h.maintenance) - Fraction(q * mark * info.maintenance_margin_bps, ONE * BPS)
        assert eq * BPS >= req * (BPS + buffer_bps)
        # and one lot less would not (the step is the smallest that does, up to min size)
        if q - info.lot >= info.min_size and q > info.lot:
            q2 = q - info.lot
            eq2 = Fraction(h.equity) - Fraction(q2 * mark * slip_bps, ONE * BPS)
            req2 = Fraction(h.maintenance) - Fraction(q2 * mark * info.maintenance_margin_bps, ONE * BPS)
            assert eq2 * BPS < req2 * (BPS + buffer_bps)
    else:
        assert q in (whole, cap) or q == whole


def test_step_size__small_position__whole():
    acc = AccountRisk("a", 10 * USDC, ((1, 10**18, 2_000 * USDC),))
    marks = {1: 1_900 * USDC}
    h = health(acc, marks, MARKETS)
    assert h.liquidatable
    assert step_size(10**18, marks[1], MARKETS[1], h, LiquidationParams()) == 10**18


def test_step_size__large_position__capped_at_max_step():
    size = 1_000 * ONE  # 2M USDC notional
    acc = AccountRisk("a", 0, ((1, size, 2_000_000 * USDC),))
    marks = {1: 1_800 * USDC}  # equity -200k: deep, but the cap still limits a book step
    h = health(acc, marks, MARKETS)
    q = step_size(size, marks[1], MARKETS[1], h, LiquidationParams())
    assert q == size * 2_000 // BPS


ranked_accounts = st.lists(
    st.tuples(st.integers(-3_000, 3_000).filter(bool), st.integers(500 * USDC, 4_000 * USDC),
              st.integers(-10**10, 10**11)),
    min_size=1, max_size=12)


@given(ranked_accounts, st.booleans(), st.integers(500 * USDC, 4_000 * USDC))
def test_adl_rank__opposite_side_in_profit__by_pnl_pct_times_leverage(rows, bankrupt_long, mark):
    accs = []
    for i, (lots, entry, coll) in enumerate(rows):
        size = lots * 10**15
        accs.append(AccountRisk(f"0x{i:040x}", coll, ((1, size, model_value(size, entry)),)))
    marks = {1: mark, 2: 60_000 * USDC}
    ranked = adl_rank(bankrupt_long, 1, accs, marks, MARKETS)
    expected = set()
    for a in accs:
        size, cost = a.position(1)
        upnl = model_value(size, mark) - cost
        if (size < 0) == bankrupt_long and upnl > 0:
            expected.add(a.account)
    assert {c.account for c in ranked} == expected
    # model score by cross-multiplication: upnl/|cost| * notional/max(equity, 1)
    def key(c):
        upnl = model_value(c.size, mark) - c.cost
        eq = model_health(next(a for a in accs if a.account == c.account), marks)[0]
        return Fraction(upnl, max(abs(c.cost), 1)) * Fraction(abs(c.size) * mark // ONE, max(eq, 1))
    scores = [key(c) for c in ranked]
    assert scores == sorted(scores, reverse=True)
    plan = adl_plan(2_000 * 10**15, ranked, 10**15)
    assert sum(q for _, q in plan) <= 2_000 * 10**15
    for (acct, q), c in zip(plan, ranked):
        assert acct == c.account and 0 < q <= c.abs_size and q % 10**15 == 0
    # greedy: every counterparty before the last one used is taken whole
    for (_, q), c in list(zip(plan, ranked))[:-1]:
        assert q == c.abs_size


@settings(max_examples=200)
@given(st.integers(-3_000, 3_000).filter(bool), st.integers(500 * USDC, 4_000 * USDC),
       st.integers(-10**10, 10**10), st.integers(100 * USDC, 6_000 * USDC))
def test_bankruptcy_price__closing_there_leaves_equity_zero_or_just_above(lots, entry, coll, mark):
    size = lots * 10**15
    cost = model_value(size, entry)
    acc = AccountRisk("a", coll, ((1, size, cost),))
    eq = health(acc, {1: mark}, MARKETS).equity
    p = bankruptcy_price(size, cost, eq, mark)
    after = coll + model_value(size, p) - cost
    if p > 0:
        assert after >= 0
        # one unit less favourable would leave it below zero (or the same, by truncation)
        worse = p - 1 if size > 0 else p + 1
        assert coll + model_value(size, worse) - cost <= after


def test_adl_plan__counterparty_left_below_zero_by_bankruptcy_price__skipped():
    """The Exchange refuses (`adl equity`) a counterparty the bankruptcy price would leave
    below zero; the plan skips it and takes the next one."""
    from offchain.risk.liquidation import AdlCandidate

    thin = AdlCandidate("0x" + "1" * 40, 1, -ONE, -1_900 * USDC, 150 * USDC, Fraction(9))
    rich = AdlCandidate("0x" + "2" * 40, 1, -ONE, -1_900 * USDC, 5_000 * USDC, Fraction(1))
    # 200 USDC per unit between mark and the bankruptcy price: thin (150) cannot pay it
    assert adl_plan(ONE, [thin, rich], 10**15, price_gap=200 * USDC) == [(rich.account, ONE)]
    assert adl_plan(ONE, [thin, rich], 10**15) == [(thin.account, ONE)]  # without the gap: rank order
    assert adl_plan(ONE, [thin], 10**15, price_gap=200 * USDC) == []


def test_socialise_list__whole_opposite_side_plus_backstop__increasing_addresses():
    from offchain.risk.liquidation import MAX_SOCIALISE, socialise_list

    bankrupt, pool = "0x" + "9" * 40, "0x" + "5" * 40
    opp = [AccountRisk("0x" + f"{i:040x}", 0, ((1, -(i + 1) * ONE, 0),)) for i in range(40)]
    same = AccountRisk("0x" + "a" * 40, 0, ((1, ONE, 0),))
    flat = AccountRisk("0x" + "b" * 40, 0, ())
    accounts = [same, flat, AccountRisk(bankrupt, -5, ((1, 2 * ONE, 0),))] + opp[:3]
    listed = socialise_list(True, 1, accounts, pool, bankrupt)
    assert listed == sorted([o.account for o in opp[:3]] + [pool], key=lambda a: int(a, 16))
    # more than the call takes: the largest positions, the backstop always listed
    listed = socialise_list(True, 1, opp, pool, bankrupt)
    assert len(listed) == MAX_SOCIALISE and pool in listed
    assert set(listed) - {pool} == {o.account for o in opp[-(MAX_SOCIALISE - 1):]}
    assert [int(a, 16) for a in listed] == sorted(int(a, 16) for a in listed)
