"""Funding settled against positions on the Exchange (docs/funding.md, "Exchange
integration"): lazy, exact to the unit (offchain.funding.funding_owed), rounded against
the account, in every equity / margin view, realised on every touch.

Invariant kept by each test: USDC held == sum(collateral) - sum(cost) + fees_accrued +
insurance_fund + funding_balance, and funding_balance == the sum of the settled amounts
(FundingSettled.amount, and FillSettled.maker_funding / taker_funding on the fill path)
minus the rounding residue swept to the insurance fund (test_funding_residue.py)."""

import ape
import pytest

from offchain.funding import RATE_ONE, funding_owed, index_delta
from tests.constants import ETH, ETH_PRICE, LOT, ONE, USDC, ZERO
from tests.constants import FUNDING_INTERVAL as INTERVAL
from tests.contracts.funding.identity import identity
from tests.contracts.receipts import funding_settled

LIQUIDATION = 4
NO_SIG = (0, b"\x00" * 32, b"\x00" * 32)


# ---------------------------------------------------------------- set_funding


def test_set_funding__admin_once__event_and_reverts(create_exchange, rebate, create_funding, oracle, admin, stranger):
    # its own Exchange: the module's `exchange` has funding set once any test asked for `fx`
    exchange = create_exchange(oracle, rebate)
    funding = create_funding(oracle)
    with ape.reverts("exchange: not admin"):
        exchange.set_funding(funding, sender=stranger)
    with ape.reverts("exchange: zero address"):
        exchange.set_funding(ZERO, sender=admin)
    tx = exchange.set_funding(funding, sender=admin)
    assert exchange.funding() == funding.address
    assert [e.funding for e in tx.decode_logs(exchange.FundingSet)] == [funding.address]
    with ape.reverts("exchange: funding set"):
        exchange.set_funding(funding, sender=admin)


# ---------------------------------------------------------------- settlement on a fill


def test_settle__after_rate__both_sides_settle_exact_and_rounded_against_them(
    exchange, usdc, fx, push_rate, open_pair, fill, maker, taker, other, fund
):
    size = 3 * ONE + 7 * LOT  # an odd size: the payment is not a whole unit
    open_pair(size)
    step = push_rate(123_457)  # longs pay
    index = fx.index(ETH)
    paid = funding_owed(size, index, 0)
    received = funding_owed(-size, index, 0)
    assert paid > 0 and received < 0 and paid + received == 1  # ceil for the payer, floor for the receiver
    assert exchange.funding_owed(maker, ETH) == paid
    assert exchange.funding_owed(taker, ETH) == received
    c_maker, c_taker = exchange.collateral(maker), exchange.collateral(taker)

    # both positions touched by a fill against a third account
    fund(other, 10_000 * USDC)
    tx = fill(other, maker, True, LOT)  # maker sells one lot (reduces)
    tx2 = fill(other, taker, False, LOT)  # taker buys one lot (reduces)
    # a fill carries each side's funding in FillSettled (no FundingSettled log on the fill path)
    assert funding_settled(tx, exchange) + funding_settled(tx2, exchange) == [
        (maker.address, ETH, paid, None),
        (taker.address, ETH, received, None),
    ]
    assert tx.decode_logs(exchange.FundingSettled) == tx2.decode_logs(exchange.FundingSettled) == []
    assert exchange.funding_owed(maker, ETH) == exchange.funding_owed(taker, ETH) == 0
    fill_fee = tx.decode_logs(exchange.FillSettled)[0].taker_fee
    fill_fee2 = tx2.decode_logs(exchange.FillSettled)[0].taker_fee
    # reducing at the entry price realises no PnL: the collateral moved by funding and fee only
    assert exchange.collateral(maker) == c_maker - paid - fill_fee
    assert exchange.collateral(taker) == c_taker - received - fill_fee2
    # the residue (paid + received == 1) went to the insurance fund with the second settlement
    assert paid + received == 1
    assert [e.amount for e in tx2.decode_logs(exchange.InsuranceInflow)] == [1]
    assert exchange.funding_balance() == 0
    assert identity(exchange, usdc, [maker, taker, other])
    assert step == index


