"""Order kinds on a real anvil: a stop-market signed through the SDK waits in the keeper,
fires when the Oracle's mark crosses its trigger and its fill settles on chain."""

from __future__ import annotations

import asyncio
import time

import pytest
from web3 import Web3

from offchain.intent import Intent
from tests.constants import USDC

from .keeper_helpers import key, keeper_config, wait_for
from .raw_wire import Raw
from .vault_helpers import PRICE, mark

pytestmark = pytest.mark.e2e  # the async tests are marked anyio one by one (the SIGKILL test is not async)


@pytest.mark.anyio
async def test_e2e__stop_market__fires_when_mark_crosses_and_settles_on_chain(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    bid = await maker.place(maker.order(1, True, PRICE - 5 * USDC, 10**16))
    stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 2 * USDC, client_id="sl-e2e")
    ack = await trader.place(trader.order(1, False, PRICE - 50 * USDC, 10**16), intent=stop)
    assert ack["status"] == "accepted" and ack["order_status"] == "waiting for trigger"
    (waiting,) = await trader.open_orders()
    assert waiting["status"] == "waiting for trigger"
    assert waiting["intent"]["trigger_price"] == str(PRICE - 2 * USDC)
    assert keeper.core.fills == {}

    await asyncio.to_thread(mark, w3, stack, PRICE - 3 * USDC)  # the mark crosses
    # the journal: a final fill leaves the keeper's live state (core.fills)
    await wait_for(lambda: len(keeper.journal.fills()) == 1)
    (fill,) = keeper.journal.fills()
    assert fill.taker_hash == ack["hash"] and fill.maker_hash == bid["hash"]
    assert fill.price == PRICE - 5 * USDC and fill.size == 10**16
    await wait_for(lambda: keeper.journal.fills()[0].state in ("settled", "rejected"))
    (fill,) = keeper.journal.fills()
    assert (fill.state, fill.reason) == ("settled", "")
    assert (await trader.order_status(ack["hash"]))["status"] == "filled"
    kinds = [r.kind for r in keeper.journal.commands()]
    assert "mark" in kinds and kinds.count("place") == 2


def test_e2e__sigkill_with_trigger_waiting__still_waiting_after_restart_and_fires_once(stack, tmp_path):
    import signal

    from offchain.client import KeeperClient

    from .test_keeper_crash import start_keeper

    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    db_url = f"sqlite:///{tmp_path}/keeper.db"
    maker_key, trader_key = stack.trader_keys[4], stack.trader_keys[5]
    keeper = start_keeper(stack, tmp_path, db_url, 0, None, "1")
    url = keeper.url
    try:
        with KeeperClient(url, maker_key) as maker, KeeperClient(url, trader_key) as trader:
            bid = maker.place(maker.order(1, True, PRICE - 5 * USDC, 10**16))
            stop = Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 2 * USDC)
            ack = trader.place(trader.order(1, False, PRICE - 50 * USDC, 10**16), intent=stop)
            assert ack["order_status"] == "waiting for trigger"
        keeper.send_signal(signal.SIGKILL)
        keeper.wait(10)
    finally:
        if keeper.poll() is None:
            keeper.kill()
    keeper2 = start_keeper(stack, tmp_path, db_url, 0, None, "2")  # a port of its own
    url = keeper2.url
    try:
        with KeeperClient(url, trader_key) as trader:
            (waiting,) = trader.open_orders()
            assert (waiting["hash"], waiting["status"]) == (ack["hash"], "waiting for trigger")
            assert waiting["intent"]["trigger_price"] == str(PRICE - 2 * USDC)
            mark(w3, stack, PRICE - 3 * USDC)
            deadline = time.monotonic() + 120
            while trader.order_status(ack["hash"])["status"] == "waiting for trigger":
                assert time.monotonic() < deadline, "the stop did not fire"
                time.sleep(0.1)
            while not (fills := [f for f in trader.fills() if f["taker_hash"] == ack["hash"]]) \
                    or any(f["state"] not in ("settled", "rejected") for f in fills):
                assert time.monotonic() < deadline, "the fill did not settle"
                time.sleep(0.1)
            assert [(f["maker_hash"], f["size"], f["state"]) for f in fills] == [(bid["hash"], str(10**16), "settled")]
            assert trader.open_orders() == []
    finally:
        keeper2.send_signal(signal.SIGTERM)
        keeper2.wait(60)
        mark(w3, stack, PRICE)


@pytest.mark.anyio
async def test_e2e__raw_http_and_eth_account_only__stop_fires_and_settles(stack, tmp_path, start_keeper):
    """No SDK: the order and its OrderIntent are built from docs/api.md with eth-account's
    encode_typed_data, POSTed with httpx; the stop waits, fires on the mark, settles."""
    import httpx

    w3 = Web3(Web3.HTTPProvider(stack.url))
    mark(w3, stack, PRICE)
    keeper = await start_keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key))
    try:
        await wait_for(lambda: keeper.core.engine.mark(1) == PRICE)

        def client_side():
            with httpx.Client(base_url=keeper.url) as http:
                info = http.get("/info").json()
                bid = Raw(http, info, stack.trader_keys[4]).place(True, PRICE - 5 * USDC)
                ack = Raw(http, info, stack.trader_keys[5]).place(
                    False, PRICE - 50 * USDC, kind="stop_market", tif="IOC", trigger_price=PRICE - 2 * USDC,
                    client_id=f"raw-{time.time_ns()}")
                assert ack["order_status"] == "waiting for trigger"
                return bid, ack

        bid, ack = await asyncio.to_thread(client_side)
        await asyncio.to_thread(mark, w3, stack, PRICE - 3 * USDC)
        await wait_for(lambda: len(keeper.journal.fills()) == 1)  # final fills leave core.fills
        (fill,) = keeper.journal.fills()
        assert (fill.maker_hash, fill.taker_hash) == (bid["hash"], ack["hash"])
        await wait_for(lambda: keeper.journal.fills()[0].state in ("settled", "rejected"))
        (fill,) = keeper.journal.fills()
        assert (fill.state, fill.reason) == ("settled", "")
    finally:
        await keeper.stop()
        await asyncio.to_thread(mark, w3, stack, PRICE)
