"""Loss socialisation: the last tier of the loss waterfall (docs/exchange.md, "Loss socialisation").

Invariant: once the insurance fund is short, no opposite account is in profit and the
backstop would fall below maintenance taking the position, `socialise` closes the bankrupt
position at mark against the listed opposite positions (pro rata to size), pays what the
fund holds and charges the rest to the listed accounts pro rata to their positive equity
(rounded up, never below zero). Afterwards no account has negative equity, the ledger
identity and long = short hold, and the Exchange's USDC covers every positive equity, the
fees and the fund."""

import ape
import pytest

from tests.constants import ETH, ONE, SOL, SOL_PRICE, USDC

GAP = 1_700 * USDC


def _ceil_div(a, b):
    return -(-a // b)


@pytest.fixture
def loss(project, exchange):
    """The Exchange at its own address with the ExchangeAccounts ABI (socialise runs there)."""
    return project.ExchangeAccounts.at(exchange.address)


@pytest.fixture
def exhausted(exchange, oracle, admin, taker_long, cross, taker, maker, other):
    """taker long 1 ETH from 2,000 on 250 USDC, bankrupt after a 15% gap; the opposite short
    is `other`'s, opened at 1,700 (not in profit); the backstop holds 100 USDC, too thin to
    take 1 ETH and stay at maintenance; the fund is empty."""
    taker_long(100 * USDC, 250 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    cross(other, maker, True, GAP)
    assert exchange.position(other, ETH)[0] == -ONE and exchange.position(maker, ETH)[0] == 0
    assert exchange.equity(taker) < 0 and exchange.insurance_fund() == 0
    return taker


def _sorted(*accounts):
    return sorted((a.address for a in accounts), key=lambda a: int(a, 16))


def _solvent(exchange, usdc, accounts):
    eqs = [exchange.equity(a) for a in accounts]
    assert min(eqs) >= 0, eqs
    owed = sum(eqs) + exchange.fees_accrued() + exchange.insurance_fund()
    assert usdc.balanceOf(exchange) >= owed
    assert sum(exchange.position(a, ETH)[0] for a in accounts) == 0
    coll = sum(exchange.collateral(a) for a in accounts)
    cost = sum(exchange.position(a, ETH)[1] for a in accounts)
    assert usdc.balanceOf(exchange) == coll - cost + exchange.fees_accrued() + exchange.insurance_fund()


def test_socialise__fund_adl_backstop_exhausted__closes_at_mark_and_shares_deficit_pro_rata(
    exchange, loss, exhausted, operator, stranger, other, maker, lp, usdc
):
    bankrupt = exhausted
    # every earlier tier refuses
    with ape.reverts("exchange: insurance short"):
        exchange.liquidate(bankrupt, ETH, sender=stranger)
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(bankrupt, ETH, [other], sender=operator)
    with ape.reverts("exchange: backstop margin"):
        exchange.adl(bankrupt, ETH, [lp], sender=operator)

    deficit = -exchange.equity(bankrupt)  # closing at mark (1,700 exactly) keeps it
    e_other, e_lp = exchange.equity(other), exchange.equity(lp)  # other's close at its entry: no PnL
    total = e_other + e_lp
    tx = loss.socialise(bankrupt, ETH, _sorted(other, lp), sender=operator)

    (adl,) = tx.decode_logs(exchange.Adl)
    assert (adl.account, adl.counterparty, adl.market, adl.size, adl.price) == (
        bankrupt.address, other.address, ETH, ONE, GAP)
    shares = {l.counterparty: l.amount for l in tx.decode_logs(exchange.LossSocialised)}
    assert shares == {other.address: _ceil_div(deficit * e_other, total), lp.address: _ceil_div(deficit * e_lp, total)}
    assert all(l.account == bankrupt.address and l.market == ETH for l in tx.decode_logs(exchange.LossSocialised))
    assert not tx.decode_logs(exchange.InsuranceCover)  # the fund was empty
    # the bankrupt account is flat at zero (rounding up leaves it at most one unit per payer)
    assert exchange.position(bankrupt, ETH) == (0, 0)
    assert 0 <= exchange.collateral(bankrupt) <= 2
    # each payer lost its share of the deficit, the same fraction of its equity
    assert exchange.equity(other) == e_other - shares[other.address]
    assert exchange.equity(lp) == e_lp - shares[lp.address]
    assert exchange.position(other, ETH)[0] == 0
    _solvent(exchange, usdc, [bankrupt, other, maker, lp, stranger])


def test_socialise__fund_pays_first__rest_shared(
    exchange, loss, exhausted, operator, admin, fund, other, maker, lp, stranger, usdc
):
    bankrupt = exhausted
    deficit = -exchange.equity(bankrupt)
    fund(admin, 20 * USDC, deposit=False)
    exchange.deposit_insurance(20 * USDC, sender=admin)
    covered = exchange.bad_debt_covered()
    tx = loss.socialise(bankrupt, ETH, _sorted(other, lp), sender=operator)
    (cover,) = tx.decode_logs(exchange.InsuranceCover)
    assert (cover.account, cover.amount, cover.balance) == (bankrupt.address, 20 * USDC, 0)
    assert exchange.insurance_fund() == 0 and exchange.bad_debt_covered() == covered + 20 * USDC
    charged = sum(l.amount for l in tx.decode_logs(exchange.LossSocialised))
    assert deficit - 20 * USDC <= charged <= deficit - 20 * USDC + 2
    assert exchange.insurance_fund() == exchange.insurance_inflows() - exchange.bad_debt_covered()
    _solvent(exchange, usdc, [bankrupt, other, maker, lp, stranger])


def test_socialise__several_opposite_positions__closed_pro_rata_to_size(
    exchange, loss, oracle, admin, operator, fund, taker_long, cross, taker, maker, other, stranger, lp, usdc
):
    taker_long(100 * USDC, 500 * USDC, 2 * ONE)
    fund(stranger, 10_000 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    # the opposite side moves to other (1.5) and stranger (0.5), both short at 1,700
    cross(other, maker, True, GAP, 3 * ONE // 2)
    cross(stranger, maker, True, GAP, ONE // 2)
    with ape.reverts("exchange: backstop margin"):
        exchange.adl(taker, ETH, [lp], sender=operator)
    tx = loss.socialise(taker, ETH, _sorted(other, stranger, lp), sender=operator)
    closed = {l.counterparty: l.size for l in tx.decode_logs(exchange.Adl)}
    assert closed == {other.address: 3 * ONE // 2, stranger.address: ONE // 2}
    assert exchange.position(other, ETH)[0] == 0 and exchange.position(stranger, ETH)[0] == 0
    _solvent(exchange, usdc, [taker, other, stranger, maker, lp])


def test_socialise__partial_list__closes_in_proportion(
    exchange, loss, oracle, admin, operator, fund, taker_long, cross, taker, maker, other, stranger, lp, usdc
):
    """The listed opposite sizes exceed the position: each closes the same fraction."""
    taker_long(100 * USDC, 250 * USDC)
    fund(stranger, 10_000 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    # other and stranger short 3 and 1 at 1,700 against a new long of maker's
    cross(other, maker, True, GAP, 3 * ONE)
    cross(stranger, maker, True, GAP, ONE)
    tx = loss.socialise(taker, ETH, _sorted(other, stranger, lp), sender=operator)
    closed = {l.counterparty: l.size for l in tx.decode_logs(exchange.Adl)}
    assert closed == {other.address: 3 * ONE // 4, stranger.address: ONE // 4}
    assert exchange.position(taker, ETH) == (0, 0)
    _solvent(exchange, usdc, [taker, other, stranger, maker, lp])


def test_socialise__refusals(exchange, loss, exhausted, operator, pauser, stranger, other, maker, lp):
    bankrupt = exhausted
    with ape.reverts("exchange: not operator"):
        loss.socialise(bankrupt, ETH, _sorted(other, lp), sender=stranger)
    with ape.reverts("exchange: unknown market"):
        loss.socialise(bankrupt, 9, _sorted(other, lp), sender=operator)
    with ape.reverts("exchange: no position"):
        loss.socialise(maker, ETH, _sorted(other, lp), sender=operator)
    # not sorted / repeated / the account itself / same side, not the backstop
    pair = _sorted(other, lp)
    with ape.reverts("exchange: adl counterparty"):
        loss.socialise(bankrupt, ETH, pair[::-1], sender=operator)
    with ape.reverts("exchange: adl counterparty"):
        loss.socialise(bankrupt, ETH, [other.address, other.address], sender=operator)
    with ape.reverts("exchange: adl counterparty"):
        loss.socialise(bankrupt, ETH, _sorted(other, bankrupt), sender=operator)
    with ape.reverts("exchange: adl counterparty"):
        loss.socialise(bankrupt, ETH, _sorted(other, maker), sender=operator)  # maker is flat
    # the listed opposite sizes do not cover the position (only the backstop, flat)
    with ape.reverts("exchange: socialise short"):
        loss.socialise(bankrupt, ETH, [lp.address], sender=operator)
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        loss.socialise(bankrupt, ETH, pair, sender=operator)
    exchange.unpause(sender=pauser)
    # a direct call to the code (not through the Exchange) has no roles to read
    with ape.reverts():
        ape.project.ExchangeAccounts.at(exchange.risk_logic()).socialise(bankrupt, ETH, pair, sender=operator)
    # not bankrupt: other's equity is positive
    with ape.reverts("exchange: no adl"):
        loss.socialise(other, ETH, [bankrupt.address], sender=operator)


def test_socialise__backstop_can_absorb__refused(exchange, loss, exhausted, operator, fund, other, lp):
    fund(lp, 100_000 * USDC)  # now the backstop takes it at maintenance: adl, not this
    with ape.reverts("exchange: backstop absorbs"):
        loss.socialise(exhausted, ETH, _sorted(other, lp), sender=operator)


def test_socialise__listed_equity_short__refused_nothing_moves(
    exchange, loss, oracle, admin, operator, create_market, taker_long, cross, taker, maker, other, lp
):
    """The listed accounts' positive equity must cover what the fund leaves: nobody is
    charged below zero, so a list that cannot pay reverts as a whole. Here the only
    opposite position belongs to an account ruined in another market."""
    sol = create_market(SOL_PRICE)
    assert sol == SOL
    taker_long(10 * USDC, 250 * USDC, other_collateral=400 * USDC)
    oracle.set_price(ETH, GAP, sender=admin)
    cross(other, maker, True, GAP)  # other short ETH at 1,700
    cross(maker, other, True, SOL_PRICE, 10 * ONE, market=sol)
    oracle.set_price(sol, 75 * USDC, sender=admin)  # other loses 750 in SOL: its equity < 0
    assert exchange.equity(other) < 0 and exchange.equity(taker) < 0
    before = [exchange.position(a, ETH) for a in (taker, other)] + [exchange.collateral(a) for a in (taker, other, lp)]
    with ape.reverts("exchange: socialise short"):
        loss.socialise(taker, ETH, _sorted(other, lp), sender=operator)
    assert [exchange.position(a, ETH) for a in (taker, other)] + [exchange.collateral(a) for a in (taker, other, lp)] == before


def test_adl__counterparty_would_go_negative__refused(
    exchange, oracle, admin, operator, create_market, taker_long, cross, taker, maker, other, lp
):
    """ADL at the bankruptcy price never makes its counterparty bankrupt in turn: a deficit
    moved onto an account whose position is then gone could not be shared any more."""
    sol = create_market(SOL_PRICE)
    assert sol == SOL
    taker_long(100_000 * USDC, 420 * USDC, other_collateral=200 * USDC)
    cross(maker, taker, True, SOL_PRICE, 10 * ONE, market=sol)
    oracle.set_price(ETH, 1_900 * USDC, sender=admin)
    cross(other, maker, True, 1_900 * USDC)  # other short at 1,900
    oracle.set_price(ETH, 1_890 * USDC, sender=admin)  # other is in profit
    oracle.set_price(sol, 90 * USDC, sender=admin)  # taker's SOL loss lifts its ETH bankruptcy price
    assert exchange.equity(taker) < 0
    with ape.reverts("exchange: adl equity"):
        exchange.adl(taker, ETH, [other], sender=operator)
    tx = exchange.adl(taker, ETH, [lp], sender=operator)  # the backstop can: it takes it
    assert [l.counterparty for l in tx.decode_logs(exchange.Adl)] == [lp.address]
    assert exchange.equity(other) >= 0


def test_socialise__fund_covers_but_backstop_refuses_the_position__closed_at_mark_fund_pays(
    exchange, loss, exhausted, operator, admin, fund, stranger, other, maker, lp, usdc
):
    """The fund could pay the deficit, but liquidate cannot move the position to a backstop
    too thin to carry it: the position closes at mark against the opposite side and the
    fund pays the whole deficit; nobody else is charged."""
    bankrupt = exhausted
    fund(admin, 1_000 * USDC, deposit=False)
    exchange.deposit_insurance(1_000 * USDC, sender=admin)
    with ape.reverts("exchange: backstop margin"):
        exchange.liquidate(bankrupt, ETH, sender=stranger)
    deficit = -exchange.equity(bankrupt)
    tx = loss.socialise(bankrupt, ETH, _sorted(other, lp), sender=operator)
    (cover,) = tx.decode_logs(exchange.InsuranceCover)
    assert (cover.account, cover.amount) == (bankrupt.address, deficit)
    assert not tx.decode_logs(exchange.LossSocialised)
    assert exchange.equity(bankrupt) == 0 and exchange.position(bankrupt, ETH) == (0, 0)
    _solvent(exchange, usdc, [bankrupt, other, maker, lp, stranger])
