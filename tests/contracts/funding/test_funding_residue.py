"""The rounding residue of funding goes to the insurance fund (docs/funding.md, "Rounding
residue"): every settlement books its exact amount x = size * index move (1e-24 USDC
units) and pays ceil(x / 1e24); what the rounding kept back accumulates in funding_dust
and moves to the insurance fund one whole unit at a time (InsuranceInflow).

Invariant kept by each test, after every step:
    funding_balance * 1e24 - funding_dust == sum of the settled exact amounts
    0 <= funding_dust < 1e24
and once every position has settled: funding_balance == funding_dust == 0 and the fund
has received exactly sum(paid) - sum(received)."""

import pytest

from offchain.funding import PAY_SCALE, RATE_ONE, funding_owed
from tests.constants import ETH, ETH_PRICE, LOT, ONE, USDC

from tests.contracts.funding.identity import identity
from tests.contracts.receipts import funding_settled


@pytest.fixture(scope="module")
def risk(exchange):
    return exchange  # funding_dust() is the Exchange's view


def exact(size: int, index: int, snapshot: int) -> int:
    return size * (index - snapshot)


def check(exchange, risk, settled_exact: int):
    dust = risk.funding_dust()
    assert 0 <= dust < PAY_SCALE
    assert exchange.funding_balance() * PAY_SCALE - dust == settled_exact


def test_residue__payer_then_receiver__one_unit_to_the_fund(
    exchange, usdc, risk, fx, push_rate, open_pair, maker, taker
):
    size = 3 * ONE + 7 * LOT  # an odd size: the payment is not a whole unit
    open_pair(size)
    push_rate(123_457)  # longs pay
    index = fx.index(ETH)
    paid, received = funding_owed(size, index, 0), funding_owed(-size, index, 0)
    assert paid + received == 1
    fund0, inflows0 = exchange.insurance_fund(), exchange.insurance_inflows()

    tx = exchange.settle_funding(maker, sender=taker)  # the payer: its extra fraction is dust
    assert tx.decode_logs(exchange.InsuranceInflow) == []
    assert risk.funding_dust() == paid * PAY_SCALE - exact(size, index, 0) > 0
    check(exchange, risk, exact(size, index, 0))

    tx = exchange.settle_funding(taker, sender=maker)  # the receiver's fraction completes a unit
    assert [(e.amount, e.balance) for e in tx.decode_logs(exchange.InsuranceInflow)] == [(1, fund0 + 1)]
    assert exchange.insurance_fund() == fund0 + 1 and exchange.insurance_inflows() == inflows0 + 1
    assert exchange.funding_balance() == 0 and risk.funding_dust() == 0
    assert identity(exchange, usdc, [maker, taker])


def test_residue__receiver_first__swept_only_from_what_was_kept(
    exchange, usdc, risk, fx, push_rate, open_pair, maker, taker
):
    size = 5 * ONE + 3 * LOT
    open_pair(size)
    push_rate(77_777)
    index = fx.index(ETH)
    fund0 = exchange.insurance_fund()
    tx = exchange.settle_funding(taker, sender=maker)
    [event] = tx.decode_logs(exchange.FundingSettled)
    # the receiver's floor leaves less than a unit behind: nothing reaches the fund while
    # the balance is fronting the receiver
    assert exchange.funding_balance() == event.amount < 0
    assert exchange.insurance_fund() == fund0
    check(exchange, risk, exact(-size, index, 0))
    exchange.settle_funding(maker, sender=taker)
    assert exchange.funding_balance() == 0 and risk.funding_dust() == 0
    assert exchange.insurance_fund() - fund0 == funding_owed(size, index, 0) + funding_owed(-size, index, 0)
    assert identity(exchange, usdc, [maker, taker])


