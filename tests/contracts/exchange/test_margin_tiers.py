"""Margin tiers on the Exchange: set_margin_tiers, and the tiered requirement enforced in
settle, withdraw and liquidation at each boundary (just below / at / above); the views
equal the keeper's TierTable (offchain/risk/margin.py) on random positions.

Invariant kept: an account's initial / maintenance requirement is exactly the tier
table's continuous requirement of each position's notional at mark (rounded up), so a
fill the keeper's pre-check accepts is one the chain accepts."""

import ape
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.risk.margin import TierTable
from tests.conftest import ETH, ETH_PRICE, LOT, ONE, USDC

# 10 % / 5 % up to 2,000 USDC of notional (1 ETH), 20 % / 10 % up to 10,000, 50 % / 25 % beyond
ROWS = [(0, 1_000, 500), (2_000 * USDC, 2_000, 1_000), (10_000 * USDC, 5_000, 2_500)]
TABLE = TierTable.of(ROWS)


def set_tiers(exchange, admin, rows=ROWS, market=ETH):
    return exchange.set_margin_tiers(market, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                     sender=admin)


@pytest.fixture
def tiered(exchange, admin):  # function scope: reverted after each test
    return set_tiers(exchange, admin)


@pytest.fixture(scope="module")
def whale(exchange, fund, other):
    fund(other, 10_000_000 * USDC)
    return other


def open_position(exchange, operator, create_order, create_fill, account, counterparty, size, is_buy=True):
    """`account` is the maker (its margin check ignores fees and rebates): at the mark
    its equity after the fill is exactly its collateral."""
    fill = create_fill(create_order(account, is_buy, size=size), create_order(counterparty, not is_buy, size=size))
    tx = exchange.settle([fill], sender=operator)
    return tx.decode_logs(exchange.FillSettled), tx.decode_logs(exchange.FillSkipped)


def test_set_margin_tiers__admin__event_and_requirement(exchange, admin, tiered):
    [log] = tiered.decode_logs(exchange.MarginTiersSet)
    assert (log.market, list(log.thresholds), list(log.initial_bps), list(log.maintenance_bps)) == (
        ETH, [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS])


def test_set_margin_tiers__not_admin__reverts(exchange, stranger):
    with ape.reverts("exchange: not admin"):
        set_tiers(exchange, stranger)


def test_set_margin_tiers__unknown_market__reverts(exchange, admin):
    with ape.reverts("exchange: unknown market"):
        set_tiers(exchange, admin, market=9)


@pytest.mark.parametrize("rows,reason", [
    ([(5, 1_000, 500)], "bad threshold"),
    ([(0, 1_000, 500), (0, 2_000, 1_000)], "bad threshold"),
    ([(0, 1_000, 1_000)], "bad margin"),
    ([(0, 2_000, 500), (10, 1_000, 600)], "bad margin"),
])
def test_set_margin_tiers__invalid__reverts_with_reason(exchange, admin, rows, reason):
    with ape.reverts(f"exchange: {reason}"):
        set_tiers(exchange, admin, rows)


@pytest.mark.parametrize("lots_from_boundary", [-1, 0, 1])
@pytest.mark.parametrize("boundary", [1, 2])
@pytest.mark.parametrize("slack", [-1, 0])
def test_settle__tier_boundary__margin_exact(exchange, operator, tiered, fund, maker, whale, create_order,
                                             create_fill, boundary, lots_from_boundary, slack):
    size = ROWS[boundary][0] * ONE // ETH_PRICE + lots_from_boundary * LOT
    need = TABLE.position_requirement(size, ETH_PRICE)
    fund(maker, need + slack)
    settled, skipped = open_position(exchange, operator, create_order, create_fill, maker, whale, size)
    if slack == 0:
        assert len(settled) == 1 and skipped == []
        assert exchange.margin_requirement(maker, True) == need
        assert exchange.margin_requirement(maker, False) == TABLE.position_requirement(size, ETH_PRICE, False)
    else:
        assert settled == [] and [s.reason for s in skipped] == ["margin"]


