"""Keeper configuration: a TOML file plus environment overrides, as frozen dataclasses.

File (every key optional; defaults below):

    [chain]
    rpc_url = "http://127.0.0.1:8545"
    confirmations = 2
    poll_interval = 0.5
    deployment = "deployment.json"      # addresses (see Contracts); or [contracts] inline

    [contracts]
    exchange = "0x..."
    oracle = "0x..."

    [keys]
    operator = "keyfile:~/.ape/accounts/op.json"   # or "env:MMX_OPERATOR_KEY"
    reporter = "env:MMX_REPORTER_KEY"               # defaults to the operator
    agents = ["keyfile:/path/agent.json"]

    [settlement]
    max_fills = 64
    max_wait_ms = 20
    max_inflight = 4

    [oracle]
    source = "random"          # random | csv | none
    seed = 1
    csv_path = ""
    interval = 1.0
    markets = [1]

    [api]
    host = "127.0.0.1"
    port = 8080
    rate = 2000.0              # orders (and cancels) per second per account
    burst = 4000

    [journal]
    url = "sqlite:///keeper.db"

    [funding]                  # the funding runner (docs/funding.md)
    enabled = false
    interval_s = 3600

    [runners]
    pool = false               # run the liquidity pool's grid
    vaults = false             # run every factory vault's strategy we hold the agent key of
    liquidation = false        # liquidate accounts below maintenance (docs/liquidation.md)
    backstop_unwind = false    # the pool's positions leave through the book (docs/liquidation.md)

    [liquidation]              # the liquidation runner's policy, within the Exchange's bounds
    book = true                # book steps first (liquidation orders), the backstop below 2/3
    max_step_bps = 2000        # <= 20% of a position over 100k USDC per book step
    buffer_bps = 500           # close until equity >= maintenance * 1.05
    slippage_bps = 100         # a book step's limit: mark -/+ 1%
    cooldown_s = 2.0           # between book steps of one account (>= the chain's 1 s)

Environment overrides (applied after the file): MMX_RPC_URL, MMX_DB_URL, MMX_API_HOST,
MMX_API_PORT, MMX_DEPLOYMENT, MMX_OPERATOR_KEY_SPEC, MMX_REPORTER_KEY_SPEC,
MMX_CONFIRMATIONS, MMX_BATCH_MAX_FILLS, MMX_BATCH_MAX_WAIT_MS, MMX_MAX_INFLIGHT,
MMX_ORACLE_SOURCE, MMX_ORACLE_SEED, MMX_ORACLE_CSV, MMX_ORACLE_INTERVAL, MMX_RATE,
MMX_BURST, MMX_FUNDING, MMX_FUNDING_INTERVAL. Key material itself never lives in the file: a key spec points at a key
file (an encrypted JSON keystore such as Ape's ~/.ape/accounts/<alias>.json, passphrase
from MMX_KEY_PASSPHRASE or <spec>?passphrase_env=NAME) or at an environment variable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True, slots=True)
class Contracts:
    chain_id: str = ""  # from a deployment JSON (offchain.deploy.Deployment); checked at start
    exchange: str = ""
    oracle: str = ""
    usdc: str = ""
    rebate: str = ""
    pool: str = ""
    factory: str = ""
    funding: str = ""  # contracts/Funding.vy (docs/funding.md)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Contracts":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: str(v) for k, v in data.items() if k in names and v})


@dataclass(frozen=True, slots=True)
class ChainConfig:
    rpc_url: str = "http://127.0.0.1:8545"
    confirmations: int = 2
    poll_interval: float = 0.5
    # First block the watcher reads when no cursor is journaled yet.
    start_block: int = 0
    gas_limit_per_fill: int = 400_000
    gas_limit_base: int = 200_000
    receipt_timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class KeysConfig:
    operator: str = "env:MMX_OPERATOR_KEY"
    reporter: str = ""  # empty: the operator reports prices too
    agents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SettlementConfig:
    max_fills: int = 64  # Exchange.settle takes DynArray[Fill, 64]
    max_wait_ms: float = 20.0
    max_inflight: int = 4
    max_retries: int = 5


@dataclass(frozen=True, slots=True)
class OracleConfig:
    source: str = "none"  # none | random | csv
    seed: int = 1
    csv_path: str = ""
    interval: float = 1.0
    markets: tuple[int, ...] = (1,)
    max_step_bps: int = 20


@dataclass(frozen=True, slots=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    rate: float = 2000.0
    burst: int = 4000
    max_batch: int = 1000
    cancel_window_s: int = 60
    # cheap limits in front of parsing and signatures (docs/api.md, "Limits")
    max_body_bytes: int = 1 << 20
    client_rate: float = 20_000.0   # per client IP: requests + WS messages + orders per second
    client_burst: float = 40_000.0
    ws_rate: float = 2_000.0        # messages per second per WebSocket connection
    ws_burst: float = 4_000.0
    ws_max_inflight: int = 16
    ws_max_queue: int = 10_000
    ws_stall_s: float = 10.0        # a full outgoing queue the peer took nothing from: shed
    ws_close_wait_s: float = 5.0    # a close frame waits this long for a peer that does not read
    ws_max_connections: int = 1_000  # open WebSockets per client IP
    ws_max_accounts: int = 256      # accounts one connection may authenticate as
    # slow and idle HTTP clients (http_server.py; docs/api.md "Slow and idle clients")
    head_timeout_s: float = 10.0     # a request head complete this long after connect / the last response
    body_timeout_s: float = 30.0     # its body complete this long after the head
    send_stall_s: float = 30.0       # a response buffered over 64 KiB must drain within this long
    http_max_connections: int = 1_000  # open HTTP connections per client IP
    # recover order signatures on a worker thread (gateway.RecoveryThread): pays with a free core
    recovery_thread: bool = True


@dataclass(frozen=True, slots=True)
class RunnersConfig:
    """Which strategy runners the keeper starts (docs/runners.md)."""

    pool: bool = False  # the liquidity pool's grid, signed with its agent key
    vaults: bool = False  # every factory vault whose agent key the keeper holds
    liquidation: bool = False  # the liquidation runner (docs/liquidation.md)
    backstop_unwind: bool = False  # unwind the pool's positions through the book (docs/liquidation.md)


@dataclass(frozen=True, slots=True)
class FundingConfig:
    """The funding runner (docs/funding.md): off unless enabled."""

    enabled: bool = False
    interval_s: int = 3600   # must equal the Exchange's funding interval
    sample_s: int = 5
    impact_notional: int = 10_000 * 10**6
    markets: tuple[int, ...] = (1,)

    def params(self):
        from offchain.funding import FundingParams

        p = FundingParams(interval_s=self.interval_s, sample_s=self.sample_s, impact_notional=self.impact_notional)
        return {market: p for market in self.markets}


@dataclass(frozen=True, slots=True)
class LiquidationConfig:
    """The liquidation runner's policy (docs/liquidation.md). Each value must stay within
    the Exchange's own bounds (contracts/ledger.vy), or the chain would skip its steps."""

    book: bool = True                 # BOOK steps through the book (False: every step via liquidate)
    max_step_bps: int = 2_000         # <= LIQ_STEP_BPS
    buffer_bps: int = 500             # close until equity >= maintenance * (1 + buffer)
    slippage_bps: int = 100           # a book step's limit price: mark -/+ this (inside the band)
    backstop_bps: int = 6_667         # >= LIQ_BACKSTOP_BPS: below it, the backstop
    whole_below_notional: int = 100_000 * 10**6  # <= LIQ_WHOLE_NOTIONAL: closes in one step
    cooldown_s: float = 2.0           # >= LIQ_COOLDOWN (1 s) between book steps of an account
    near_bps: int = 2_000             # scan on marks / fills the accounts this close to maintenance
    full_scan_s: float = 5.0

    def params(self):
        from offchain.risk.liquidation import LiquidationParams

        if not (0 < self.max_step_bps <= 2_000 and 6_667 <= self.backstop_bps <= 10_000
                and 0 < self.whole_below_notional <= 100_000 * 10**6 and self.cooldown_s >= 1
                and 0 <= self.slippage_bps < 10_000 and self.buffer_bps >= 0):
            raise ValueError(f"liquidation settings outside the Exchange's bounds: {self}")
        return LiquidationParams(max_step_bps=self.max_step_bps, buffer_bps=self.buffer_bps,
                                 slippage_bps=self.slippage_bps, backstop_bps=self.backstop_bps,
                                 whole_below_notional=self.whole_below_notional, cooldown_s=self.cooldown_s)


