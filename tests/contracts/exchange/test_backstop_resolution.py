"""The backstop's own waterfall (docs/exchange.md, "Liquidation, insurance fund, ADL" and
"Loss socialisation"): the backstop below maintenance is resolvable like any account.

Invariant: nobody takes the backstop's position over (liquidate(backstop) stays refused:
it would move the position to itself), so a backstop below maintenance is deleveraged
against the profitable opposite accounts -- at mark while the insurance fund covers its
deficit (the fund pays it once the backstop is flat), at its bankruptcy price when the fund
is short -- and never against itself; what they do not take is socialised among the
opposite side. Afterwards nobody is below zero, positions sum to zero, the ledger identity
holds and the Exchange's USDC covers every positive equity, the fees and the fund.

The stateful machine (test_solvency_stateful.py) found it: `start`, then ETH -50 % after
the backstop withdrew down to its initial margin, left the backstop at -15,029 USDC with
nothing able to resolve it; its start now runs that step in every example."""

import ape
import pytest

from tests.constants import ETH, ETH_PRICE, ONE, USDC

CRASH = 1_200 * USDC  # -40 %: the backstop's 10 ETH long loses 8,000 on 3,000 of collateral
SIZE = 10 * ONE


@pytest.fixture
def loss(project, exchange):
    """The Exchange at its own address with the ExchangeAccounts ABI (socialise runs there)."""
    return project.ExchangeAccounts.at(exchange.address)


