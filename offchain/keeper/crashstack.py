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
    # the test's LPs exit in the same run: no lock-up, no daily cap (both have their own tests)
    admin.transact("LiquidityPool", d.pool, "set_lockup", 0)
    admin.transact("LiquidityPool", d.pool, "set_daily_withdraw_limit", 10_000)
    for k in lp_keys:
        lp = Web3Deployer(w3, k)
        admin.transact("TestUSDC", d.usdc, "mint", lp.address, lp_deposit)
        lp.transact("TestUSDC", d.usdc, "approve", d.pool, lp_deposit)
        lp.send_call(pool.get_function_by_signature("deposit(uint256)")(lp_deposit))
    # one deposit_for per trader from the admin's minted USDC (3x fewer txs than each
    # trader minting, approving and depositing itself)
    total = sum(traders)
    admin.transact("TestUSDC", d.usdc, "mint", admin.address, total)
    admin.transact("TestUSDC", d.usdc, "approve", d.exchange, total)
    for k, amount in zip(trader_keys, traders):
        address = address_of(k)
        admin.transact("Exchange", d.exchange, "deposit_for", address, amount)
        stack.collateral[address] = amount
    return stack


# ------------------------------------------------------------------ the crash scenario
# 52 longs of 5 ETH at 2,000 (10,000 USDC notional each) on 1,060 .. 4,120 USDC of
# collateral (9.4x .. 2.4x), two short whales on the other side; the oracle then falls 40%
# (2,000 -> 1,200) in 2% steps, so every long breaches maintenance at some step, the
# most levered first. The 2% step is what a prompt liquidator needs to close each account
# with equity left (a 5% step would leave the 9x accounts bankrupt: bad debt, which the
# Exchange's insurance fund / ADL paths cover, docs/liquidation.md).
ONE = 10**18
LONG_SIZE = 5 * ONE
ENTRY = 2_000 * USDC
N_LONGS = 52
N_WHALES = 2
WHALE_DEPOSIT = 1_000_000 * USDC


def long_collateral(i: int) -> int:
    return (1_060 + 60 * i) * USDC


def crash_traders(n_longs: int = N_LONGS, whales: int = N_WHALES) -> list[int]:
    return [long_collateral(i) for i in range(n_longs)] + [WHALE_DEPOSIT] * whales


def crash_prices(start: int = ENTRY, end: int = 1_200 * USDC, step_bps: int = 200) -> list[int]:
    """start * (1 - k * step) down to end (exact, on the 0.01 USDC tick)."""
    out, k = [], 1
    while True:
        p = start - start * step_bps * k // 10_000
        if p < end:
            return out
        out.append(p - p % 10_000)
        k += 1


def keeper_toml(path, *, liquidation: bool = True) -> str:
    """A keeper config file: the pool's agent key from MMX_POOL_AGENT_KEY, the liquidation
    runners on; everything else from the MMX_* environment."""
    path.write_text(
        '[keys]\noperator = "env:MMX_OPERATOR_KEY"\nagents = ["env:MMX_POOL_AGENT_KEY"]\n\n'
        f"[runners]\nliquidation = {'true' if liquidation else 'false'}\n"
        f"backstop_unwind = {'true' if liquidation else 'false'}\n")
    return str(path)


