"""ADL with no profitable counterparty: the backstop absorbs the rest at the bankruptcy price.

Invariant (docs/exchange.md, "Liquidation, insurance fund, ADL"): a bankrupt position the
fund cannot cover is closed at its bankruptcy price, first against the profitable
opposite accounts the keeper ranks, then, if they do not cover it (or there are none),
against the backstop listed last; the bankrupt account ends at zero (>= 0, rounding in its
favour), the backstop's equity falls by exactly the deficit and stays at or above its
maintenance requirement, the ledger identity and long = short hold, and the Exchange's
USDC covers every positive equity, the fees and the fund."""

import ape
import pytest

from tests.constants import ETH, ONE, USDC

GAP = 1_700 * USDC


@pytest.fixture
def no_profitable_short(exchange, oracle, admin, taker_long, cross, taker, maker, other):
    """taker long 1 ETH from 2,000 on 250 USDC; a 15% gap to 1,700 makes it bankrupt; the
    short that was opposite it closes to `other`, who is short at 1,700: not in profit."""
    taker_long(100_000 * USDC, 250 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    cross(other, maker, True, GAP)  # maker buys back from other
    assert exchange.position(maker, ETH)[0] == 0 and exchange.position(other, ETH)[0] == -ONE
    assert exchange.equity(taker) < 0 and exchange.insurance_fund() == 0
    return taker


def _owed(exchange, accounts):
    return sum(max(exchange.equity(a), 0) for a in accounts) + exchange.fees_accrued() + exchange.insurance_fund()


def test_adl__no_profitable_counterparty__backstop_absorbs_at_bankruptcy_price(
    exchange, no_profitable_short, operator, stranger, other, maker, lp, usdc
):
    bankrupt = no_profitable_short
    with ape.reverts("exchange: insurance short"):
        exchange.liquidate(bankrupt, ETH, sender=stranger)
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(bankrupt, ETH, [other], sender=operator)  # short, but not in profit
    deficit = -exchange.equity(bankrupt)
    lp_before = exchange.equity(lp)
    tx = exchange.adl(bankrupt, ETH, [lp], sender=operator)
    (log,) = tx.decode_logs(exchange.Adl)
    assert (log.account, log.counterparty, log.market, log.size) == (bankrupt.address, lp.address, ETH, ONE)
    assert log.price > GAP  # the bankruptcy price: the long's equity is zero there
    assert exchange.position(bankrupt, ETH) == (0, 0)
    assert 0 <= exchange.collateral(bankrupt) <= 1
    assert exchange.position(lp, ETH)[0] == ONE
    # the backstop's loss is the deficit (to the rounding unit, in the bankrupt's favour)
    assert lp_before - deficit - 1 <= exchange.equity(lp) <= lp_before - deficit
    assert exchange.equity(lp) >= exchange.margin_requirement(lp, False)
    accounts = [bankrupt, other, maker, lp, stranger]
    assert sum(exchange.position(a, ETH)[0] for a in accounts) == 0
    assert usdc.balanceOf(exchange) >= _owed(exchange, accounts)


def test_adl__counterparties_then_backstop__backstop_takes_the_rest(
    exchange, no_profitable_short, operator, cross, other, maker, lp
):
    bankrupt = no_profitable_short
    # `other` adds 0.4 short at 1,785 (band edge above the mark): that part is in profit
    cross(maker, other, False, 1_785 * USDC, 4 * ONE // 10)
    assert exchange.position(other, ETH)[0] * GAP // ONE - exchange.position(other, ETH)[1] > 0
    tx = exchange.adl(bankrupt, ETH, [other, lp], sender=operator)
    logs = tx.decode_logs(exchange.Adl)
    # other's whole short is 1.4 > 1: it alone covers; the backstop listed after takes nothing
    assert [(l.counterparty, l.size) for l in logs] == [(other.address, ONE)]
    assert exchange.position(lp, ETH)[0] == 0


def test_adl__partial_counterparty__backstop_takes_what_is_left(
    exchange, oracle, admin, operator, taker_long, cross, taker, maker, other, stranger, lp, usdc
):
    taker_long(100_000 * USDC, 250 * USDC)
    # other takes 0.3 of maker's short at 1,900 (in profit after the gap); the keeper lists
    # only part of the opposite side (e.g. its 32-address limit), then the backstop
    oracle.set_price(ETH, 1_900 * USDC, sender=admin)
    cross(maker, other, False, 1_900 * USDC, 3 * ONE // 10)
    oracle.set_price(ETH, GAP, sender=admin)
    assert exchange.equity(taker) < 0
    tx = exchange.adl(taker, ETH, [other, lp], sender=operator)
    logs = tx.decode_logs(exchange.Adl)
    assert [(l.counterparty, l.size) for l in logs] == [(other.address, 3 * ONE // 10), (lp.address, 7 * ONE // 10)]
    assert len({l.price for l in logs}) == 1  # both at the one bankruptcy price
    assert exchange.position(taker, ETH) == (0, 0) and exchange.collateral(taker) >= 0
    accounts = [taker, other, maker, lp, stranger]
    assert sum(exchange.position(a, ETH)[0] for a in accounts) == 0
    assert usdc.balanceOf(exchange) >= _owed(exchange, accounts)


def test_adl__backstop_would_fall_below_maintenance__reverts(exchange, oracle, admin, operator, taker_long, taker,
                                                             lp):
    # a thin backstop: 100 - ~52 deficit < 85 maintenance of 1 ETH at 1,700
    taker_long(100 * USDC, 250 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    with ape.reverts("exchange: backstop margin"):
        exchange.adl(taker, ETH, [lp], sender=operator)
    assert exchange.position(taker, ETH)[0] == ONE  # nothing moved
