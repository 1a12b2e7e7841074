"""Deploy the whole MMX suite: one sequence, two ways to send it.

`deploy_suite` is the only place that knows the order of deployment and wiring (roles,
markets, fees, backstop, pool grid, vault blueprint). It runs through a `Deployer`:
`Web3Deployer` (a private key and a JSON-RPC URL: `make run`, e2e tests, benchmarks)
or `ApeDeployer` (an account from Ape's account manager on any `--network`:
`ape run deploy`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eth_utils import keccak as _keccak

from offchain.artifacts import artifact
from offchain.gas import gas_limit

USDC = 10**6
BASE = 10**18


def role(name: str) -> bytes:
    """An access_control role id: keccak256 of its name."""
    return _keccak(text=name)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    symbol: str
    tick: int
    lot: int
    min_size: int
    initial_margin_bps: int
    maintenance_margin_bps: int
    band_bps: int
    initial_price: int
    # the pool's grid on this market
    grid_levels: int = 10
    grid_spacing_bps: int = 30  # HIP-2's 0.3% geometric step
    grid_size_per_level: int = 0


DEFAULT_MARKETS = (
    MarketSpec(
        symbol="ETH-PERP", tick=10_000, lot=10**15, min_size=10**15,
        initial_margin_bps=1_000, maintenance_margin_bps=500, band_bps=500,
        initial_price=2_000 * USDC, grid_size_per_level=10**17,
    ),
    MarketSpec(
        symbol="BTC-PERP", tick=100_000, lot=10**14, min_size=10**14,
        initial_margin_bps=1_000, maintenance_margin_bps=500, band_bps=500,
        initial_price=60_000 * USDC, grid_size_per_level=5 * 10**15,
    ),
)


@dataclass(frozen=True, slots=True)
class SuiteConfig:
    markets: tuple[MarketSpec, ...] = DEFAULT_MARKETS
    # (min 30-day volume in USDC units, taker fee bps, maker rebate bps)
    fee_tiers: tuple[tuple[int, int, int], ...] = (
        (0, 5, 1),
        (1_000_000 * USDC, 4, 1),
        (10_000_000 * USDC, 3, 2),
    )
    pool_fee_share_bps: int = 5_000
    oracle_max_move_bps: int = 1_000
    oracle_max_age: int = 3_600
    oracle_breaker_bps: int = 2_000
    oracle_breaker_window: int = 300
    pool_deposit_cap: int = 100_000_000 * USDC
    liquidation_penalty_bps: int = 100
    # funding (docs/funding.md): interval per market and the cap, 4 % an hour scaled
    funding_interval_s: int = 3_600


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    usdc: str
    oracle: str
    rebate_engine: str
    exchange: str
    pool: str
    vault_blueprint: str
    vault_factory: str
    admin: str
    operator: str
    reporter: str
    keeper_agent: str
    markets: dict[int, str] = field(default_factory=dict)  # id -> symbol
    funding: str = ""  # the Funding contract (index per market); "" in older deployment files

    def save(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path | str) -> "Deployment":
        data = json.loads(Path(path).read_text())
        data["markets"] = {int(k): v for k, v in data.get("markets", {}).items()}
        return cls(**data)


class Deployer(Protocol):
    """Sends deployments and calls from one account."""

    address: str

    def chain_id(self) -> int: ...

    def deploy(self, name: str, *args: Any) -> str: ...

    def declare(self, name: str) -> str:
        """Deploy `name` as an ERC-5202 blueprint; return its address."""
        ...

    def transact(self, name: str, address: str, function: str, *args: Any) -> None: ...


def deploy_suite(
    deployer: Deployer,
    *,
    operator: str,
    reporter: str,
    keeper_agent: str,
    treasury: str | None = None,
    config: SuiteConfig = SuiteConfig(),
) -> Deployment:
    """Deploy and wire every contract; the deployer becomes admin of each.

    The deployer also gets the reporter role so that it can publish each market's first
    price (an Exchange market needs a mark before anything settles); the keeper's feed,
    signing as `reporter`, takes over from there.
    """
    admin = deployer.address
    treasury = treasury or admin
    usdc = deployer.deploy("TestUSDC")
    oracle = deployer.deploy(
        "Oracle", config.oracle_max_move_bps, config.oracle_max_age,
        config.oracle_breaker_bps, config.oracle_breaker_window,
    )
    rebate = deployer.deploy("RebateEngine", [list(tier) for tier in config.fee_tiers])
    # the risk engine code the Exchange runs by DELEGATECALL (exchange.risk_logic()), and
    # the sub-account code the risk engine runs the same way (docs/subaccounts.md)
    accounts_logic = deployer.deploy("ExchangeAccounts", usdc, oracle)
    risk_logic = deployer.deploy("ExchangeRisk", usdc, oracle, accounts_logic)
    exchange = deployer.deploy("Exchange", usdc, oracle, rebate, treasury, risk_logic)
    pool = deployer.deploy("LiquidityPool", usdc, exchange, config.pool_deposit_cap)
    blueprint = deployer.declare("Vault")
    factory = deployer.deploy("VaultFactory", blueprint, exchange, usdc, keeper_agent)

    for account in {reporter, admin}:
        deployer.transact("Oracle", oracle, "grantRole", role("REPORTER_ROLE"), account)
    deployer.transact("Oracle", oracle, "grantRole", role("GUARDIAN_ROLE"), admin)
    deployer.transact("Exchange", exchange, "grantRole", role("OPERATOR_ROLE"), operator)
    deployer.transact("Exchange", exchange, "grantRole", role("PAUSER_ROLE"), admin)
    deployer.transact("Exchange", exchange, "set_backstop", pool)
    deployer.transact(
        "Exchange", exchange, "set_fee_config", pool, config.pool_fee_share_bps, treasury
    )
    deployer.transact(
        "Exchange", exchange, "set_liquidation_penalty", config.liquidation_penalty_bps
    )

    markets: dict[int, str] = {}
    for market_id, spec in enumerate(config.markets, start=1):
        deployer.transact(
            "Exchange", exchange, "add_market", spec.tick, spec.lot, spec.min_size,
            spec.initial_margin_bps, spec.maintenance_margin_bps, spec.band_bps,
        )
        deployer.transact("Oracle", oracle, "set_price", market_id, spec.initial_price)
        if spec.grid_size_per_level:
            deployer.transact(
                "LiquidityPool", pool, "set_grid", market_id, spec.grid_levels,
                spec.grid_spacing_bps, spec.grid_size_per_level, True,
            )
        markets[market_id] = spec.symbol
    deployer.transact("LiquidityPool", pool, "set_agent", keeper_agent, True)
    funding = deploy_funding(deployer, oracle, operator, list(markets), config.funding_interval_s)
    # every position settles funding against its index (docs/funding.md)
    deployer.transact("Exchange", exchange, "set_funding", funding)

    return Deployment(
        chain_id=deployer.chain_id(), usdc=usdc, oracle=oracle, rebate_engine=rebate,
        exchange=exchange, pool=pool, vault_blueprint=blueprint, vault_factory=factory,
        admin=admin, operator=operator, reporter=reporter, keeper_agent=keeper_agent,
        markets=markets, funding=funding,
    )


def deploy_funding(deployer: Deployer, oracle: str, operator: str, markets: list[int], interval_s: int) -> str:
    """The Funding contract: the operator (keeper) submits rates, each market has
    `interval_s` intervals and Hyperliquid's 4 %-an-hour cap scaled to them."""
    from offchain.funding import default_cap

    funding = deployer.deploy("Funding", oracle)
    deployer.transact("Funding", funding, "grantRole", role("FUNDING_ROLE"), operator)
    for market_id in markets:
        deployer.transact("Funding", funding, "set_funding_config", market_id, interval_s, default_cap(interval_s))
    return funding