def open_crash_positions(url: str, stack: CrashStack, size: int = LONG_SIZE, price: int = ENTRY) -> int:
    """Through the keeper's API: the whales rest sells, each long takes one (IOC). Returns
    the number of fills."""
    from offchain.client import KeeperClient

    longs = stack.trader_keys[:-N_WHALES]
    whales = stack.trader_keys[-N_WHALES:]
    per_whale = -(-len(longs) // len(whales))
    for w in whales:
        with KeeperClient(url, w) as c:
            acks = c.place_batch([c.order(1, False, price, size) for _ in range(per_whale)])
            assert all(a["status"] == "accepted" for a in acks), acks
    fills = 0
    for k in longs:
        with KeeperClient(url, k) as c:
            (ack,) = c.place_batch([c.order(1, True, price, size)], tif="IOC")
            assert ack["status"] == "accepted", ack
            fills += ack["fills"]
    return fills


def breach_blocks(exchange, accounts: list[str], blocks: list[int]) -> dict[str, int]:
    """For each account, the first of `blocks` (the price-update blocks) at whose end it
    was below maintenance (historical eth_calls; anvil keeps every state)."""
    out = {}
    for a in accounts:
        for b in blocks:
            eq = exchange.functions.equity(a).call(block_identifier=b)
            req = exchange.functions.margin_requirement(a, False).call(block_identifier=b)
            if req > 0 and eq < req:
                out[a] = b
                break
    return out


def start_keeper_process(stack: CrashStack, workdir, db_url: str, port: int, *, agent_key: str,
                         crash: str | None = None, tag: str = "1", timeout: float = 60.0):
    """The real keeper as a subprocess (`python -m offchain.keeper`), liquidation runners
    on, the pool's agent key held; returns the Popen once its API is up."""
    import json

    from .process import keeper_env, start_keeper

    deployment = workdir / "deployment.json"
    deployment.write_text(json.dumps(stack.contracts()))
    env = keeper_env(stack.url, db_url, port, deployment, stack.operator_key, crash=crash,
                     keeper_config=keeper_toml(workdir / "keeper.toml"), pool_agent_key=agent_key,
                     poll_interval=0.1, batch_max_wait_ms=5, rate=100_000, burst=100_000)
    return start_keeper(env, workdir, tag, timeout=timeout)


def report_price(w3, stack: CrashStack, reporter, market: int, price: int) -> int:
    """One oracle update from the reporter key; the block it was mined in."""
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    return reporter.send_call(oracle.functions.set_price(market, price), gas=200_000)["blockNumber"]


def interval_mining(w3, seconds: int | None) -> None:
    """A block every `seconds` (several txs per block, as on a real chain), or automine (None)."""
    if seconds is None:
        w3.provider.make_request("evm_setAutomine", [True])
    else:
        w3.provider.make_request("evm_setAutomine", [False])
        w3.provider.make_request("evm_setIntervalMining", [seconds])


# ---------------------------------------------------------------- block-driven mining
# Tests do not let blocks come with the wall clock (a loaded machine would then miss a
# "within 2 blocks" bound for no fault of the keeper's): automine off, the test mines each
# block itself once the keeper has processed the previous one (the runner's
# processed_block, GET /risk). The bench keeps interval_mining: it measures latency.
def manual_mining(w3) -> None:
    """Blocks only when mine() is called (transactions wait in the mempool)."""
    w3.provider.make_request("evm_setAutomine", [False])


def mine(w3) -> int:
    """Mine one block with everything in the mempool; its number."""
    w3.provider.make_request("evm_mine", [])
    return w3.eth.block_number


def send_price(w3, stack: CrashStack, market: int, price: int) -> str:
    """One oracle update from the reporter key into the mempool (not waited for); its hash."""
    from eth_account import Account

    reporter = Account.from_key(stack.reporter_key)
    oracle = w3.eth.contract(address=stack.deployment.oracle, abi=abi("Oracle"))
    tx = oracle.functions.set_price(market, price).build_transaction({
        "from": reporter.address, "nonce": w3.eth.get_transaction_count(reporter.address, "pending"),
        "gas": 200_000, "maxFeePerGas": w3.eth.gas_price * 2, "maxPriorityFeePerGas": 0,
        "chainId": w3.eth.chain_id})
    return "0x" + bytes(w3.eth.send_raw_transaction(reporter.sign_transaction(tx).raw_transaction)).hex()


def mine_price(w3, stack: CrashStack, market: int, price: int) -> int:
    """A price update mined in a block of its own making (with whatever else is pending);
    that block's number."""
    tx_hash = send_price(w3, stack, market, price)
    block = mine(w3)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == block, receipt
    return block
