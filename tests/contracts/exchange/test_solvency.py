"""Solvency by construction (#11): one test per finding, each refused now.

Invariant kept (docs/exchange.md, "Solvency"): the Exchange's USDC covers every account's
positive equity plus fees and the insurance fund; an account's own fill never leaves it
below maintenance, so never below zero equity, and its taker fee is always backed.
"""

import ape
import pytest

from tests.constants import ETH, ETH_PRICE, INITIAL_MARGIN_BPS, LOT, MAINTENANCE_MARGIN_BPS, MIN_SIZE, ONE, TICK, USDC

WIDE = 2  # a market with a 10% band (the band of the finding's deployment)
BTC = 3
BTC_PRICE = 30_000 * USDC


@pytest.fixture(scope="module", autouse=True)
def markets(exchange, oracle, admin):
    oracle.set_price(WIDE, ETH_PRICE, sender=admin)
    oracle.set_price(BTC, BTC_PRICE, sender=admin)
    exchange.add_market(TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, 1_000, sender=admin)
    exchange.add_market(TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, 500, sender=admin)


@pytest.fixture(scope="module", autouse=True)
def friend(markets, fund, maker):
    """The colluding counterparty: plenty of collateral."""
    fund(maker, 100_000 * USDC)
    return maker


def _open_long(exchange, operator, create_order, create_fill, friend, account, market=ETH, size=ONE, price=ETH_PRICE):
    tx = exchange.settle(
        [create_fill(create_order(friend, False, price, size, market=market), create_order(account, True, price, size, market=market))],
        sender=operator,
    )
    assert len(tx.decode_logs(exchange.FillSettled)) == 1


@pytest.fixture
def long_then_mark(exchange, oracle, admin, operator, fund, taker, friend, create_order, create_fill):
    """long_then_mark(collateral, mark, market=ETH): the taker deposits `collateral`, buys
    one unit from the friend at ETH_PRICE, then the oracle's mark moves to `mark`."""

    def go(collateral, mark, market=ETH):
        fund(taker, collateral)
        _open_long(exchange, operator, create_order, create_fill, friend, taker, market=market)
        oracle.set_price(market, mark, sender=admin)

    return go


def _close(create_order, create_fill, friend, account, price, size=ONE, market=ETH):
    m = create_order(friend, True, price, size, market=market)
    t = create_order(account, False, price, size, market=market)
    return create_fill(m, t), m, t


def _solvent(exchange, usdc, accounts):
    owed = sum(max(exchange.equity(a), 0) for a in accounts) + exchange.fees_accrued() + exchange.insurance_fund()
    return usdc.balanceOf(exchange) >= owed


# ---------------------------------------------------------------- finding 1: band-edge close


def test_settle__liquidatable_band_edge_close_into_negative__skipped(
    exchange, taker, friend, create_order, create_fill, assert_skipped, long_then_mark
):
    long_then_mark(250 * USDC, 1_830 * USDC)  # equity 79 < maintenance 91.5
    assert exchange.equity(taker) < exchange.margin_requirement(taker, False)
    # closing to the friend 5% below mark would end at about -13 USDC
    fill, m, t = _close(create_order, create_fill, friend, taker, 1_738_500_000)
    assert_skipped(fill, m, t, "maintenance")


def test_settle__liquidatable_close_at_mark__settles(
    exchange, operator, taker, friend, create_order, create_fill, usdc, long_then_mark
):
    long_then_mark(250 * USDC, 1_830 * USDC)
    fill, _, _ = _close(create_order, create_fill, friend, taker, 1_830 * USDC)
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.FillSettled)) == 1
    assert exchange.position(taker, ETH) == (0, 0)
    assert exchange.collateral(taker) > 0  # de-risking to zero creates no bad debt
    assert _solvent(exchange, usdc, [taker, friend])


def test_settle__healthy_band_edge_close_into_negative__skipped(
    exchange, taker, friend, create_order, create_fill, assert_skipped, long_then_mark
):
    # the finding: a healthy account closes to a friend at mark -10% into negative collateral
    long_then_mark(250 * USDC, 1_900 * USDC, market=WIDE)  # equity ~149, maintenance 95: healthy
    assert exchange.equity(taker) > exchange.margin_requirement(taker, False)
    fill, m, t = _close(create_order, create_fill, friend, taker, 1_710 * USDC, market=WIDE)  # ends ~ -41
    assert_skipped(fill, m, t, "maintenance")


