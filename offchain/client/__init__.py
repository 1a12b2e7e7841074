"""Client SDK for traders and bots (docs/api.md): sign, place, cancel, batch, stream."""

from .messages import Cancel, order_from_json, order_to_json, place_request
from .sdk import AsyncKeeperClient, KeeperClient, KeeperError, Trader

__all__ = ["AsyncKeeperClient", "Cancel", "KeeperClient", "KeeperError", "Trader", "order_from_json",
           "order_to_json", "place_request"]
