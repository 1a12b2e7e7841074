"""Reduce-only orders against the chain's positions, with a real keeper on a real anvil.

Invariant (docs/liquidation.md, "Reduce-only and chain positions"): the engine's position
of an account is the chain's (read at start-up and after every Liquidation / Adl /
DelistedClosed log, with none of its fills in flight) plus the keeper's own fills since; so
a reduce-only order that reduces is accepted and settles on chain, and one that would
increase is refused "reduce only" without touching the book."""

from __future__ import annotations

import asyncio
import json

import pytest

from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.order import REDUCE_ONLY, Order, address_of, sign_order

from .helpers import ONE, USDC, contracts, liquidation_logs, open_positions, set_price, signed, \
    start_runner_keeper, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests run on anyio (tests/conftest.py)
PRICE = 2_000 * USDC


def _reduce_only(k: str, domain, is_buy: bool, price: int, size: int, nonce: int, tif: str = "IOC"):
    order = Order(address_of(k), 1, is_buy, price, size, nonce, 2**40, REDUCE_ONLY)
    return order, sign_order(order, domain, k), tif


async def test_reduce_only__fresh_journal__chain_position_read_at_start__reduce_settles(crash_stack, tmp_path,
                                                                                        start_keeper):
    s = crash_stack
    _, healthy, whale = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    long_ = address_of(healthy)

    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/a.db", [])
    await open_positions(keeper, [(healthy, whale, 10 * ONE, PRICE)])
    await keeper.stop(drain=1.0)
    assert exchange.functions.position(long_, 1).call()[0] == 10 * ONE
    # a keeper on a new journal has matched none of these fills: only the chain knows them
    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/b.db", [])
    d = keeper.domain
    assert long_ not in keeper.core.accounts  # loaded (and synced) by its first order
    (bid,) = await keeper.gateway.place_batch([signed(whale, d, 1, True, PRICE, 20 * ONE, "GTC")])
    (increase,) = await keeper.gateway.place_batch([_reduce_only(healthy, d, True, PRICE, ONE, 1, "GTC")])
    assert keeper.core.engine.position(long_, 1) == 10 * ONE
    (reduce,) = await keeper.gateway.place_batch([_reduce_only(healthy, d, False, PRICE, 4 * ONE, 2)])
    await wait_for(lambda: not keeper.core.fills and all(r.state == "settled" for r in keeper.journal.fills()))
    engine_after = keeper.core.engine.position(long_, 1)
    await keeper.stop(drain=1.0)
    assert bid["status"] == "accepted"
    assert increase["status"] == "rejected" and increase["reason"] == "reduce only"
    assert reduce["status"] == "accepted" and reduce["fills"] == 1
    assert engine_after == 6 * ONE
    assert exchange.functions.position(long_, 1).call()[0] == 6 * ONE  # the chain took the reduce-only fill


async def test_reduce_only__after_liquidation_to_backstop__engine_flat__refused(crash_stack, tmp_path, start_keeper):
    s = crash_stack
    levered, _, whale = s.trader_keys
    w3, exchange, _ = contracts(s.url, s.deployment)
    account = address_of(levered)
    runner = LiquidationRunner()
    keeper = await start_runner_keeper(start_keeper, s, f"sqlite:///{tmp_path}/k.db", [runner])
    d = keeper.domain
    await open_positions(keeper, [(levered, whale, 10 * ONE, PRICE)])
    assert keeper.core.engine.position(account, 1) == 10 * ONE  # the keeper's own fill
    start = w3.eth.block_number
    await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_880 * USDC)
    await wait_for(lambda: liquidation_logs(w3, exchange, start))
    # the Liquidation log moves the position to the pool outside the keeper's fills:
    # the watcher re-reads the chain and corrects the engine
    await wait_for(lambda: keeper.core.engine.position(account, 1) == 0)
    await keeper.gateway.place_batch([signed(whale, d, 1, True, 1_870 * USDC, ONE, "GTC")])
    (late,) = await keeper.gateway.place_batch([_reduce_only(levered, d, False, 1_870 * USDC, ONE, 7)])
    position_rows = [r for r in keeper.journal.commands() if r.kind == "position"]
    await keeper.stop(drain=1.0)
    assert late["status"] == "rejected" and late["reason"] == "reduce only"
    assert exchange.functions.position(account, 1).call()[0] == 0
    assert {"account": account, "market": 1, "size": "0"} in [json.loads(r.body) for r in position_rows]