@dataclass(frozen=True, slots=True)
class JournalConfig:
    url: str = "sqlite:///keeper.db"
    # a snapshot of the sequencer's live state every this many commands (restart replays
    # only the commands after the newest one: about 5,000 commands/s); 0 = never
    snapshot_every: int = 10_000
    # PostgreSQL only (failover, docs/keeper.md): the leader lock's session ends after this
    # many seconds without a heartbeat (a paused or partitioned leader loses leadership);
    # a standby tries the lock every standby_poll_s
    lease_s: float = 5.0
    standby_poll_s: float = 0.2


@dataclass(frozen=True, slots=True)
class KeeperConfig:
    chain: ChainConfig = field(default_factory=ChainConfig)
    contracts: Contracts = field(default_factory=Contracts)
    keys: KeysConfig = field(default_factory=KeysConfig)
    settlement: SettlementConfig = field(default_factory=SettlementConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    runners: RunnersConfig = field(default_factory=RunnersConfig)
    funding: FundingConfig = field(default_factory=FundingConfig)
    liquidation: LiquidationConfig = field(default_factory=LiquidationConfig)

    def replace(self, **sections: Any) -> "KeeperConfig":
        return dataclasses.replace(self, **sections)


def _section(cls: type, data: Mapping[str, Any] | None) -> Any:
    data = dict(data or {})
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data.pop(f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, tuple) or isinstance(value, list):
            value = tuple(value)
        elif isinstance(default, bool):
            value = bool(value)
        elif isinstance(default, int):
            value = int(value)
        elif isinstance(default, float):
            value = float(value)
        kwargs[f.name] = value
    if data:
        raise ValueError(f"unknown keys in [{cls.__name__}]: {sorted(data)}")
    return cls(**kwargs)


_ENV: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "MMX_RPC_URL": ("chain", "rpc_url", str),
    "MMX_CONFIRMATIONS": ("chain", "confirmations", int),
    "MMX_POLL_INTERVAL": ("chain", "poll_interval", float),
    "MMX_GAS_LIMIT_PER_FILL": ("chain", "gas_limit_per_fill", int),
    "MMX_DB_URL": ("journal", "url", str),
    "MMX_LEASE_S": ("journal", "lease_s", float),
    "MMX_API_HOST": ("api", "host", str),
    "MMX_API_PORT": ("api", "port", int),
    "MMX_RATE": ("api", "rate", float),
    "MMX_BURST": ("api", "burst", int),
    "MMX_RECOVERY_THREAD": ("api", "recovery_thread", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_OPERATOR_KEY_SPEC": ("keys", "operator", str),
    "MMX_REPORTER_KEY_SPEC": ("keys", "reporter", str),
    "MMX_BATCH_MAX_FILLS": ("settlement", "max_fills", int),
    "MMX_BATCH_MAX_WAIT_MS": ("settlement", "max_wait_ms", float),
    "MMX_MAX_INFLIGHT": ("settlement", "max_inflight", int),
    "MMX_ORACLE_SOURCE": ("oracle", "source", str),
    "MMX_ORACLE_SEED": ("oracle", "seed", int),
    "MMX_ORACLE_CSV": ("oracle", "csv_path", str),
    "MMX_ORACLE_INTERVAL": ("oracle", "interval", float),
    "MMX_RUN_POOL": ("runners", "pool", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_RUN_VAULTS": ("runners", "vaults", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_RUN_LIQUIDATION": ("runners", "liquidation", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_RUN_BACKSTOP_UNWIND": ("runners", "backstop_unwind", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_FUNDING": ("funding", "enabled", lambda v: v.lower() in ("1", "true", "yes")),
    "MMX_FUNDING_INTERVAL": ("funding", "interval_s", int),
}


def load_deployment(path: str | Path) -> Contracts:
    """Addresses from a deployment JSON (scripts/deploy.py writes one)."""
    data = json.loads(Path(path).expanduser().read_text())
    data = dict(data.get("contracts", data))
    # offchain.deploy.Deployment names
    for long, short in (("rebate_engine", "rebate"), ("vault_factory", "factory")):
        if long in data and short not in data:
            data[short] = data[long]
    return Contracts.from_mapping(data)


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> KeeperConfig:
    """The configuration from `path` (TOML; optional) overridden by `env`."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        raw = tomllib.loads(Path(path).expanduser().read_text())
    raw = {k: dict(v) for k, v in raw.items()}
    for name, (section, key, kind) in _ENV.items():
        if name in env and env[name] != "":
            raw.setdefault(section, {})[key] = kind(env[name])
    deployment = raw.get("chain", {}).pop("deployment", None) or env.get("MMX_DEPLOYMENT")
    contracts = Contracts.from_mapping(raw.pop("contracts", {}))
    if deployment:
        from_file = load_deployment(deployment)
        contracts = Contracts(
            **{
                f.name: getattr(contracts, f.name) or getattr(from_file, f.name)
                for f in dataclasses.fields(Contracts)
            }
        )
    sections = {
        "chain": ChainConfig,
        "keys": KeysConfig,
        "settlement": SettlementConfig,
        "oracle": OracleConfig,
        "api": ApiConfig,
        "journal": JournalConfig,
        "runners": RunnersConfig,
        "funding": FundingConfig,
        "liquidation": LiquidationConfig,
    }
    unknown = set(raw) - set(sections)
    if unknown:
        raise ValueError(f"unknown config sections: {sorted(unknown)}")
    config = KeeperConfig(
        contracts=contracts, **{name: _section(cls, raw.get(name)) for name, cls in sections.items()}
    )
    config.liquidation.params()  # refuse settings the Exchange would skip, at start
    if not 1 <= config.settlement.max_fills <= 64:
        raise ValueError("settlement.max_fills must be in 1..64 (Exchange.settle's bound)")
    return config
