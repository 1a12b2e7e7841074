"""`BotVenue`: the runners' `MakerVenue` over the client SDK, so the keeper's `MarketMaker`
runs unchanged inside the bot (one strategy step, two hosts). It imports only the
runners' maker and signer modules: no web3, no compiled ABIs.

Like `KeeperVenue` over the Keeper, it is a thin adapter over its host: snapshots come
from the state `MarketMakerBot` keeps from the WebSocket and its HTTP refreshes (book,
mark, our live orders, position, equity); sends go through the `AsyncKeeperClient`, and
their answers are booked into the bot (order tracker, stats, rejections, back-off). A send
the keeper refuses or that does not arrive raises `VenueRefused` once it is booked, which
ends the step: nothing is placed next to orders we meant to cancel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from offchain.client import KeeperError
from offchain.keeper.runners.maker import VenueRefused
from offchain.keeper.runners.signer import OrderSigner
from offchain.strategies import AccountState, MarketState

from .logic import market_state

if TYPE_CHECKING:
    from .bot import MarketMakerBot

log = logging.getLogger("mmx.bot")

TRANSPORT_ERRORS = (httpx.TransportError, OSError)
SEND_ERRORS = (KeeperError, *TRANSPORT_ERRORS)


class BotVenue:
    def __init__(self, bot: MarketMakerBot) -> None:
        self.bot = bot
        self.top: tuple[int | None, int | None] = (None, None)  # book top (ours excluded) at the last step
        self.limited = False  # the last place batch met the keeper's rate limit

    # -- snapshots ----------------------------------------------------------------------------
    async def market_state(self, market: int, account: str | None = None) -> MarketState | None:
        bot = self.bot
        assert bot.info is not None
        state = market_state(bot.info, bot.bids, bot.asks, bot.tracker.live(), bot.mark, bot.mark_ts)
        self.top = (state.best_bid, state.best_ask)
        if state.mark_price <= 0:  # engines anchor on the mark (runners.maker): wait for one
            log.info("no mark yet: waiting")
            return None
        return state

    def account_state(self, account: str, market: int) -> AccountState:
        bot = self.bot
        return AccountState(bot.position, bot.equity, bot.tracker.live())

    # -- sends --------------------------------------------------------------------------------
    async def cancel(self, signer: OrderSigner, market: int, hashes: list[Any]) -> None:
        """One signed cancel (the client signs it with the same key as `signer`)."""
        bot, client = self.bot, self.bot.client
        assert client is not None
        hashes = [str(h) for h in hashes]
        try:
            result = await client.cancel(hashes, market)
        except SEND_ERRORS as exc:
            bot.failed("cancel", exc)
            bot.resync_orders()
            raise VenueRefused("cancel") from exc
        # asked-for hashes not in `cancelled` were no longer open (filled / expired)
        bot.tracker.gone(hashes)
        bot.stats["cancelled"] += len(result.get("cancelled", ()))

    async def place(self, items: list) -> list[dict]:
        """One batch of signed orders; each answer is booked (tracker, stats, rejections)."""
        bot, client = self.bot, self.bot.client
        assert client is not None
        try:
            results = await client.place_batch(items)
        except SEND_ERRORS as exc:
            bot.failed("place", exc)
            bot.resync_orders()  # a transport error may hide an accepted batch
            raise VenueRefused("place") from exc
        limited = False
        for (order, _signature, _tif), result in zip(items, results):
            if result.get("status") == "accepted":
                bot.tracker.on_ack(result["hash"], order, result)
                bot.stats["placed"] += 1
                if int(result.get("fills") or 0):
                    bot.account_changed()
            else:
                reason = str(result.get("reason"))
                bot.rejections[reason] += 1
                bot.stats["rejected"] += 1
                limited |= reason == "rate limited"
                log.info("order rejected: %s (%s %s @ %s)", reason, "buy" if order.is_buy else "sell",
                         order.size, order.price)
        if limited:
            bot.rate_limited()
        self.limited |= limited
        return results
