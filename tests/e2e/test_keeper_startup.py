"""Start-up checks against a real anvil: a keeper that could not settle refuses to start
with a message that says why (and what to run), before it replays or serves anything."""

from __future__ import annotations

from dataclasses import replace

import pytest

from offchain.keeper.config import OracleConfig
from offchain.keeper.preflight import StartupError
from offchain.order import address_of

from .keeper_helpers import key, keeper_config, fills_final

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests: `start_keeper` (tests/conftest.py)


async def start(start_keeper, cfg, operator, reporter=None):
    """Start a keeper and stop it again (a refused start raises StartupError)."""
    keeper = await start_keeper(cfg, operator=key(operator), reporter=key(reporter) if reporter else None)
    await keeper.stop()


async def test_startup__operator_without_operator_role__refused_with_the_grant_to_run(stack, tmp_path, start_keeper):
    wrong = stack.trader_keys[0]
    with pytest.raises(StartupError) as info:
        await start(start_keeper, keeper_config(stack, tmp_path / "k.db"), wrong)
    message = str(info.value)
    assert f"operator {address_of(wrong)} lacks OPERATOR_ROLE on the Exchange" in message
    assert "grantRole(OPERATOR_ROLE" in message
    assert not (tmp_path / "k.db").exists()  # refused before the journal is created


async def test_startup__reporter_without_role_when_feeding_prices__refused(stack, tmp_path, start_keeper):
    cfg = replace(keeper_config(stack, tmp_path / "k.db"), oracle=OracleConfig(source="random", markets=(1,)))
    with pytest.raises(StartupError) as info:
        await start(start_keeper, cfg, stack.operator_key, reporter=stack.trader_keys[1])
    assert f"reporter {address_of(stack.trader_keys[1])} lacks REPORTER_ROLE on the Oracle" in str(info.value)


async def test_startup__wrong_chain_id_and_missing_contract__both_reported(stack, tmp_path, start_keeper):
    cfg = keeper_config(stack, tmp_path / "k.db")
    cfg = replace(cfg, contracts=replace(cfg.contracts, chain_id="1",
                                         pool="0x000000000000000000000000000000000000dEaD"))
    with pytest.raises(StartupError) as info:
        await start(start_keeper, cfg, stack.operator_key)
    message = str(info.value)
    assert "chain id is 31337, the deployment is for chain 1" in message
    assert "no contract at pool address 0x000000000000000000000000000000000000dEaD" in message


async def test_startup__right_keys__starts(stack, tmp_path, start_keeper):
    await start(start_keeper, keeper_config(stack, tmp_path / "k.db"), stack.operator_key)


async def test_settle_revert__logged_at_warning_with_the_decoded_reason(stack, tmp_path, caplog, start_keeper):
    import logging

    from web3 import Web3

    from offchain.client import AsyncKeeperClient
    from offchain.deploy import Web3Deployer

    from .keeper_helpers import wait_for

    w3 = Web3(Web3.HTTPProvider(stack.url))
    admin = Web3Deployer(w3, stack.admin_key)
    price = 2_000 * 10**6 - 11_000_000

    with caplog.at_level(logging.WARNING, logger="mmx.keeper"):
        keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
        keeper.settlement.max_retries = 0  # one attempt: the fill ends rejected "reverted"
        async with AsyncKeeperClient(keeper.url, stack.trader_keys[2]) as a, \
                AsyncKeeperClient(keeper.url, stack.trader_keys[3]) as b:
            admin.transact("Exchange", stack.deployment.exchange, "pause")
            try:
                await a.place(a.order(1, True, price, 10**16))
                await b.place(b.order(1, False, price, 10**16), tif="IOC")
                await wait_for(lambda: fills_final(keeper, "rejected"))
            finally:
                admin.transact("Exchange", stack.deployment.exchange, "unpause")
        await keeper.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("reverted: exchange: paused" in m for m in warnings), warnings


async def test_startup__api_port_zero__bound_by_the_keeper_and_url_names_it(stack, tmp_path, start_keeper):
    """Port 0: the keeper binds its API socket itself (the OS's pick) and `url` names the
    bound port; nothing picked a port for it that another process could take first."""
    import os

    import httpx

    from offchain.devnet import listener_pid

    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    port = int(keeper.url.rsplit(":", 1)[1])
    assert keeper.config.api.port == 0 and port == keeper.api_port != 0
    assert listener_pid(port) in (os.getpid(), None)
    async with httpx.AsyncClient(base_url=keeper.url, timeout=30) as http:
        assert (await http.get("/health")).status_code == 200
    await keeper.stop()
    assert listener_pid(port) == 0


def test_startup__subprocess_keeper_port_zero__ready_file_names_its_own_listener(stack, tmp_path):
    """A keeper process on port 0 writes its bound URL to the ready file (whole, by rename);
    the listener on that port is the keeper's own process, and /health answers there."""
    import httpx

    from offchain.devnet import listener_pid
    from offchain.keeper import process

    env = process.keeper_env(stack.url, f"sqlite:///{tmp_path}/k.db", 0,
                             stack.write_deployment(tmp_path / "deployment.json"), stack.operator_key)
    proc = process.start_keeper(env, tmp_path, "port0", timeout=120)
    try:
        port = int(proc.url.rsplit(":", 1)[1])
        assert port != 0 and listener_pid(port) in (proc.pid, None)
        assert httpx.get(proc.url + "/health", timeout=30).status_code == 200
        assert not (tmp_path / "ready-port0.tmp").exists()
    finally:
        assert process.stop_keeper(proc) == 0