def test_residue__many_accounts_and_rates__fund_gets_paid_minus_received(
    exchange, usdc, risk, fx, push_rate, fill, fund, maker, taker, other, stranger
):
    """Odd sizes on four accounts, rates of both signs and touches in between: after every
    step the exact identity holds; after everyone settles, the fund holds the residue."""
    traders = [maker, taker, other, stranger]
    for t in traders:
        fund(t, 50_000 * USDC)
    fund0 = exchange.insurance_fund()
    pos = {t.address: 0 for t in traders}
    snap = {t.address: 0 for t in traders}
    settled = 0  # sum of the exact amounts settled
    total = 0  # sum of settled amounts (FundingSettled, FillSettled's maker / taker_funding)

    def book(tx, touched=()):
        """`touched`: accounts settle_funding settled (a position that owed 0 units still
        books its exact amount, without an event)."""
        nonlocal settled, total
        index = fx.index(ETH)
        for account, _, amount, at in funding_settled(tx, exchange):
            at = index if at is None else at  # a fill settles at the batch's index (FillSettled)
            settled += exact(pos[account], at, snap[account])
            total += amount
            snap[account] = at
        for t in traders:
            now = exchange.position(t, ETH)[0]
            if (now != pos[t.address] or t in touched) and snap[t.address] != index:
                # settled without an event: owed 0 units, but its exact amount counts
                assert funding_owed(pos[t.address], index, snap[t.address]) == 0
                settled += exact(pos[t.address], index, snap[t.address])
                snap[t.address] = index
            pos[t.address] = now
        check(exchange, risk, settled)

    trades = [
        (maker, taker, True, 3 * ONE + 7 * LOT),
        (other, stranger, False, 2 * ONE + 13 * LOT),
        (maker, other, True, 11 * LOT),
        (stranger, taker, True, ONE + 3 * LOT),
    ]
    rates = [123_457, -98_765, RATE_ONE // 50, -1, 31_337]
    for (a, b, buys, size), rate in zip(trades * 2, rates * 2):
        book(fill(a, b, buys, size))
        push_rate(rate)
        t = traders[rate % 4]
        book(exchange.settle_funding(t, sender=maker), [t])
    for t in traders:
        book(exchange.settle_funding(t, sender=maker), [t])
    assert exchange.funding_balance() == 0 and risk.funding_dust() == 0
    assert exchange.insurance_fund() - fund0 == total > 0  # sum(paid) - sum(received)
    assert settled == 0
    assert identity(exchange, usdc, traders)


def test_residue__settle_batch__swept_once_per_batch(
    exchange, usdc, risk, fx, push_rate, fund, operator, maker, taker, other, create_order, create_fill
):
    """A batch whose fills settle many odd positions books the residue once (one
    InsuranceInflow in the settle transaction)."""
    fund(maker, 100_000 * USDC)
    fund(taker, 100_000 * USDC)
    fund(other, 100_000 * USDC)
    size = ONE + 7 * LOT
    fills = [create_fill(create_order(maker, True, ETH_PRICE, size), create_order(taker, False, ETH_PRICE, size))]
    exchange.settle(fills, sender=operator)
    push_rate(123_457)
    index = fx.index(ETH)
    fund0 = exchange.insurance_fund()
    # other trades a lot against each side: both settle in one batch
    fills = [
        create_fill(create_order(other, True, ETH_PRICE, LOT), create_order(maker, False, ETH_PRICE, LOT)),
        create_fill(create_order(other, False, ETH_PRICE, LOT), create_order(taker, True, ETH_PRICE, LOT)),
    ]
    tx = exchange.settle(fills, sender=operator)
    assert len(funding_settled(tx, exchange)) == 2  # FillSettled.maker_funding / taker_funding
    residue = funding_owed(size, index, 0) + funding_owed(-size, index, 0)
    assert [e.amount for e in tx.decode_logs(exchange.InsuranceInflow)] == [residue] == [1]
    assert exchange.insurance_fund() == fund0 + residue
    assert exchange.funding_balance() == 0 and risk.funding_dust() == 0
    assert identity(exchange, usdc, [maker, taker, other])