def blueprint_initcode(bytecode: bytes) -> bytes:
    """ERC-5202 blueprint initcode as Vyper's create_from_blueprint expects.

    The deployed code is 0xFE71 00 + the contract's initcode (0xFE makes it
    uncallable); the prefix returns it as the runtime code.
    """
    body = b"\xfe\x71\x00" + bytecode
    # PUSH2 len, RETURNDATASIZE, DUP2, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURN
    return b"\x61" + len(body).to_bytes(2, "big") + bytes.fromhex("3d81600a3d39f3") + body


class Web3Deployer:
    """Deploys with a raw private key over JSON-RPC (web3.py)."""

    def __init__(self, w3, private_key: str):
        from eth_account import Account

        self.w3 = w3
        self.account = Account.from_key(private_key)
        self.address = self.account.address
        self._nonce = w3.eth.get_transaction_count(self.address, "pending")

    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def _send(self, tx: dict) -> dict:
        tx.setdefault("from", self.address)
        tx["nonce"] = self._nonce
        tx["chainId"] = self.w3.eth.chain_id
        tx.setdefault("gas", gas_limit(self.w3.eth.estimate_gas(tx)))
        fee = self.w3.eth.gas_price
        tx.setdefault("maxFeePerGas", fee * 2)
        tx.setdefault("maxPriorityFeePerGas", 0)
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonce += 1
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction failed: {tx_hash.hex()} ({self._revert_reason(tx, receipt)})")
        return receipt

    def _revert_reason(self, tx: dict, receipt: dict) -> str:
        """Why a mined transaction reverted: the node's own trace of it where the node can
        trace (anvil), else the same call replayed on the state before its block."""
        used = f"gas used {receipt['gasUsed']} of {tx.get('gas')}"
        try:
            trace = self.w3.provider.make_request(
                "debug_traceTransaction", ["0x" + bytes(receipt["transactionHash"]).hex(), {"tracer": "callTracer"}])
            frame = trace.get("result") or {}
        except Exception:  # noqa: BLE001 - a node without debug_* still gets the replay
            frame = {}
        if frame:
            path = []
            while True:
                reason = frame.get("revertReason")
                path.append(f"{frame.get('to')}:{frame.get('error') or 'ok'}{' ' + repr(reason) if reason else ''}")
                failed = [c for c in frame.get("calls") or [] if c.get("error")]
                if not failed:
                    break
                frame = failed[-1]
            return f"{used}; trace: {' > '.join(path)}"
        call = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)
        except Exception as exc:  # noqa: BLE001 - the reason is all we want from it
            return f"{used}; replayed: {exc}"
        return f"{used}; the replay on block {receipt['blockNumber'] - 1} did not revert: a time- or order-dependent revert"

    def deploy(self, name: str, *args: Any) -> str:
        art = artifact(name)
        contract = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        tx = contract.constructor(*args).build_transaction(
            {"from": self.address, "nonce": self._nonce, "gas": 1}
        )
        del tx["gas"]  # build_transaction's own estimate has no headroom (see offchain.gas)
        receipt = self._send(tx)
        return receipt["contractAddress"]

    def declare(self, name: str) -> str:
        initcode = blueprint_initcode(bytes.fromhex(artifact(name).bytecode.removeprefix("0x")))
        receipt = self._send({"data": "0x" + initcode.hex()})
        return receipt["contractAddress"]

    def transact(self, name: str, address: str, function: str, *args: Any) -> None:
        contract = self.w3.eth.contract(address=address, abi=artifact(name).abi)
        self.send_call(getattr(contract.functions, function)(*args))

    def send_call(self, call, gas: int | None = None) -> dict:
        """Send a bound contract call (`contract.functions.f(args)`); its receipt.

        The limit is `gas` if given, else the estimate with the project's headroom
        (offchain.gas) - never web3's bare estimate, which build_transaction would fill in.
        """
        tx = call.build_transaction({"from": self.address, "nonce": self._nonce, "gas": gas or 1})
        if gas is None:
            del tx["gas"]
        return self._send(tx)


class ApeDeployer:
    """Deploys with an account from Ape's account manager on Ape's active network."""

    def __init__(self, account):
        self.account = account
        self.address = account.address

    def chain_id(self) -> int:
        from ape import chain

        return chain.chain_id

    def deploy(self, name: str, *args: Any) -> str:
        from ape import project

        return project.get_contract(name).deploy(*args, sender=self.account).address

    def declare(self, name: str) -> str:
        from ape import networks

        # The same ERC-5202 initcode as the web3 path; Ape's own `declare` fails gas
        # estimation on anvil ("insufficient funds"), a plain creation transaction does not.
        initcode = blueprint_initcode(bytes.fromhex(artifact(name).bytecode.removeprefix("0x")))
        txn = networks.ecosystem.create_transaction(data=initcode, sender=self.account.address)
        return self.account.call(txn).contract_address

    def transact(self, name: str, address: str, function: str, *args: Any) -> None:
        from ape import project

        contract = project.get_contract(name).at(address)
        getattr(contract, function)(*args, sender=self.account)
