"""Exchange test helpers: funded traders, a settle helper and state snapshots."""

import pytest

from tests.constants import ETH, USDC

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
