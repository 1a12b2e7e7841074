"""A devnet for liquidation tests and the liquidation bench: the suite deployed with an
oracle that allows crash-sized moves, an LP-funded pool (the backstop), and many
leveraged accounts with chosen collateral (keys from anvil's test mnemonic).

Positions are opened through the keeper (signed orders over its API), so the keeper's
view knows every account, as in production; this module only deploys and funds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3

from offchain.artifacts import abi
from offchain.deploy import Deployment, SuiteConfig, Web3Deployer, deploy_suite
from offchain.order import address_of

USDC = 10**6

# a 40% crash in 5% steps over a minute must not trip the default breaker (20% in 300 s):
# the test is about liquidations, the breaker has its own tests
CRASH_SUITE = SuiteConfig(oracle_max_move_bps=2_000, oracle_breaker_bps=5_000, oracle_breaker_window=1)


@dataclass
class CrashStack:
    url: str
    deployment: Deployment
    admin_key: str
    operator_key: str
    reporter_key: str
    lp_keys: list[str]
    trader_keys: list[str]
    collateral: dict[str, int] = field(default_factory=dict)  # address -> deposited USDC units

    def contracts(self) -> dict:
        d = self.deployment
        return {"exchange": d.exchange, "oracle": d.oracle, "usdc": d.usdc, "rebate": d.rebate_engine,
                "pool": d.pool, "factory": d.vault_factory}


def deploy_crash_stack(url: str, keys: list[str], *, lps: int, traders: list[int],
                       lp_deposit: int = 2_000_000 * USDC, config: SuiteConfig = CRASH_SUITE) -> CrashStack:
    """Keys: 0 admin, 1 operator, 2 reporter, 3 keeper agent, then `lps` LPs, then one key
    per entry of `traders` (its Exchange deposit in USDC units)."""
    w3 = Web3(Web3.HTTPProvider(url))
    admin = Web3Deployer(w3, keys[0])
    d = deploy_suite(admin, operator=address_of(keys[1]), reporter=address_of(keys[2]),
                     keeper_agent=address_of(keys[3]), config=config)
    lp_keys = keys[4:4 + lps]
    trader_keys = keys[4 + lps:4 + lps + len(traders)]
    assert len(trader_keys) == len(traders), "not enough anvil accounts"
    stack = CrashStack(url, d, keys[0], keys[1], keys[2], lp_keys, trader_keys)
    pool = w3.eth.contract(address=d.pool, abi=abi("LiquidityPool"))
    for k in lp_keys:
        lp = Web3Deployer(w3, k)
        admin.transact("TestUSDC", d.usdc, "mint", lp.address, lp_deposit)
        lp.transact("TestUSDC", d.usdc, "approve", d.pool, lp_deposit)
        lp._send(pool.get_function_by_signature("deposit(uint256)")(lp_deposit).build_transaction(
            {"from": lp.address, "nonce": lp._nonce}))
    for k, amount in zip(trader_keys, traders):
        t = Web3Deployer(w3, k)
        admin.transact("TestUSDC", d.usdc, "mint", t.address, amount)
        t.transact("TestUSDC", d.usdc, "approve", d.exchange, amount)
        t.transact("Exchange", d.exchange, "deposit", amount)
        stack.collateral[t.address] = amount
    return stack
