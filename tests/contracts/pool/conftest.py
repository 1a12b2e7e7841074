"""Fixtures for the LiquidityPool tests: the shared stack plus a pool set as backstop."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmx_stack import *  # noqa: E402,F401,F403
from mmx_stack import USDC  # noqa: E402

CAP = 10_000_000 * USDC


@pytest.fixture(scope="module")
def create_pool(project, admin, usdc, exchange):
    def create(cap=CAP, backstop=True):
        pool = project.LiquidityPool.deploy(usdc, exchange, cap, sender=admin)
        if backstop:
            exchange.set_backstop(pool, sender=admin)
        return pool

    return create


@pytest.fixture(scope="module")
def pool(create_pool):
    return create_pool()


@pytest.fixture(scope="module")
def pool_deposit(fund):
    """pool_deposit(pool, account, amount) -> receipt (funds and approves first)."""

    def pool_deposit(pool, account, amount, **kwargs):
        fund(account, amount, spender=pool)
        return pool.deposit(amount, sender=account, **kwargs)

    return pool_deposit


@pytest.fixture(scope="module")
def keeper_agent(accounts):
    return accounts.generate_test_account()


@pytest.fixture(scope="module")
def after_lockup(chain):
    def travel(seconds=4 * 86_400):
        chain.pending_timestamp += seconds + 1
        chain.mine()

    return travel
