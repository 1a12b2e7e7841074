"""Exchange test helpers: funded traders, settle helpers, a backstopped long and state snapshots."""

import pytest

from tests.constants import ETH, ETH_PRICE, ONE, USDC

FUNDING = 100_000 * USDC


@pytest.fixture(scope="module")
def funded(fund, maker, taker, other):
    """maker, taker and other each hold FUNDING USDC of collateral."""
    for account in (maker, taker, other):
        fund(account, FUNDING)
    return FUNDING


@pytest.fixture(scope="module")
def settle(exchange, operator):
    """settle(*fills) -> (tx, settled logs, skipped logs)."""

    def _settle(*fills):
        tx = exchange.settle(list(fills), sender=operator)
        return tx, tx.decode_logs(exchange.FillSettled), tx.decode_logs(exchange.FillSkipped)

    return _settle


@pytest.fixture(scope="module")
def cross(exchange, operator, create_order, create_fill):
    """cross(maker, taker, taker_buys, price, size=ONE, market=ETH) -> tx: one fill between
    two fresh orders (maker resting, taker crossing), which must settle."""

    def _cross(maker, taker, taker_buys, price, size=ONE, market=ETH):
        tx = exchange.settle([create_fill(create_order(maker, not taker_buys, price, size, market=market),
                                          create_order(taker, taker_buys, price, size, market=market))],
                             sender=operator)
        assert len(tx.decode_logs(exchange.FillSettled)) == 1
        return tx

    return _cross


@pytest.fixture(scope="module")
def taker_long(exchange, admin, fund, cross, maker, taker, other, lp):
    """taker_long(backstop, collateral, size=ONE, other_collateral=10,000 USDC) -> taker: lp is
    the backstop with `backstop` USDC, maker (the other side) holds 100,000 and `other`
    `other_collateral`; the taker buys `size` from maker at ETH_PRICE on `collateral`."""

    def _long(backstop, collateral, size=ONE, other_collateral=10_000 * USDC):
        fund(lp, backstop)
        exchange.set_backstop(lp, sender=admin)
        fund(maker, 100_000 * USDC)
        fund(other, other_collateral)
        fund(taker, collateral)
        cross(maker, taker, True, ETH_PRICE, size)
        return taker

    return _long


@pytest.fixture(scope="module")
def state(exchange, usdc):
    """state(accounts, hashes, markets=(ETH,)) -> a comparable snapshot of ledger state."""

    def _state(accounts, hashes=(), markets=(ETH,)):
        return {
            "collateral": [exchange.collateral(a) for a in accounts],
            "positions": [exchange.position(a, m) for a in accounts for m in markets],
            "filled": [exchange.filled(h) for h in hashes],
            "fees": exchange.fees_accrued(),
            "balance": usdc.balanceOf(exchange),
        }

    return _state


@pytest.fixture(scope="module")
def assert_skipped(exchange, settle, state, hash_of):
    """assert_skipped(fill, maker_order, taker_order, reason): settles `fill` alone and
    checks it was skipped with `reason` and that no ledger state changed."""

    def _check(fill, maker_order, taker_order, reason):
        accounts = [maker_order.account, taker_order.account]
        hashes = [hash_of(maker_order), hash_of(taker_order)]
        before = state(accounts, hashes)
        tx, settled, skipped = settle(fill)
        assert settled == []
        assert len(skipped) == 1
        assert skipped[0].reason == reason
        assert skipped[0].maker_hash == hashes[0]
        assert skipped[0].taker_hash == hashes[1]
        assert state(accounts, hashes) == before
        return tx

    return _check
