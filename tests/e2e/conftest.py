"""E2E fixtures: a real anvil on a free loopback port, the suite deployed, funded traders,
and started keepers with teardown."""

from __future__ import annotations

import pytest

from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack
from offchain.keeper.service import Keeper


@pytest.fixture(scope="session")
def anvil():
    with Anvil(accounts=12) as node:
        yield node


@pytest.fixture(scope="session")
def stack(anvil):
    return deploy_stack(anvil.url, anvil.private_keys(), traders=6)


@pytest.fixture
async def start_keeper():
    """`keeper = await start_keeper(config, operator=..., ...)`: a started Keeper (the
    arguments are Keeper's). Every keeper it started is stopped at teardown, also when
    the test failed (async tests: `pytest.mark.anyio`)."""
    started: list[Keeper] = []

    async def start(config, **kw) -> Keeper:
        keeper = await Keeper(config, **kw).start()
        started.append(keeper)
        return keeper

    yield start
    for keeper in reversed(started):
        if not keeper.stopped.is_set():
            await keeper.stop()