@pytest.fixture
def long_backstop(exchange, admin, fund, cross, maker, other, lp):
    """lp is the backstop, long 10 ETH from maker at 2,000 on 3,000 USDC (maker short,
    100,000 USDC); `other` holds 10,000 USDC and no position."""
    fund(lp, 3_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    fund(maker, 100_000 * USDC)
    fund(other, 10_000 * USDC)
    cross(maker, lp, True, ETH_PRICE, SIZE)
    assert exchange.position(lp, ETH)[0] == SIZE and exchange.position(maker, ETH)[0] == -SIZE
    return lp


def _solvent(exchange, usdc, accounts):
    eqs = [exchange.equity(a) for a in accounts]
    assert min(eqs) >= 0, eqs
    assert usdc.balanceOf(exchange) >= sum(eqs) + exchange.fees_accrued() + exchange.insurance_fund()
    assert sum(exchange.position(a, ETH)[0] for a in accounts) == 0
    coll = sum(exchange.collateral(a) for a in accounts)
    cost = sum(exchange.position(a, ETH)[1] for a in accounts)
    assert usdc.balanceOf(exchange) == coll - cost + exchange.fees_accrued() + exchange.insurance_fund()
    assert exchange.insurance_fund() == exchange.insurance_inflows() - exchange.bad_debt_covered()


def _seed_fund(exchange, fund, admin, amount):
    fund(admin, amount, deposit=False)
    exchange.deposit_insurance(amount, sender=admin)


def test_backstop__liquidate__refused_it_would_move_the_position_to_itself(
    exchange, oracle, admin, long_backstop, stranger
):
    oracle.set_price(ETH, CRASH, sender=admin)
    assert exchange.equity(long_backstop) < 0
    with ape.reverts("exchange: backstop"):
        exchange.liquidate(long_backstop, ETH, sender=stranger)


def test_backstop_adl__healthy_backstop__refused(exchange, long_backstop, maker, operator):
    assert exchange.equity(long_backstop) >= exchange.margin_requirement(long_backstop, False)
    with ape.reverts("exchange: no adl"):
        exchange.adl(long_backstop, ETH, [maker], sender=operator)


def test_backstop_adl__backstop_listed_as_its_own_counterparty__refused(
    exchange, oracle, admin, long_backstop, maker, operator
):
    oracle.set_price(ETH, CRASH, sender=admin)
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(long_backstop, ETH, [long_backstop], sender=operator)
    assert exchange.position(long_backstop, ETH)[0] == SIZE


def test_backstop_adl__fund_short__closed_against_profitable_side_at_bankruptcy_price(
    exchange, oracle, admin, long_backstop, maker, other, operator, usdc
):
    oracle.set_price(ETH, CRASH, sender=admin)
    deficit = -exchange.equity(long_backstop)
    assert deficit > exchange.insurance_fund() == 0
    maker_before = exchange.equity(maker)
    tx = exchange.adl(long_backstop, ETH, [maker], sender=operator)
    (log,) = tx.decode_logs(exchange.Adl)
    assert (log.account, log.counterparty, log.market, log.size) == (long_backstop.address, maker.address, ETH, SIZE)
    assert log.price > CRASH  # the bankruptcy price (a long sells above the mark): the backstop's equity is zero there
    assert exchange.position(long_backstop, ETH) == (0, 0)
    assert 0 <= exchange.equity(long_backstop) <= 1
    # the profitable short gives up the deficit (to the rounding unit, in the backstop's favour)
    assert maker_before - deficit - 1 <= exchange.equity(maker) <= maker_before - deficit
    assert not tx.decode_logs(exchange.InsuranceCover)
    _solvent(exchange, usdc, [long_backstop, maker, other])


def test_backstop_adl__fund_covers__closed_at_mark_and_fund_pays(
    exchange, oracle, admin, fund, long_backstop, maker, other, operator, usdc
):
    oracle.set_price(ETH, CRASH, sender=admin)
    deficit = -exchange.equity(long_backstop)
    _seed_fund(exchange, fund, admin, deficit + 1_000 * USDC)
    maker_before, covered = exchange.equity(maker), exchange.bad_debt_covered()
    tx = exchange.adl(long_backstop, ETH, [maker], sender=operator)
    (log,) = tx.decode_logs(exchange.Adl)
    assert (log.counterparty, log.size, log.price) == (maker.address, SIZE, CRASH)  # at mark
    (cover,) = tx.decode_logs(exchange.InsuranceCover)
    assert (cover.account, cover.amount, cover.balance) == (long_backstop.address, deficit, 1_000 * USDC)
    assert exchange.bad_debt_covered() == covered + deficit
    assert exchange.equity(long_backstop) == 0 and exchange.position(long_backstop, ETH) == (0, 0)
    assert exchange.equity(maker) == maker_before  # closing at mark costs the short nothing
    _solvent(exchange, usdc, [long_backstop, maker, other])


def test_backstop_adl__below_maintenance_not_bankrupt__deleveraged_at_mark(
    exchange, oracle, admin, long_backstop, maker, other, operator, usdc
):
    # 1,750: the long loses 2,500 of its ~2,990 (after the taker fee); maintenance is 875
    oracle.set_price(ETH, 1_750 * USDC, sender=admin)
    e = exchange.equity(long_backstop)
    assert 0 <= e < exchange.margin_requirement(long_backstop, False)
    maker_before = exchange.equity(maker)
    tx = exchange.adl(long_backstop, ETH, [maker], sender=operator)
    (log,) = tx.decode_logs(exchange.Adl)
    assert (log.size, log.price) == (SIZE, 1_750 * USDC)
    assert not tx.decode_logs(exchange.InsuranceCover)
    assert exchange.equity(long_backstop) == e and exchange.equity(maker) == maker_before
    _solvent(exchange, usdc, [long_backstop, maker, other])


def test_backstop_socialise__no_profitable_opposite__shared_among_opposite_side(
    exchange, loss, oracle, admin, long_backstop, cross, maker, other, operator, usdc
):
    """The profitable short sells its position at the crash price to `other` before the
    keeper acts (it took its profit out): the backstop's opposite side entered at mark, ADL
    finds nobody in profit, and the last tier shares the deficit."""
    oracle.set_price(ETH, CRASH, sender=admin)
    cross(other, maker, True, CRASH, SIZE)  # maker buys back from other, who is short at the crash
    assert exchange.position(maker, ETH)[0] == 0 and exchange.position(other, ETH)[0] == -SIZE
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(long_backstop, ETH, [other], sender=operator)  # short, not in profit
    with ape.reverts("exchange: adl counterparty"):
        loss.socialise(long_backstop, ETH, [long_backstop], sender=operator)  # never its own payer
    deficit = -exchange.equity(long_backstop)
    e_other = exchange.equity(other)
    assert e_other > deficit
    tx = loss.socialise(long_backstop, ETH, [other], sender=operator)
    (adl,) = tx.decode_logs(exchange.Adl)
    assert (adl.account, adl.counterparty, adl.size, adl.price) == (long_backstop.address, other.address, SIZE, CRASH)
    (share,) = tx.decode_logs(exchange.LossSocialised)
    assert (share.account, share.counterparty, share.amount) == (long_backstop.address, other.address, deficit)
    assert exchange.position(long_backstop, ETH) == (0, 0) and exchange.equity(long_backstop) == 0
    assert exchange.equity(other) == e_other - deficit
    _solvent(exchange, usdc, [long_backstop, maker, other])
