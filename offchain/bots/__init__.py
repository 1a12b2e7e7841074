"""Standalone market-making bots that trade against a keeper's API with the client SDK.

    from offchain.bots import MarketMakerBot, load_config
    asyncio.run(MarketMakerBot(load_config("bot.toml")).run(handle_signals=True))

`config` (frozen dataclasses, TOML loader, exact amounts), `logic` (pure pieces: order
tracking, our fills, back-off), `venue` (the runners' MakerVenue over the SDK, so the
keeper's MarketMaker, and with it `strategies.decide`, runs in the bot), `bot` (the
asyncio I/O), `cli` (command line; `scripts/bot.py` is the Ape wrapper).
See docs/bots.md.
"""

from offchain.strategies import Decision, book_top_excluding, decide

from .bot import MarketMakerBot
from .config import BotConfig, GridSpec, config_from_mapping, load_config, parse_size, parse_usdc
from .logic import Backoff, MarketInfo, OrderTracker, our_fill

__all__ = ["Backoff", "BotConfig", "Decision", "GridSpec", "MarketInfo", "MarketMakerBot", "OrderTracker",
           "book_top_excluding", "config_from_mapping", "decide", "load_config", "our_fill", "parse_size",
           "parse_usdc"]
