"""A devnet stack for e2e tests and the benchmark: anvil + deployed suite + funded traders.

Uses the lead's offchain.deploy.deploy_suite over web3. Keys are anvil's well-known
devnet keys (derived from the public test mnemonic), handed over through the keeper's
key-spec mechanism (env:), never written into code paths of the service itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

from offchain.deploy import Deployment, Web3Deployer, deploy_suite
from offchain.order import address_of

USDC = 10**6


@dataclass
class DevStack:
    url: str
    keys: list[str]
    deployment: Deployment
    admin_key: str
    operator_key: str
    reporter_key: str
    trader_keys: list[str] = field(default_factory=list)

    def contracts(self) -> dict:
        d = self.deployment
        return {"exchange": d.exchange, "oracle": d.oracle, "usdc": d.usdc, "rebate": d.rebate_engine,
                "pool": d.pool, "factory": d.vault_factory, "funding": d.funding}

    def new_traders(self, count: int, deposit: int = 10_000_000 * USDC) -> list[str]:
        """`count` fresh accounts (new keys, gas ETH from the devnet, `deposit` USDC on the
        Exchange): for a test that needs accounts no earlier test on the shared stack
        traded with (its positions, funding snapshots and nonces are its own)."""
        from eth_account import Account

        w3 = Web3(Web3.HTTPProvider(self.url))
        admin = Web3Deployer(w3, self.admin_key)
        keys = []
        for _ in range(count):
            key = "0x" + bytes(Account.create().key).hex()
            w3.provider.make_request("anvil_setBalance", [address_of(key), hex(10**21)])
            fund(w3, self.deployment, admin, key, deposit)
            keys.append(key)
        return keys

    def write_deployment(self, path: Path) -> Path:
        path.write_text(json.dumps(self.contracts()))
        return path


def deploy_stack(url: str, keys: list[str], traders: int = 4, deposit: int = 10_000_000 * USDC) -> DevStack:
    """Keys: 0 admin, 1 operator, 2 reporter, 3 keeper agent, 4.. traders."""
    w3 = Web3(Web3.HTTPProvider(url))
    admin = Web3Deployer(w3, keys[0])
    deployment = deploy_suite(admin, operator=address_of(keys[1]), reporter=address_of(keys[2]),
                              keeper_agent=address_of(keys[3]))
    stack = DevStack(url, keys, deployment, keys[0], keys[1], keys[2], keys[4:4 + traders])
    for key in stack.trader_keys:
        fund(w3, deployment, admin, key, deposit)
    return stack


def fund(w3: Web3, deployment: Deployment, admin: Web3Deployer, key: str, amount: int) -> None:
    trader = Web3Deployer(w3, key)
    admin.transact("TestUSDC", deployment.usdc, "mint", trader.address, amount)
    trader.transact("TestUSDC", deployment.usdc, "approve", deployment.exchange, amount)
    trader.transact("Exchange", deployment.exchange, "deposit", amount)
