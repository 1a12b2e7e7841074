"""Chain reads the runners need (pool grid, vault configs and state, oracle, caps).

Thin: each method is a few eth_calls through an async `call(contract, fn, *args)` — the
keeper's `Chain.call` — with contract handles built from offchain.artifacts (codec only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address
from web3 import Web3

from offchain.artifacts import abi

from ..chain import event_topics
from .configs import PoolGridParams, VaultStrategy
from .plan import VaultSnapshot

Call = Callable[..., Awaitable[Any]]

_codec = Web3()


def contract(name: str, address: str):
    return _codec.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))


POOL_TOPICS = event_topics(abi("LiquidityPool"))
VAULT_TOPICS = event_topics(abi("Vault"))
FACTORY_TOPICS = event_topics(abi("VaultFactory"))
EXCHANGE_TOPICS = event_topics(abi("Exchange"))
# Exchange logs about one account's configuration (topics[1] = the account); the keeper's
# watcher forwards them to the runners: a vault's caps / close-only / agent act at once.
ACCOUNT_CONFIG_TOPICS = frozenset(EXCHANGE_TOPICS[name] for name in ("AgentSet", "CloseOnlySet", "LeverageCapSet",
                                                                     "PositionCapSet"))


def topic_address(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def decode_grid_set(entry: dict) -> PoolGridParams:
    """A LiquidityPool GridSet log as the params it set."""
    market = int(entry["topics"][1], 16)
    levels, spacing, size, active = abi_decode(["uint256", "uint256", "uint256", "bool"],
                                               bytes.fromhex(entry["data"][2:]))
    return PoolGridParams(market, levels, spacing, size, active)


class ChainView:
    def __init__(self, call: Call, *, exchange: str, oracle: str, pool: str = "", factory: str = "") -> None:
        self.call = call
        self.exchange = contract("Exchange", exchange)
        self.oracle = contract("Oracle", oracle)
        self.pool = contract("LiquidityPool", pool) if pool else None
        self.factory = contract("VaultFactory", factory) if factory else None

    @classmethod
    def from_keeper(cls, keeper) -> "ChainView":
        c = keeper.config.contracts
        return cls(keeper.chain.call, exchange=c.exchange, oracle=c.oracle, pool=c.pool, factory=c.factory)

    # -- oracle ------------------------------------------------------------------------------
    async def price_info(self, market: int) -> tuple[int, int, bool]:
        price, updated_at, halted = await self.call(self.oracle, "price_info", market)
        return int(price), int(updated_at), bool(halted)

    # -- pool --------------------------------------------------------------------------------
    async def grid_markets(self) -> list[int]:
        count = await self.call(self.pool, "grid_market_count")
        return [int(await self.call(self.pool, "grid_markets", i)) for i in range(count)]

    async def pool_grid(self, market: int) -> PoolGridParams:
        levels, spacing, size, active = await self.call(self.pool, "grid", market)
        return PoolGridParams(market, int(levels), int(spacing), int(size), bool(active))

    # -- vaults ------------------------------------------------------------------------------
    async def vaults(self) -> list[str]:
        count = await self.call(self.factory, "vault_count")
        return [to_checksum_address(await self.call(self.factory, "vaults", i)) for i in range(count)]

    async def read_vault(self, address: str) -> VaultSnapshot:
        vault = contract("Vault", address)
        call = self.call
        strategy = VaultStrategy.from_tuple(await call(vault, "strategy"))
        queue_length = int(await call(vault, "queue_length"))
        head = int(await call(vault, "queue_head"))
        head_value = 0
        if queue_length:
            # requests(id) -> (depositor, shares, value, basis, requested_at)
            head_value = int((await call(vault, "requests", head))[2])
        unwinding = bool(await call(vault, "unwinding"))
        unwind_due = bool(await call(vault, "unwind_due")) if queue_length and not unwinding else False
        return VaultSnapshot(
            address=to_checksum_address(address), strategy=strategy,
            agent=to_checksum_address(await call(vault, "agent")),
            manager_paused=bool(await call(vault, "manager_paused")),
            halted=bool(await call(vault, "halted")), unwinding=unwinding,
            unwind_agent=to_checksum_address(await call(vault, "unwind_agent")),
            queue_length=queue_length, queue_head=head, head_value=head_value,
            available=int(await call(vault, "available_liquidity")),
            close_only=bool(await call(self.exchange, "close_only", address)),
            leverage_cap_bps=int(await call(self.exchange, "leverage_cap", address)),
            position_cap=int(await call(self.exchange, "position_cap", address, strategy.market))
            if strategy.market else 0,
            unwind_due=unwind_due,
            max_mark_distance_bps=int(await call(vault, "max_mark_distance_bps")),
        )
