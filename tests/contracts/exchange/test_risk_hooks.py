"""Account risk hooks for vaults: close-only, leverage cap, position cap."""

import ape
import pytest

from tests.constants import ETH, ONE, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def test_set_close_only__sets_and_logs(exchange, maker):
    tx = exchange.set_close_only(True, sender=maker)
    assert exchange.close_only(maker)
    assert [(l.account, l.enabled) for l in tx.decode_logs(exchange.CloseOnlySet)] == [(maker.address, True)]
    exchange.set_close_only(False, sender=maker)
    assert not exchange.close_only(maker)


def test_settle__close_only_account_opening__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_close_only(True, sender=taker)
    m, t = create_order(maker, True), create_order(taker, False)
    assert_skipped(create_fill(m, t), m, t, "close only")


def test_settle__close_only_account_reducing__settles(exchange, create_order, create_fill, maker, taker, settle):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))
    exchange.set_close_only(True, sender=taker)
    _, settled, skipped = settle(create_fill(create_order(maker, False, size=ONE // 2), create_order(taker, True, size=ONE // 2)))
    assert len(settled) == 1 and skipped == []


def test_set_leverage_cap__sets_and_logs(exchange, maker):
    tx = exchange.set_leverage_cap(30_000, sender=maker)
    assert exchange.leverage_cap(maker) == 30_000
    assert [(l.account, l.cap_bps) for l in tx.decode_logs(exchange.LeverageCapSet)] == [(maker.address, 30_000)]


def test_set_leverage_cap__too_large__reverts(exchange, maker):
    with ape.reverts("exchange: cap too large"):
        exchange.set_leverage_cap(2**32, sender=maker)


def test_settle__above_leverage_cap__skipped(exchange, create_order, create_fill, maker, lp, fund, assert_skipped):
    fund(lp, 1_000 * USDC)
    exchange.set_leverage_cap(10_000, sender=lp)  # 1x: 1,000 USDC of equity, 2,000 of notional
    m, t = create_order(maker, True), create_order(lp, False)
    assert_skipped(create_fill(m, t), m, t, "leverage")


def test_settle__inside_leverage_cap__settles(exchange, create_order, create_fill, maker, lp, fund, settle):
    fund(lp, 1_000 * USDC)
    exchange.set_leverage_cap(30_000, sender=lp)
    _, settled, _ = settle(create_fill(create_order(maker, True), create_order(lp, False)))
    assert len(settled) == 1


def test_set_position_cap__sets_and_logs(exchange, maker):
    tx = exchange.set_position_cap(ETH, ONE, sender=maker)
    assert exchange.position_cap(maker, ETH) == ONE
    assert [(l.account, l.market, l.size) for l in tx.decode_logs(exchange.PositionCapSet)] == [(maker.address, ETH, ONE)]


def test_set_position_cap__unknown_market__reverts(exchange, maker):
    with ape.reverts("exchange: unknown market"):
        exchange.set_position_cap(9, ONE, sender=maker)


def test_settle__above_position_cap__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_position_cap(ETH, ONE // 2, sender=maker)
    m, t = create_order(maker, True), create_order(taker, False)
    assert_skipped(create_fill(m, t), m, t, "position cap")


def test_settle__at_position_cap__settles(exchange, create_order, create_fill, maker, taker, settle):
    exchange.set_position_cap(ETH, ONE, sender=maker)
    _, settled, _ = settle(create_fill(create_order(maker, True), create_order(taker, False)))
    assert len(settled) == 1
