"""Fixtures for the TestUSDC tests: accounts by role and a module-scoped token."""
import pytest

USDC = 10**6


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def minter(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def create_usdc(project, admin):
    def create(sender=None):
        return project.TestUSDC.deploy(sender=sender or admin)

    return create


@pytest.fixture(scope="module")
def usdc(create_usdc):
    return create_usdc()
