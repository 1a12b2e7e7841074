"""move_collateral: between an owner's own accounts, margin checked on the source."""

import ape

from tests.constants import ETH, ONE, PRICE, USDC


def _refused(subs, owner, moves):
    """Each (source, target, amount, reason) move, sent by `owner`, reverts with its reason."""
    for source, target, amount, reason in moves:
        with ape.reverts(reason):
            subs.move_collateral(source, target, amount, sender=owner)


def test_move__owner_to_sub_and_back__logs_and_conserves(exchange, subs, usdc, maker, fund, open_sub):
    sub = open_sub(maker)
    fund(maker, 1_000 * USDC)
    balance = usdc.balanceOf(exchange)
    tx = subs.move_collateral(maker, sub, 400 * USDC, sender=maker)
    assert (exchange.collateral(maker), exchange.collateral(sub)) == (600 * USDC, 400 * USDC)
    assert [(l.source, l.target, l.amount) for l in tx.decode_logs(exchange.CollateralMoved)] == [
        (maker.address, sub, 400 * USDC)
    ]
    subs.move_collateral(sub, maker, 400 * USDC, sender=maker)
    assert (exchange.collateral(maker), exchange.collateral(sub)) == (1_000 * USDC, 0)
    assert usdc.balanceOf(exchange) == balance


def test_move__between_two_subs(exchange, subs, maker, fund, open_sub):
    a, b = open_sub(maker, 1), open_sub(maker, 2)
    fund(maker, 100 * USDC)
    subs.move_collateral(maker, a, 100 * USDC, sender=maker)
    subs.move_collateral(a, b, 60 * USDC, sender=maker)
    assert (exchange.collateral(a), exchange.collateral(b)) == (40 * USDC, 60 * USDC)


def test_move__someone_elses_sub__reverts(subs, maker, taker, fund, open_sub):
    theirs = open_sub(taker)
    fund(maker, 100 * USDC)
    _refused(subs, maker, [(maker, theirs, 10 * USDC, "exchange: not owner"),
                           (theirs, maker, 0, "exchange: not owner")])


def test_move__unopened_account__reverts(subs, maker, other, fund):
    fund(maker, 100 * USDC)
    with ape.reverts("exchange: not owner"):
        subs.move_collateral(maker, other, 10 * USDC, sender=maker)


def test_move__refusals(subs, maker, fund, open_sub):
    sub = open_sub(maker)
    fund(maker, 100 * USDC)
    _refused(subs, maker, [(maker, sub, 101 * USDC, "exchange: insufficient collateral"),
                           (maker, sub, 0, "exchange: zero amount"),
                           (sub, sub, 1, "exchange: same account")])


def test_move__source_below_initial_margin__reverts(exchange, subs, maker, taker, fund, open_sub, trade):
    sub = open_sub(maker)
    fund(maker, 300 * USDC)
    fund(taker, 10_000 * USDC)
    trade(maker, maker, taker, taker, True, ONE)  # maker long 1 ETH: initial 200 USDC
    free = exchange.free_collateral(maker)
    with ape.reverts("exchange: margin"):
        subs.move_collateral(maker, sub, free + 1, sender=maker)
    subs.move_collateral(maker, sub, free, sender=maker)
    assert exchange.free_collateral(maker) == 0


def test_move__while_paused__allowed(exchange, subs, maker, pauser, fund, open_sub):
    sub = open_sub(maker)
    fund(maker, 100 * USDC)
    subs.move_collateral(maker, sub, 100 * USDC, sender=maker)
    exchange.pause(sender=pauser)
    subs.move_collateral(sub, maker, 100 * USDC, sender=maker)  # the exit path: then withdraw
    exchange.withdraw(100 * USDC, sender=maker)
    assert exchange.collateral(maker) == 0
