"""deploy_suite against a real anvil, and `ape run deploy` as a user runs it."""

import json
import subprocess

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.deploy import DEFAULT_MARKETS, Deployment, Web3Deployer, role
from offchain.devnet import PROJECT_ROOT, project_env


def contract(w3, name, address):
    return w3.eth.contract(address=address, abi=abi(name))


def test_deploy_suite__fresh_anvil__roles_wired(devnet):
    w3, _, addresses, deployment = devnet
    exchange = contract(w3, "Exchange", deployment.exchange)
    oracle = contract(w3, "Oracle", deployment.oracle)
    rebate = contract(w3, "RebateEngine", deployment.rebate_engine)
    assert exchange.functions.hasRole(role("OPERATOR_ROLE"), addresses[1]).call()
    assert not exchange.functions.hasRole(role("OPERATOR_ROLE"), addresses[4]).call()
    assert oracle.functions.hasRole(role("REPORTER_ROLE"), addresses[2]).call()
    # the engine has no role for the Exchange to hold: only its admin (the deployer)
    admin = rebate.functions.DEFAULT_ADMIN_ROLE().call()
    assert rebate.functions.hasRole(admin, addresses[0]).call()
    assert not rebate.functions.hasRole(admin, deployment.exchange).call()


def test_deploy_suite__fresh_anvil__markets_priced_and_pool_is_backstop(devnet):
    w3, _, addresses, deployment = devnet
    exchange = contract(w3, "Exchange", deployment.exchange)
    oracle = contract(w3, "Oracle", deployment.oracle)
    pool = contract(w3, "LiquidityPool", deployment.pool)
    assert exchange.functions.market_count().call() == len(DEFAULT_MARKETS)
    for market_id, spec in enumerate(DEFAULT_MARKETS, start=1):
        price, _, halted = oracle.functions.price_info(market_id).call()
        assert (price, halted) == (spec.initial_price, False)
        assert pool.functions.grid(market_id).call()[0] == spec.grid_levels
    assert exchange.functions.backstop().call() == deployment.pool
    assert exchange.functions.fee_recipient().call() == deployment.pool
    assert exchange.functions.is_agent(deployment.pool, addresses[3]).call()


def test_deploy_suite__factory__creates_vault_from_blueprint(devnet):
    w3, keys, addresses, deployment = devnet
    Web3Deployer(w3, keys[5]).transact(
        "VaultFactory", deployment.vault_factory, "create_vault", "Alpha", addresses[6]
    )
    factory = contract(w3, "VaultFactory", deployment.vault_factory)
    vault = contract(w3, "Vault", factory.functions.vaults(0).call())
    assert vault.functions.owner().call() == addresses[5]
    assert vault.functions.manager().call() == addresses[6]


def test_deployment__save_and_load__round_trips(devnet, tmp_path):
    deployment = devnet[3]
    deployment.save(tmp_path / "d.json")
    assert Deployment.load(tmp_path / "d.json") == deployment


def test_ape_run_deploy__test_network__writes_addresses(tmp_path):
    out = tmp_path / "deployment.json"
    result = subprocess.run(
        ["ape", "run", "deploy", "--network", "ethereum:local:test", "--account", "TEST::0",
         "--out", str(out)],
        cwd=PROJECT_ROOT, env=project_env(), capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads(out.read_text())
    assert Web3.is_checksum_address(written["exchange"])
    assert written["markets"] == {"1": "ETH-PERP", "2": "BTC-PERP"}
