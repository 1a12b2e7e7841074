"""E2E fixtures: a real anvil on a free loopback port, the suite deployed, funded traders
(started keepers: `start_keeper` in tests/conftest.py)."""

from __future__ import annotations

import pytest

from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack


@pytest.fixture(scope="session")
def anvil():
    with Anvil(accounts=12) as node:
        yield node


@pytest.fixture(scope="session")
def stack(anvil):
    return deploy_stack(anvil.url, anvil.private_keys(), traders=6)

