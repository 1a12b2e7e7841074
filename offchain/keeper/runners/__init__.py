"""Strategy runners inside the keeper: the pool's grid and each vault's strategy.

    from offchain.keeper.runners import PoolGridRunner, VaultRunner
    Keeper(config, agents=[pool_agent_key, *manager_agent_keys], runners=[PoolGridRunner(), VaultRunner()])

Decisions are pure (configs.py, plan.py, offchain.strategies.decide); I/O is thin (chainview.py
reads the chain, venue.py talks to the keeper). See docs/runners.md.
"""

import importlib
from typing import Any

# Exports resolve on first use (PEP 562): `offchain.keeper.runners.maker`, which the bot
# imports, then needs neither web3 nor the compiled ABIs that chainview reads at import.
_EXPORTS = {
    "ChainView": "chainview", "KeeperTuning": "configs", "PoolGridParams": "configs", "StrategyKind": "configs",
    "VaultStrategy": "configs", "MakerVenue": "maker", "MarketMaker": "maker", "VenueRefused": "maker",
    "VaultMode": "plan", "VaultSnapshot": "plan", "cap_limits": "plan", "unwind_orders": "plan", "vault_mode": "plan",
    "vault_signer": "plan", "PoolGridRunner": "pool", "OrderSigner": "signer", "VaultRunner": "vault",
    "build_maker": "vault", "KeeperVenue": "venue", "Venue": "venue",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
