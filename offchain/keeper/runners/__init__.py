"""Strategy runners inside the keeper: the pool's grid and each vault's strategy.

    from offchain.keeper.runners import PoolGridRunner, VaultRunner
    Keeper(config, agents=[pool_agent_key, *manager_agent_keys], runners=[PoolGridRunner(), VaultRunner()])

Decisions are pure (configs.py, plan.py, offchain.strategies.decide); I/O is thin (chainview.py
reads the chain, venue.py talks to the keeper). See docs/runners.md.
"""

from .chainview import ChainView
from .configs import KeeperTuning, PoolGridParams, StrategyKind, VaultStrategy
from .maker import MarketMaker
from .plan import VaultMode, VaultSnapshot, cap_limits, unwind_orders, vault_mode, vault_signer
from .pool import PoolGridRunner
from .signer import OrderSigner
from .vault import VaultRunner, build_maker
from .venue import KeeperVenue, MakerVenue, Venue, VenueRefused

__all__ = ["ChainView", "KeeperTuning", "KeeperVenue", "MakerVenue", "MarketMaker", "OrderSigner", "PoolGridParams",
           "PoolGridRunner", "StrategyKind", "VaultMode", "VaultRunner", "VaultSnapshot", "VaultStrategy",
           "Venue", "VenueRefused", "build_maker", "cap_limits", "unwind_orders", "vault_mode", "vault_signer"]
