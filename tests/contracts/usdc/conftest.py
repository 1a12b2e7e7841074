"""Fixtures for the TestUSDC tests: the minter and alice roles (admin, stranger, create_usdc
and usdc come from tests/conftest.py)."""
import pytest


@pytest.fixture(scope="module")
def minter(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[2]
