"""Fixtures for the LiquidityPool tests: the vault folders' stack (VAULT_STACK) plus a pool
set as backstop."""
import pytest

from tests.constants import USDC, VAULT_STACK

CAP = 10_000_000 * USDC


@pytest.fixture(scope="module")
def contract_stack():
    return VAULT_STACK


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
