"""A deployed suite on a fresh anvil, one per test module (deploy_suite as the main job and
`ape run deploy` run it): roles admin 0, operator 1, reporter 2, keeper agent 3."""

import pytest
from eth_account import Account
from web3 import Web3

from offchain.deploy import Web3Deployer, deploy_suite
from offchain.devnet import Anvil


@pytest.fixture(scope="module")
def devnet():
    """(w3, keys, addresses, deployment)."""
    with Anvil(accounts=8) as anvil:
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        keys = anvil.private_keys()
        addresses = [Account.from_key(key).address for key in keys]
        deployment = deploy_suite(
            Web3Deployer(w3, keys[0]),
            operator=addresses[1], reporter=addresses[2], keeper_agent=addresses[3],
        )
        yield w3, keys, addresses, deployment