def test_settle__same_index__no_second_payment(exchange, fx, push_rate, open_pair, fill, maker, taker):
    open_pair(ONE)
    push_rate(-50_000)  # shorts pay
    tx = fill(maker, taker, True, LOT)
    assert len(funding_settled(tx, exchange)) == 2
    tx = fill(maker, taker, True, LOT)
    assert funding_settled(tx, exchange) == []
    assert [(e.maker_funding, e.taker_funding) for e in tx.decode_logs(exchange.FillSettled)] == [(0, 0)]


def test_settle__receiver_first__funding_balance_negative_then_residue(
    exchange, usdc, fx, push_rate, open_pair, maker, taker
):
    size = 5 * ONE + 3 * LOT
    open_pair(size)
    push_rate(77_777)
    tx = exchange.settle_funding(taker, sender=maker)  # the receiver settles first
    [event] = tx.decode_logs(exchange.FundingSettled)
    assert event.amount < 0
    assert exchange.funding_balance() == event.amount < 0  # nothing underflows
    assert identity(exchange, usdc, [maker, taker])
    exchange.settle_funding(maker, sender=taker)
    assert exchange.funding_balance() == 0  # the residue is in the insurance fund
    assert identity(exchange, usdc, [maker, taker])


def test_settle_funding__realises_every_market_once(exchange, fx, push_rate, open_pair, maker, taker):
    open_pair(ONE)
    push_rate(10_000)
    owed = exchange.funding_owed(maker, ETH)
    eq = exchange.equity(maker)
    coll = exchange.collateral(maker)
    tx = exchange.settle_funding(maker, sender=taker)
    assert [(e.account, e.amount) for e in tx.decode_logs(exchange.FundingSettled)] == [(maker.address, owed)]
    assert exchange.collateral(maker) == coll - owed
    assert exchange.equity(maker) == eq  # the view already counted it
    tx = exchange.settle_funding(maker, sender=taker)
    assert tx.decode_logs(exchange.FundingSettled) == []


# ---------------------------------------------------------------- views


def test_views__include_unsettled_funding(exchange, fx, push_rate, open_pair, maker, taker):
    open_pair(2 * ONE)
    before = (exchange.equity(maker), exchange.free_collateral(maker), exchange.equity(taker))
    push_rate(400_000)
    owed_m = exchange.funding_owed(maker, ETH)
    owed_t = exchange.funding_owed(taker, ETH)
    assert owed_m == funding_owed(2 * ONE, fx.index(ETH), 0) > 0
    assert exchange.equity(maker) == before[0] - owed_m
    assert exchange.free_collateral(maker) == before[1] - owed_m
    assert exchange.equity(taker) == before[2] - owed_t > before[2]
    # the position itself is untouched until settled
    assert exchange.position(maker, ETH) == (2 * ONE, 2 * ETH_PRICE)


# ---------------------------------------------------------------- withdraw


