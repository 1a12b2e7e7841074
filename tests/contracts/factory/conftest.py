"""Fixtures for the VaultFactory tests: the vault folders' stack (VAULT_STACK); `factory`
and `create_vault` come from tests/conftest.py."""
import pytest

from tests.constants import VAULT_STACK


@pytest.fixture(scope="module")
def contract_stack():
    return VAULT_STACK
