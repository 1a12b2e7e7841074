"""The bot against a real keeper on anvil: quotes on the book, a crossing order from another
trader fills it and settles on chain, the bot re-quotes, and it cancels everything on stop.
The bot signs with an agent key for its account (Exchange.approve_agent)."""

from __future__ import annotations

import asyncio

import pytest
from web3 import Web3

from offchain.bots import BotConfig, MarketMakerBot
from offchain.client import AsyncKeeperClient
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.devstack import deploy_stack
from offchain.order import address_of
from offchain.strategies import QuoteConfig, RiskLimits
from tests.e2e.keeper_helpers import exchange, key, keeper_config, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async test: `start_keeper` (tests/conftest.py)

SIZE = 5 * 10**16  # 0.05
LEVELS = 2


@pytest.fixture(scope="module")
def stack():
    with Anvil(accounts=8) as node:
        yield deploy_stack(node.url, node.private_keys(), traders=2)


def _ours(orders, is_buy):
    return [o for o in orders if o["is_buy"] is is_buy]


async def test_bot__quotes_fill_settles_requotes_and_cancels_on_stop(stack, tmp_path, monkeypatch, start_keeper):
    owner_key, taker_key = stack.trader_keys
    agent_key = stack.keys[7]  # not funded: it only signs for the owner's account
    owner, agent = address_of(owner_key), address_of(agent_key)
    w3 = Web3(Web3.HTTPProvider(stack.url))
    Web3Deployer(w3, owner_key).transact("Exchange", stack.deployment.exchange, "approve_agent", agent, True)
    monkeypatch.setenv("MMX_TEST_BOT_KEY", agent_key)

    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    await wait_for(lambda: agent in keeper.account_view(owner).get("agents", []), timeout=120)
    config = BotConfig(keeper.url, "env:MMX_TEST_BOT_KEY", 1, account=owner,
                       quote=QuoteConfig(1, spread_bps=20, order_size=SIZE, levels=LEVELS,
                                         level_spacing_bps=10),
                       risk=RiskLimits(max_position=10**18, max_open_orders=10, max_drawdown_bps=2_000),
                       tick_ms=200, account_refresh_ms=500)
    bot = MarketMakerBot(config)
    task = asyncio.create_task(bot.run())
    async with AsyncKeeperClient(keeper.url, taker_key) as taker:
        info = (await taker.info())["markets"]["1"]
        tick, lot = int(info["tick"]), int(info["lot"])
        await wait_for(lambda: len(bot.tracker) == 2 * LEVELS, timeout=120)

        # quotes on the book: both sides, on tick and lot, bid < ask, signed by the agent
        orders = await taker.open_orders(owner)
        assert len(orders) == 2 * LEVELS and all(o["signer"] == agent for o in orders)
        bids, asks = _ours(orders, True), _ours(orders, False)
        assert len(bids) == len(asks) == LEVELS
        assert all(int(o["price"]) % tick == 0 and int(o["size"]) % lot == 0 for o in orders)
        best_bid = max(int(o["price"]) for o in bids)
        best_ask = min(int(o["price"]) for o in asks)
        assert best_bid < best_ask
        book = await taker.book(1)
        assert int(book["bids"][0][0]) == best_bid and int(book["asks"][0][0]) == best_ask
        ask_hash = next(o["hash"] for o in asks if int(o["price"]) == best_ask)

        # another trader lifts part of the best ask
        part = 2 * 10**16
        ack = await taker.place(taker.order(1, True, best_ask, part), tif="IOC")
        assert ack["fills"] == 1
        await wait_for(lambda: bot.stats["fills_settled"] >= 1, timeout=120)
        _, ex = exchange(stack)
        assert ex.functions.filled(bytes.fromhex(ask_hash[2:])).call() == part
        settled = ex.events.FillSettled().get_logs(from_block=0)
        assert any(e.args.maker_hash.hex().removeprefix("0x") == ask_hash[2:] for e in settled)

        # the bot re-quotes: the full size is back at its best ask, with a new order
        async def ask_restored():
            now = await taker.open_orders(owner)
            at_best = [o for o in now if not o["is_buy"] and int(o["price"]) == best_ask]
            return sum(int(o["open"]) for o in at_best) == SIZE and len(now) >= 2 * LEVELS

        deadline = asyncio.get_running_loop().time() + 30
        while not await ask_restored() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert await ask_restored(), (dict(bot.stats), bot.tracker.live())
        assert bot.position == -part
        assert bot.stats["placed"] > 2 * LEVELS

        # stop: everything in the market is cancelled
        bot.stop()
        await asyncio.wait_for(task, 60)
        assert await taker.open_orders(owner) == []
        book = await taker.book(1)
        assert book["bids"] == [] and book["asks"] == []
        assert not bot.rejections, bot.rejections