def test_withdraw__cannot_take_unpaid_funding(exchange, usdc, fx, push_rate, open_pair, maker, taker):
    open_pair(ONE, collateral=1_000 * USDC)
    push_rate(RATE_ONE // 100)  # 1 %: 20 USDC on one ETH at 2,000
    owed = exchange.funding_owed(maker, ETH)
    assert owed == 20 * USDC
    need = exchange.margin_requirement(maker, True)
    free = exchange.collateral(maker) - owed - need
    with ape.reverts("exchange: margin"):
        exchange.withdraw(free + 1, sender=maker)
    tx = exchange.withdraw(free, sender=maker)
    [event] = tx.decode_logs(exchange.FundingSettled)
    assert (event.account, event.amount) == (maker.address, owed)
    assert exchange.free_collateral(maker) == 0
    assert identity(exchange, usdc, [maker, taker])


def test_withdraw__receiver_gets_settled_funding(exchange, usdc, fx, push_rate, open_pair, maker, taker):
    open_pair(ONE, collateral=1_000 * USDC)
    push_rate(RATE_ONE // 100)
    received = -exchange.funding_owed(taker, ETH)
    coll = exchange.collateral(taker)
    free = exchange.free_collateral(taker)  # already counts what it is owed
    before = usdc.balanceOf(taker)
    exchange.withdraw(free, sender=taker)
    assert usdc.balanceOf(taker) == before + free
    assert exchange.collateral(taker) == coll + received - free
    assert exchange.free_collateral(taker) == 0
    assert exchange.funding_balance() == -received  # fronted until the payer settles
    assert identity(exchange, usdc, [maker, taker])


# ---------------------------------------------------------------- liquidation


def test_liquidate__triggered_by_accrued_funding(
    exchange, usdc, fx, push_rate, open_pair, maker, taker, lp, fund, admin, stranger
):
    fund(lp, 1_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    open_pair(ONE, collateral=250 * USDC)  # 12.5 % margin at 2,000
    assert exchange.equity(maker) >= exchange.margin_requirement(maker, False)
    with ape.reverts("exchange: not liquidatable"):
        exchange.liquidate(maker, ETH, sender=stranger)
    push_rate(RATE_ONE * 8 // 100)  # 8 %: 160 USDC, only funding moves
    owed = exchange.funding_owed(maker, ETH)
    assert exchange.equity(maker) < exchange.margin_requirement(maker, False)
    tx = exchange.liquidate(maker, ETH, sender=stranger)
    [event] = tx.decode_logs(exchange.FundingSettled)
    assert (event.account, event.amount) == (maker.address, owed)
    assert exchange.position(maker, ETH) == (0, 0)
    assert exchange.position(lp, ETH)[0] == ONE
    assert exchange.funding_owed(lp, ETH) == 0  # the backstop's position starts at the index
    assert identity(exchange, usdc, [maker, taker, lp, stranger])


def test_liquidation_order__funding_settled_first(
    chain, exchange, usdc, fx, push_rate, open_pair, maker, taker, lp, fund, admin, operator, create_order, sign
):
    fund(lp, 1_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    open_pair(ONE, collateral=250 * USDC)
    push_rate(RATE_ONE * 8 // 100)
    owed = exchange.funding_owed(maker, ETH)
    chain.pending_timestamp += 2
    mo = create_order(lp, True, ETH_PRICE, ONE // 2)
    to = create_order(maker, False, ETH_PRICE, ONE // 2, flags=LIQUIDATION)
    tx = exchange.settle([(mo.as_tuple(), sign(mo), to.as_tuple(), NO_SIG, ONE // 2)], sender=operator)
    assert tx.decode_logs(exchange.LiquidationFill)
    assert (maker.address, owed) in [(a, amount) for a, _, amount, _ in funding_settled(tx, exchange)]
    assert identity(exchange, usdc, [maker, taker, lp, operator])


# ---------------------------------------------------------------- delisting


def test_close_delisted__funding_frozen_at_delisting(
    exchange, usdc, fx, push_rate, open_pair, maker, taker, admin
):
    open_pair(ONE)
    push_rate(10_000)
    frozen = fx.index(ETH)
    exchange.delist(ETH, ETH_PRICE, sender=admin)
    push_rate(RATE_ONE // 10)  # the Funding contract moves on; the Exchange does not
    assert fx.index(ETH) != frozen
    assert exchange.funding_owed(maker, ETH) == funding_owed(ONE, frozen, 0)
    tx = exchange.close_delisted(maker, ETH, sender=taker)
    [event] = tx.decode_logs(exchange.FundingSettled)
    assert (event.amount, event.index) == (funding_owed(ONE, frozen, 0), frozen)
    exchange.close_delisted(taker, ETH, sender=maker)
    assert exchange.funding_balance() == 0
    assert identity(exchange, usdc, [maker, taker])


# ---------------------------------------------------------------- bounds


def test_settle__position_beyond_word__skipped_size(exchange, oracle, admin, operator, maker, taker, fund, create_order, create_fill):
    # a market priced at one tick per whole unit: a position past int96 has a notional
    # margin allows, so the size bound itself must refuse it
    tick = 10_000
    exchange.add_market(tick, LOT, LOT, 1_000, 500, 500, sender=admin)
    market = exchange.market_count()
    oracle.set_price(market, tick, sender=admin)
    fund(maker, 10**9 * USDC)
    fund(taker, 10**9 * USDC)
    big = 2**94 // LOT * LOT
    reasons = []
    for _ in range(3):
        mo = create_order(maker, True, tick, big, market=market)
        to = create_order(taker, False, tick, big, market=market)
        tx = exchange.settle([create_fill(mo, to)], sender=operator)
        reasons += [s.reason for s in tx.decode_logs(exchange.FillSkipped)]
    assert reasons == ["size"]
    assert exchange.position(maker, market)[0] == 2 * big
