"""split / merge: owner-only transfers at mark into and out of a sub-account; isolation."""

import ape
import pytest

from tests.constants import ETH, ONE, PRICE, USDC


@pytest.fixture
def long_owner(exchange, fund, maker, taker, trade):
    """maker long 2 ETH at 2,000 with 2,000 USDC; taker short with 100,000."""
    fund(maker, 2_000 * USDC)
    fund(taker, 100_000 * USDC)
    trade(maker, maker, taker, taker, True, 2 * ONE)
    return maker


def test_split__moves_collateral_and_position_at_mark(exchange, oracle, admin, usdc, subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    oracle.set_price(ETH, 2_100 * USDC, sender=admin)
    balance, coll = usdc.balanceOf(exchange), exchange.collateral(long_owner)
    equity = exchange.equity(long_owner)
    tx = subs.split(sub, ETH, ONE, 300 * USDC, sender=long_owner)
    # the owner realises +100 on the ETH it gives up; the sub opens at the mark
    assert exchange.position(long_owner, ETH) == (ONE, PRICE)
    assert exchange.position(sub, ETH) == (ONE, 2_100 * USDC)
    assert exchange.collateral(long_owner) == coll + 100 * USDC - 300 * USDC
    assert exchange.collateral(sub) == 300 * USDC
    assert exchange.equity(long_owner) + exchange.equity(sub) == equity  # a move at mark changes no equity
    assert usdc.balanceOf(exchange) == balance
    assert [(l.source, l.target, l.size, l.price) for l in tx.decode_logs(exchange.PositionTransferred)] == [
        (long_owner.address, sub, ONE, 2_100 * USDC)
    ]
    assert [(l.source, l.target, l.amount) for l in tx.decode_logs(exchange.CollateralMoved)] == [
        (long_owner.address, sub, 300 * USDC)
    ]


def test_split__collateral_checked_after_both_moves(exchange, subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    # owner: 2,000 USDC, 2 ETH (initial 400). Moving 1,700 first would leave it short of
    # initial before the position moves; after both moves it needs 200 and has 300.
    coll = exchange.collateral(long_owner)  # 2,000 + the maker rebate
    subs.split(sub, ETH, ONE, 1_700 * USDC, sender=long_owner)
    assert exchange.free_collateral(long_owner) == coll - 1_700 * USDC - 200 * USDC


def test_split__sub_without_margin__reverts(subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    with ape.reverts("exchange: margin"):
        subs.split(sub, ETH, ONE, 199 * USDC, sender=long_owner)


def test_split__someone_elses_sub__reverts(subs, long_owner, taker, open_sub):
    theirs = open_sub(taker)
    with ape.reverts("exchange: not owner"):
        subs.split(theirs, ETH, ONE, 300 * USDC, sender=long_owner)
    with ape.reverts("exchange: not owner"):
        subs.merge(theirs, ETH, 0, sender=long_owner)


def test_split__more_than_held__reverts(subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    with ape.reverts("exchange: no position"):
        subs.split(sub, ETH, 3 * ONE, 1_000 * USDC, sender=long_owner)


def test_merge__whole_position_and_collateral_back(exchange, oracle, admin, usdc, subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    subs.split(sub, ETH, ONE, 500 * USDC, sender=long_owner)
    oracle.set_price(ETH, 1_900 * USDC, sender=admin)
    balance = usdc.balanceOf(exchange)
    total = exchange.equity(long_owner) + exchange.equity(sub)
    tx = subs.merge(sub, ETH, 400 * USDC, sender=long_owner)  # the sub realises -100, keeps 0
    assert exchange.position(sub, ETH) == (0, 0)
    assert exchange.collateral(sub) == 0
    assert exchange.position(long_owner, ETH) == (2 * ONE, PRICE + 1_900 * USDC)
    assert exchange.equity(long_owner) == total
    assert usdc.balanceOf(exchange) == balance
    assert [l.size for l in tx.decode_logs(exchange.PositionTransferred)] == [ONE]


def test_merge__no_position__reverts(subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    with ape.reverts("exchange: no position"):
        subs.merge(sub, ETH, 0, sender=long_owner)


def test_merge__collateral_beyond_what_sub_has__reverts(subs, long_owner, open_sub):
    sub = open_sub(long_owner)
    subs.split(sub, ETH, ONE, 500 * USDC, sender=long_owner)
    with ape.reverts("exchange: insufficient collateral"):
        subs.merge(sub, ETH, 501 * USDC, sender=long_owner)


def test_isolation__sub_liquidated_to_zero__owner_untouched(exchange, oracle, admin, subs, long_owner, open_sub,
                                                            lp, fund, stranger, set_price):
    fund(lp, 1_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    sub = open_sub(long_owner)
    subs.split(sub, ETH, ONE, 210 * USDC, sender=long_owner)  # the sub: 1 ETH on 210 USDC
    owner_before = (exchange.collateral(long_owner), exchange.position(long_owner, ETH))
    set_price(1_790 * USDC)  # the sub is bankrupt-ish (equity 0); the owner only lost on its own ETH
    assert exchange.equity(sub) <= 0
    # the fund covers nothing yet: seed it with the sub's deficit and liquidate
    fund(stranger, 1_000 * USDC, deposit=False)
    exchange.deposit_insurance(1_000 * USDC, sender=stranger)
    exchange.liquidate(sub, ETH, sender=stranger)
    assert exchange.position(sub, ETH) == (0, 0)
    assert exchange.collateral(sub) == 0
    # the owner's own account: not one unit moved
    assert (exchange.collateral(long_owner), exchange.position(long_owner, ETH)) == owner_before
    assert exchange.equity(long_owner) > exchange.margin_requirement(long_owner, False)
