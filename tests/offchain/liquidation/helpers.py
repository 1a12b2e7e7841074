"""Shared pieces of the liquidation tests: signed orders through a keeper, oracle moves,
chain reads of Liquidation logs and of the block at which an account first breached."""

from __future__ import annotations

import asyncio
import itertools
import time

from web3 import Web3

from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.keeper.config import ChainConfig, Contracts, JournalConfig, KeeperConfig
from offchain.keeper.keys import Key
from offchain.order import Order, address_of, sign_order
from tests.constants import ONE, USDC

_nonces = itertools.count(time.time_ns())


def key(k: str) -> Key:
    return Key(address_of(k), k)


def keeper_config(stack, db_url: str) -> KeeperConfig:
    return KeeperConfig(chain=ChainConfig(rpc_url=stack.url, confirmations=0, poll_interval=0.05),
                        contracts=Contracts(**stack.contracts()), journal=JournalConfig(url=db_url))


def runner_keeper_args(stack, runners, agents=()) -> dict:
    """Keeper(...) arguments of a keeper that runs only `runners` (no API), with the stack's
    operator and reporter keys and the given agent keys."""
    return dict(operator=key(stack.operator_key), reporter=key(stack.reporter_key), agents=[key(a) for a in agents],
                runners=list(runners), serve_api=False)


def runner_keeper(stack, db_url: str, runners, agents=()):
    """A keeper (not started) that runs only `runners` on the journal at `db_url`."""
    from offchain.keeper.service import Keeper

    return Keeper(keeper_config(stack, db_url), **runner_keeper_args(stack, runners, agents))


async def start_runner_keeper(start_keeper, stack, db_url: str, runners):
    """A started keeper (the `start_keeper` fixture's, stopped at teardown) that runs only
    `runners`; tests stop it themselves first, with a drain, before reading chain and journal."""
    return await start_keeper(keeper_config(stack, db_url), **runner_keeper_args(stack, runners))


def signed(k: str, domain, market: int, is_buy: bool, price: int, size: int, tif: str):
    order = Order(address_of(k), market, is_buy, price, size, next(_nonces), int(time.time()) + 86_400, 0)
    return order, sign_order(order, domain, k), tif


async def wait_for(predicate, timeout: float = 120.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met")


async def open_positions(keeper, pairs: list[tuple[str, str, int, int]], market: int = 1) -> None:
    """(long_key, short_key, size, price): the short rests a sell, the long takes it (IOC);
    waits until every fill is settled on chain."""
    domain = keeper.domain
    for long_key, short_key, size, price in pairs:
        (maker,) = await keeper.gateway.place_batch([signed(short_key, domain, market, False, price, size, "GTC")])
        assert maker["status"] == "accepted", maker
        (taker,) = await keeper.gateway.place_batch([signed(long_key, domain, market, True, price, size, "IOC")])
        assert taker["status"] == "accepted" and taker.get("fills", 1) >= 1, taker
    # settled fills leave the keeper's live state (core.fills): the journal has them
    await wait_for(lambda: not keeper.core.fills and (rows := keeper.journal.fills())
                   and all(r.state == "settled" for r in rows))


def contracts(url: str, d):
    w3 = Web3(Web3.HTTPProvider(url))
    return (w3, w3.eth.contract(address=d.exchange, abi=abi("Exchange")),
            w3.eth.contract(address=d.oracle, abi=abi("Oracle")))


def set_price(w3, reporter_key: str, oracle: str, market: int, price: int) -> int:
    """Report a price; returns the block it was mined in."""
    reporter = Web3Deployer(w3, reporter_key)
    contract = w3.eth.contract(address=oracle, abi=abi("Oracle"))
    return reporter.send_call(contract.functions.set_price(market, price), gas=200_000)["blockNumber"]


def liquidation_logs(w3, exchange, from_block: int = 0) -> list[dict]:
    return list(exchange.events.Liquidation().get_logs(from_block=from_block))


def first_breach_block(exchange, account: str, lo: int, hi: int) -> int | None:
    """The first block in [lo, hi] at whose end `account` was below maintenance (historical
    eth_calls: anvil keeps every state)."""
    for block in range(lo, hi + 1):
        eq = exchange.functions.equity(account).call(block_identifier=block)
        req = exchange.functions.margin_requirement(account, False).call(block_identifier=block)
        if req > 0 and eq < req:
            return block
    return None