def test_settle__healthy_band_edge_close_staying_positive__settles(
    exchange, operator, taker, friend, create_order, create_fill, usdc, long_then_mark
):
    long_then_mark(320 * USDC, 1_900 * USDC, market=WIDE)
    fill, _, _ = _close(create_order, create_fill, friend, taker, 1_805 * USDC, market=WIDE)  # ends ~ +124
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.FillSettled)) == 1
    assert exchange.collateral(taker) > 0
    assert _solvent(exchange, usdc, [taker, friend])


def test_settle__healthy_partial_close_leaving_below_maintenance__skipped(
    taker, friend, create_order, create_fill, assert_skipped, long_then_mark
):
    long_then_mark(202 * USDC, 1_900 * USDC, market=WIDE)  # equity ~101 >= 95
    # half at -9%: equity ~15 > 0 but below the remaining maintenance 47.5
    fill, m, t = _close(create_order, create_fill, friend, taker, 1_729 * USDC, size=ONE // 2, market=WIDE)
    assert_skipped(fill, m, t, "maintenance")


def test_settle__close_whose_taker_fee_is_unbacked__skipped(
    exchange, oracle, admin, operator, fund, taker, friend, create_order, create_fill, assert_skipped
):
    fund(taker, 250 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker)
    # equity at mark 1,751 is 249 - 249 = 0: the close's fee (0.88 USDC) has no backing
    oracle.set_price(ETH, 1_751 * USDC, sender=admin)
    fill, m, t = _close(create_order, create_fill, friend, taker, 1_751 * USDC)
    assert_skipped(fill, m, t, "maintenance")
    assert exchange.fees_accrued() < USDC  # only the opening fill's fee


# ---------------------------------------------------------------- finding 2: a 15% gap


@pytest.fixture
def gapped(exchange, admin, fund, taker, lp, long_then_mark):
    """taker long 1 ETH from 2,000 with 250 USDC, then a 15% gap: equity about -51."""
    fund(lp, 100_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    long_then_mark(250 * USDC, 1_700 * USDC)
    assert exchange.equity(taker) < 0
    return taker


def test_liquidate__gap_fund_covers__account_closed_at_zero(exchange, gapped, admin, fund, stranger, usdc, friend, lp):
    fund(admin, 500 * USDC, deposit=False)
    exchange.deposit_insurance(500 * USDC, sender=admin)
    deficit = -exchange.equity(gapped)
    exchange.liquidate(gapped, ETH, sender=stranger)
    assert exchange.collateral(gapped) == 0 and exchange.position(gapped, ETH) == (0, 0)
    assert exchange.insurance_fund() == 500 * USDC - deficit
    assert _solvent(exchange, usdc, [gapped, friend, lp, stranger])


def test_liquidate__gap_fund_short__refused_then_adl(exchange, gapped, operator, stranger, usdc, friend, lp):
    with ape.reverts("exchange: insurance short"):
        exchange.liquidate(gapped, ETH, sender=stranger)
    friend_size = exchange.position(friend, ETH)[0]
    tx = exchange.adl(gapped, ETH, [friend], sender=operator)
    logs = tx.decode_logs(exchange.Adl)
    assert len(logs) == 1
    assert (logs[0].account, logs[0].counterparty, logs[0].market, logs[0].size) == (gapped.address, friend.address, ETH, ONE)
    # bankruptcy price: the long sells where its equity is zero (above the 1,700 mark)
    assert logs[0].price > 1_700 * USDC
    assert exchange.position(gapped, ETH) == (0, 0)
    assert 0 <= exchange.collateral(gapped) <= 1
    assert exchange.position(friend, ETH)[0] == friend_size + ONE
    assert _solvent(exchange, usdc, [gapped, friend, lp, stranger])


def test_adl__too_few_counterparties__closes_part_then_the_rest(
    exchange, gapped, operator, fund, other, create_order, create_fill, friend, usdc, lp, stranger
):
    fund(other, 10_000 * USDC)
    # other shorts 0.4 ETH at the band edge above the new mark: in profit at 1,700
    exchange.settle(
        [create_fill(create_order(friend, True, 1_785 * USDC, 4 * ONE // 10), create_order(other, False, 1_785 * USDC, 4 * ONE // 10))],
        sender=operator,
    )
    assert exchange.position(other, ETH)[0] == -4 * ONE // 10
    tx = exchange.adl(gapped, ETH, [other], sender=operator)
    assert [l.size for l in tx.decode_logs(exchange.Adl)] == [4 * ONE // 10]
    assert exchange.position(gapped, ETH)[0] == 6 * ONE // 10
    tx = exchange.adl(gapped, ETH, [friend], sender=operator)
    assert [l.size for l in tx.decode_logs(exchange.Adl)] == [6 * ONE // 10]
    assert exchange.position(gapped, ETH) == (0, 0)
    assert exchange.collateral(gapped) >= 0
    assert _solvent(exchange, usdc, [gapped, friend, other, lp, stranger])


def test_adl__counterparty_same_side__reverts(exchange, gapped, operator, fund, other, create_order, create_fill, friend):
    fund(other, 10_000 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, other, price=1_700 * USDC)
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(gapped, ETH, [other], sender=operator)


def test_adl__counterparty_not_in_profit__reverts(exchange, gapped, operator, fund, other, create_order, create_fill, friend):
    fund(other, 10_000 * USDC)
    # other shorts at 1,700 (the mark): no profit
    exchange.settle(
        [create_fill(create_order(friend, True, 1_700 * USDC), create_order(other, False, 1_700 * USDC))], sender=operator
    )
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(gapped, ETH, [other], sender=operator)


def test_adl__fund_can_cover__reverts(exchange, gapped, operator, admin, fund, friend):
    fund(admin, 500 * USDC, deposit=False)
    exchange.deposit_insurance(500 * USDC, sender=admin)
    with ape.reverts("exchange: no adl"):
        exchange.adl(gapped, ETH, [friend], sender=operator)


def test_adl__not_operator__reverts(exchange, gapped, stranger, friend):
    with ape.reverts("exchange: not operator"):
        exchange.adl(gapped, ETH, [friend], sender=stranger)


# ---------------------------------------------------------------- finding 3: a halted market elsewhere


def test_liquidate__dust_in_halted_market__still_liquidatable(
    exchange, oracle, admin, operator, fund, taker, friend, lp, stranger, create_order, create_fill
):
    fund(lp, 100_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    fund(taker, 260 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker)
    _open_long(exchange, operator, create_order, create_fill, friend, taker, market=BTC, size=MIN_SIZE, price=BTC_PRICE)
    oracle.halt(BTC, sender=admin)
    oracle.set_price(ETH, 1_800 * USDC, sender=admin)
    assert exchange.equity(taker) < exchange.margin_requirement(taker, False)
    tx = exchange.liquidate(taker, ETH, sender=stranger)
    assert len(tx.decode_logs(exchange.Liquidation)) == 1
    assert exchange.position(taker, ETH) == (0, 0)


def test_settle__reducing_fill_with_halted_market_elsewhere__settles(
    exchange, oracle, admin, operator, fund, taker, friend, create_order, create_fill
):
    fund(taker, 5_000 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker)
    _open_long(exchange, operator, create_order, create_fill, friend, taker, market=BTC, size=MIN_SIZE, price=BTC_PRICE)
    oracle.halt(BTC, sender=admin)
    fill, _, _ = _close(create_order, create_fill, friend, taker, ETH_PRICE)
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.FillSettled)) == 1


def test_settle__opening_fill_with_halted_market_elsewhere__skipped(
    exchange, oracle, admin, operator, fund, taker, friend, create_order, create_fill, assert_skipped
):
    fund(taker, 5_000 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker, market=BTC, size=MIN_SIZE, price=BTC_PRICE)
    oracle.halt(BTC, sender=admin)
    m, t = create_order(friend, False), create_order(taker, True)
    assert_skipped(create_fill(m, t), m, t, "halted")


# ---------------------------------------------------------------- inactive markets close


def test_settle__inactive_market_closing_fill__settles(
    exchange, admin, operator, fund, taker, friend, create_order, create_fill
):
    fund(taker, 5_000 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker)
    exchange.update_market(ETH, TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, 500, False, sender=admin)
    fill, _, _ = _close(create_order, create_fill, friend, taker, ETH_PRICE)
    tx = exchange.settle([fill], sender=operator)
    assert len(tx.decode_logs(exchange.FillSettled)) == 1
    assert exchange.position(taker, ETH) == (0, 0)


def test_settle__inactive_market_opening_fill__skipped(
    exchange, admin, fund, taker, friend, create_order, create_fill, assert_skipped
):
    fund(taker, 5_000 * USDC)
    exchange.update_market(ETH, TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, 500, False, sender=admin)
    m, t = create_order(friend, False), create_order(taker, True)
    assert_skipped(create_fill(m, t), m, t, "inactive")


# ---------------------------------------------------------------- finding 6: zero-notional fills


def test_add_market__tick_times_lot_below_one_usdc_unit__reverts(exchange, admin):
    with ape.reverts("exchange: bad tick lot"):
        exchange.add_market(1, 10**15, 10**15, 1_000, 500, 500, sender=admin)


def test_update_market__tick_times_lot_not_whole_units__reverts(exchange, admin):
    with ape.reverts("exchange: bad tick lot"):
        exchange.update_market(ETH, 15, 10**17, 10**17, 1_000, 500, 500, True, sender=admin)


def test_add_market__tick_times_lot_whole_units__added(exchange, admin):
    tx = exchange.add_market(1, ONE, ONE, 1_000, 500, 500, sender=admin)
    assert len(tx.decode_logs(exchange.MarketSet)) == 1


# ---------------------------------------------------------------- finding 3: a delisted market


@pytest.fixture
def delisted(exchange, oracle, admin, operator, fund, taker, other, friend, create_order, create_fill):
    """taker and other long 0.01 BTC from 30,000 (the friend short); then BTC is delisted
    at 27,000."""
    fund(taker, 5_000 * USDC)
    fund(other, 5_000 * USDC)
    _open_long(exchange, operator, create_order, create_fill, friend, taker, market=BTC, size=MIN_SIZE * 10, price=BTC_PRICE)
    _open_long(exchange, operator, create_order, create_fill, friend, other, market=BTC, size=MIN_SIZE * 10, price=BTC_PRICE)
    tx = exchange.delist(BTC, 27_000 * USDC, sender=admin)
    assert [(l.market, l.settlement_price) for l in tx.decode_logs(exchange.MarketDelisted)] == [(BTC, 27_000 * USDC)]
    return tx


def test_delist__market_inactive_and_priced(exchange, delisted):
    assert exchange.settlement_price(BTC) == 27_000 * USDC
    assert exchange.markets(BTC).active is False


def test_delist__not_admin__reverts(exchange, stranger):
    with ape.reverts("exchange: not admin"):
        exchange.delist(BTC, 27_000 * USDC, sender=stranger)


def test_delist__twice__reverts(exchange, delisted, admin):
    with ape.reverts("exchange: delisted"):
        exchange.delist(BTC, 28_000 * USDC, sender=admin)


def test_delist__stale_feed__withdraw_elsewhere_still_works(exchange, delisted, chain, oracle, taker):
    chain.pending_timestamp += oracle.max_age() + 1  # the BTC feed stopped long ago
    tx = exchange.withdraw(USDC, sender=taker)
    assert len(tx.decode_logs(exchange.Withdraw)) == 1


def test_close_delisted__at_settlement_price__pnl_realised(exchange, delisted, taker, stranger, usdc):
    coll = exchange.collateral(taker)
    size, cost = exchange.position(taker, BTC)
    tx = exchange.close_delisted(taker, BTC, sender=stranger)
    pnl = size * 27_000 * USDC // ONE - cost
    logs = tx.decode_logs(exchange.DelistedClosed)
    assert [(l.account, l.market, l.size, l.price, l.pnl) for l in logs] == [(taker.address, BTC, size, 27_000 * USDC, pnl)]
    assert exchange.position(taker, BTC) == (0, 0)
    assert exchange.collateral(taker) == coll + pnl


def test_close_delisted__every_holder__pays_no_more_than_held(exchange, delisted, taker, other, friend, stranger, usdc, lp):
    for a in (taker, other, friend):
        exchange.close_delisted(a, BTC, sender=stranger)
    assert _solvent(exchange, usdc, [taker, other, friend, lp, stranger])
    for a in (taker, other):
        exchange.withdraw(exchange.collateral(a), sender=a)
    assert usdc.balanceOf(exchange) >= exchange.collateral(friend) + exchange.fees_accrued() + exchange.insurance_fund()


def test_close_delisted__listed_market__reverts(exchange, taker, stranger):
    with ape.reverts("exchange: not delisted"):
        exchange.close_delisted(taker, ETH, sender=stranger)


def test_settle__fill_in_delisted_market__skipped(exchange, delisted, create_order, create_fill, friend, taker, assert_skipped):
    m = create_order(friend, True, 27_000 * USDC, MIN_SIZE, market=BTC)
    t = create_order(taker, False, 27_000 * USDC, MIN_SIZE, market=BTC)
    assert_skipped(create_fill(m, t), m, t, "delisted")