def test_settle__flat_market__unchanged_without_tiers(exchange, operator, fund, maker, whale, create_order,
                                                     create_fill):
    size = 20 * ONE  # 40,000 USDC: 10 % flat, 41 % under the table
    fund(maker, 4_000 * USDC)
    settled, _ = open_position(exchange, operator, create_order, create_fill, maker, whale, size)
    assert len(settled) == 1 and exchange.margin_requirement(maker, True) == 4_000 * USDC


@pytest.mark.parametrize("extra", [0, 1])
def test_withdraw__tiered_initial__down_to_the_requirement(exchange, operator, tiered, fund, maker, whale,
                                                           create_order, create_fill, extra):
    size = 3 * ONE  # 6,000 USDC notional: 200 + 800 = 1,000 USDC initial
    fund(maker, 1_500 * USDC)
    open_position(exchange, operator, create_order, create_fill, maker, whale, size)
    need = TABLE.position_requirement(size, ETH_PRICE)
    assert need == 1_000 * USDC
    free = exchange.equity(maker) - need
    if extra:
        with ape.reverts("exchange: margin"):
            exchange.withdraw(free + extra, sender=maker)
    else:
        exchange.withdraw(free, sender=maker)
        assert exchange.free_collateral(maker) == 0


def test_liquidate__tiered_maintenance__liquidatable_where_flat_is_not(exchange, oracle, operator, admin, fund, maker,
                                                                       whale, create_order, create_fill, lp,
                                                                       stranger):
    fund(lp, 5_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    set_tiers(exchange, admin)
    size = 6 * ONE  # 12,000 USDC: tiered initial 200 + 1,600 + 1,000 = 2,800 (flat 1,200)
    fund(maker, 2_600 * USDC)
    settled, skipped = open_position(exchange, operator, create_order, create_fill, maker, whale, size)
    assert settled == [] and [s.reason for s in skipped] == ["margin"]
    fund(maker, 200 * USDC)
    settled, _ = open_position(exchange, operator, create_order, create_fill, maker, whale, size)
    assert len(settled) == 1
    steep = [(0, 1_000, 500), (2_000 * USDC, 2_000, 1_000), (10_000 * USDC, 5_000, 4_900)]
    set_tiers(exchange, admin, steep)
    with ape.reverts("exchange: not liquidatable"):
        exchange.liquidate(maker, ETH, sender=stranger)
    # at 1,680: notional 10,080, tiered maintenance 100 + 800 + 39.2 = 939.2 > equity
    # 2,802.4 - 6 * 320 = 882.4 > flat maintenance 504
    mark = 1_680 * USDC
    oracle.set_price(ETH, mark, sender=admin)
    table = TierTable.of(steep)
    equity = exchange.equity(maker)
    assert exchange.margin_requirement(maker, False) == table.position_requirement(size, mark, False)
    assert size * mark // ONE * 500 // 10_000 < equity < table.position_requirement(size, mark, False)
    exchange.liquidate(maker, ETH, sender=stranger)
    assert exchange.position(maker, ETH)[0] == 0


@settings(max_examples=12, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lots=st.lists(st.integers(-8_000, 8_000).filter(bool), min_size=1, max_size=3))
def test_margin_requirement__random_positions__equals_keeper_table(exchange, operator, admin, fund, maker, whale,
                                                                   create_order, create_fill, isolated, lots):
    with isolated():
        set_tiers(exchange, admin)
        fund(maker, 10_000_000 * USDC)
        position = 0
        for n in lots:
            size = abs(n) * LOT
            settled, _ = open_position(exchange, operator, create_order, create_fill, maker, whale, size, n > 0)
            assert len(settled) == 1
            position += n * LOT
        assert exchange.position(maker, ETH)[0] == position
        for initial in (True, False):
            assert exchange.margin_requirement(maker, initial) == TABLE.position_requirement(position, ETH_PRICE, initial)
