"""The liquidation tests' chain: the crash suite (offchain.keeper.crashstack) on a fresh
anvil, one per test."""

import pytest

from offchain.devnet import Anvil
from offchain.keeper.crashstack import deploy_crash_stack

from .helpers import USDC


@pytest.fixture
def crash_stack():
    """Keys 0 admin, 1 operator, 2 reporter, 3 agent, 4 LP; traders 5 levered long (2,100
    USDC), 6 healthy long (10,000 USDC), 7 short whale (500,000 USDC)."""
    with Anvil(accounts=10) as node:
        yield deploy_crash_stack(node.url, node.private_keys(), lps=1,
                                 traders=[2_100 * USDC, 10_000 * USDC, 500_000 * USDC])
