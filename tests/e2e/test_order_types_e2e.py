"""Order types on a real anvil, through the SDK: take-profit, trailing stop, stop-limit, a market order's
slippage cap, schedule-cancel, amend (the replacement settles on chain) and the keeper
following a MarketSet (band change) and a MarginTiersSet without a restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient
from offchain.client.sdk import KeeperError
from offchain.client.wallet import KeySigner, Transactor
from offchain.intent import Intent
from offchain.keeper.core import FillRecord
from tests.constants import USDC

from .keeper_helpers import journaled, wait_for
from .vault_helpers import PRICE, mark

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]  # async tests: the `sdk_pair` fixture (conftest.py)
SIZE = 10**16


def fills_now(keeper) -> list:
    """Every fill the keeper made, by id: pending ones from the sequencer, final ones (which
    leave its live state, docs/keeper.md "Live state") from the journal."""
    live = dict(keeper.core.fills)
    rows = {r.id: r for r in keeper.journal.fills()}
    return [live[i] if i in live else FillRecord.from_row(rows[i]) for i in sorted(set(live) | set(rows))]


def status_of(keeper, hash_hex: str) -> str:
    signed = keeper.core.orders.get(bytes.fromhex(hash_hex[2:]))
    if signed is not None:
        return signed.status
    found = keeper.journal.order(hash_hex)
    return found[1].status if found is not None and found[1] is not None else ""


async def settled(keeper, fills, timeout=120):
    ids = [f.id for f in fills]

    def states():
        by = {f.id: f for f in fills_now(keeper)}
        return [(by[i].state, by[i].reason) for i in ids]

    await wait_for(lambda: all(state in ("settled", "rejected") for state, _ in states()), timeout=timeout)
    assert states() == [("settled", "")] * len(ids)


async def test_e2e__take_profit__fires_when_mark_rises_and_settles(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    bid = await maker.place(maker.order(1, True, PRICE + 1 * USDC, SIZE))
    tp = Intent(kind="take_profit", tif="IOC", trigger_price=PRICE + 2 * USDC, client_id="tp-e2e")
    ack = await trader.place(trader.order(1, False, PRICE - 50 * USDC, SIZE), intent=tp)
    assert ack["order_status"] == "waiting for trigger"
    await asyncio.to_thread(mark, w3, stack, PRICE + 1 * USDC)  # not yet
    await wait_for(lambda: keeper.core.engine.mark(1) == PRICE + 1 * USDC)
    assert fills_now(keeper) == []
    await asyncio.to_thread(mark, w3, stack, PRICE + 3 * USDC)
    await wait_for(lambda: len(fills_now(keeper)) == 1)
    (fill,) = fills_now(keeper)
    assert (fill.taker_hash.hex(), fill.maker_hash.hex()) == (ack["hash"][2:], bid["hash"][2:])
    assert fill.price == PRICE + 1 * USDC
    await settled(keeper, [fill])
    assert (await trader.order_by_client_id("tp-e2e"))["status"] == "filled"


async def test_e2e__trailing_stop__follows_the_mark_up_fires_on_the_reversal_and_settles(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    bid = await maker.place(maker.order(1, True, PRICE + 2 * USDC, SIZE))
    # 5 USDC behind the peak: unfollowed it would fire at -5; it follows +10, so +4 fires it
    trail = Intent(kind="trailing_stop", tif="IOC", trail_amount=5 * USDC, client_id="trail-e2e")
    ack = await trader.place(trader.order(1, False, PRICE - 50 * USDC, SIZE), intent=trail)
    assert ack["order_status"] == "waiting for trigger"
    for price in (PRICE + 10 * USDC, PRICE + 6 * USDC):  # the peak follows; a retrace short of 5
        await asyncio.to_thread(mark, w3, stack, price)
        await wait_for(lambda p=price: keeper.core.engine.mark(1) == p)
        assert fills_now(keeper) == []
    await asyncio.to_thread(mark, w3, stack, PRICE + 4 * USDC)
    await wait_for(lambda: len(fills_now(keeper)) == 1)
    (fill,) = fills_now(keeper)
    assert (fill.taker_hash.hex(), fill.maker_hash.hex()) == (ack["hash"][2:], bid["hash"][2:])
    assert (fill.price, fill.size) == (PRICE + 2 * USDC, SIZE)
    await settled(keeper, [fill])
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    assert exchange.functions.filled(bytes.fromhex(ack["hash"][2:])).call() == SIZE
    assert (await trader.order_by_client_id("trail-e2e"))["status"] == "filled"


async def test_e2e__stop_limit__fires_then_trades_at_its_limit_and_settles(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    await maker.place(maker.order(1, False, PRICE + 3 * USDC, SIZE))   # within the limit
    await maker.place(maker.order(1, False, PRICE + 6 * USDC, SIZE))   # beyond it
    stop = Intent(kind="stop_limit", trigger_price=PRICE + 2 * USDC)
    ack = await trader.place(trader.order(1, True, PRICE + 4 * USDC, 2 * SIZE), intent=stop)
    assert ack["order_status"] == "waiting for trigger"
    await asyncio.to_thread(mark, w3, stack, PRICE + 2 * USDC)
    await wait_for(lambda: len(fills_now(keeper)) == 1)
    (fill,) = fills_now(keeper)
    assert fill.price == PRICE + 3 * USDC and fill.size == SIZE
    status = await trader.order_status(ack["hash"])
    assert (status["status"], status["open"]) == ("open", str(SIZE))  # the rest rests at its limit
    await settled(keeper, [fill])
    assert keeper.core.engine.depth(1, 5)[0] == [(PRICE + 4 * USDC, SIZE)]
    await trader.cancel([ack["hash"]])


async def test_e2e__market_order__stops_at_slippage_cap_remainder_cancelled_settles(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    for d in (1, 2, 10):
        await maker.place(maker.order(1, False, PRICE + d * USDC, SIZE))
    # 10 bps from the best ask (2001 USDC): worst 2003.001, so 2001 and 2002 trade, 2010 does not
    intent = Intent(kind="market", tif="IOC", slippage_bps=10, slippage_ref="best")
    ack = await trader.place(trader.order(1, True, PRICE + 50 * USDC, 3 * SIZE), intent=intent)
    assert ack["fills"] == 2 and ack["order_status"] == "cancelled" and ack["open"] == "0"  # the remainder
    fills = sorted(fills_now(keeper), key=lambda f: f.id)
    assert [f.price for f in fills] == [PRICE + 1 * USDC, PRICE + 2 * USDC]
    await settled(keeper, fills)
    assert keeper.core.engine.best_ask(1) == PRICE + 10 * USDC
    for o in await maker.open_orders():
        await maker.cancel([o["hash"]])


async def test_e2e__schedule_cancel__cancels_at_the_deadline(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    ack = await trader.place(trader.order(1, True, PRICE - 20 * USDC, SIZE))
    # the keeper refuses a deadline under 5 s away when the request reaches it: 12 s leaves
    # 7 s for signing and the HTTP round trip on a loaded machine (6 s left only one)
    deadline = int(time.time() * 1000) + 12_000
    await trader.schedule_cancel(deadline)
    await wait_for(lambda: status_of(keeper, ack["hash"]) == "cancelled")
    assert time.time() * 1000 >= deadline
    later = await trader.place(trader.order(1, True, PRICE - 21 * USDC, SIZE))  # the switch is spent
    assert later["order_status"] == "open"
    assert "schedule_cancel" in [r.kind for r in keeper.journal.commands()]
    await trader.cancel([later["hash"]])


async def test_e2e__amend_size_down__replacement_keeps_priority_and_settles(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    first = await maker.place(maker.order(1, True, PRICE - 1 * USDC, 2 * SIZE))
    async with AsyncKeeperClient(keeper.url, stack.trader_keys[3]) as other:
        behind = await other.place(other.order(1, True, PRICE - 1 * USDC, SIZE))
        amended = await maker.amend(first["hash"], maker.order(1, True, PRICE - 1 * USDC, SIZE))
        assert amended["priority"] == "kept"
        await trader.place(trader.order(1, False, PRICE - 1 * USDC, SIZE))
        (fill,) = fills_now(keeper)
        assert fill.maker_hash.hex() == amended["hash"][2:]
        await settled(keeper, [fill])
        exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
        assert exchange.functions.filled(bytes.fromhex(amended["hash"][2:])).call() == SIZE
        assert exchange.functions.filled(bytes.fromhex(first["hash"][2:])).call() == 0
        await other.cancel([behind["hash"]])


async def test_e2e__market_set_band_change__followed_without_restart(stack, sdk_pair):
    w3, keeper, maker, trader = sdk_pair
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    admin = Transactor(w3, KeySigner(w3, stack.admin_key))
    tick, lot, min_size, im, mm, band, active = exchange.functions.markets(1).call()
    ask = await maker.place(maker.order(1, False, PRICE + 10 * USDC, SIZE))  # 0.5 % above the mark
    try:
        await asyncio.to_thread(admin.send, exchange.functions.update_market(1, tick, lot, min_size, im, mm,
                                                                               20, active))
        await wait_for(lambda: keeper.core.markets[1].band_bps == 20)
        with pytest.raises(KeeperError) as exc:
            await trader.place(trader.order(1, True, PRICE + 10 * USDC, SIZE))
        assert (exc.value.status, exc.value.detail) == (400, "band")
        await journaled(keeper, "market_set", where=lambda b: b["market"] == 1 and b["band"] == 20)
    finally:
        await asyncio.to_thread(admin.send, exchange.functions.update_market(1, tick, lot, min_size, im, mm,
                                                                               band, active))
    await wait_for(lambda: keeper.core.markets[1].band_bps == band)
    (ack,) = await trader.place_batch([trader.order(1, True, PRICE + 10 * USDC, SIZE)])
    assert ack["fills"] == 1
    await settled(keeper, list(fills_now(keeper)))
    assert ask["hash"]


async def test_e2e__margin_tiers_set__followed_without_restart_admission_uses_it(stack, sdk_pair):
    from offchain.risk.margin import TierTable

    rows = [(0, 1_000, 500), (1_000_000 * USDC, 5_000, 2_500)]  # 50 % above 1M USDC of notional
    w3, keeper, maker, trader = sdk_pair
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    admin = Transactor(w3, KeySigner(w3, stack.admin_key))
    before = keeper.core.markets[1].tiers
    im, mm = keeper.core.markets[1].initial_margin_bps, keeper.core.markets[1].maintenance_margin_bps
    restore = [(t.threshold, t.initial_bps, t.maintenance_bps) for t in before.tiers] if before else [(0, im, mm)]
    big = 12_000 * 10**18  # 23.4M USDC at 1,950: flat 10 % = 2.34M fits 10M; tiered 11.3M does not
    ok = await trader.place(trader.order(1, True, PRICE - 50 * USDC, big))
    assert ok["order_status"] == "open"
    await trader.cancel([ok["hash"]])

    def set_tiers(table):
        admin.send(exchange.functions.set_margin_tiers(1, [r[0] for r in table], [r[1] for r in table],
                                                       [r[2] for r in table]))
    try:
        await asyncio.to_thread(set_tiers, rows)
        await wait_for(lambda: keeper.core.markets[1].tiers == TierTable.of(rows))
        await journaled(keeper, "margin_tiers_set",
                        where=lambda b: [[int(t), im, mm] for t, im, mm in b["rows"]] == [list(r) for r in rows])
        with pytest.raises(KeeperError) as exc:
            await trader.place(trader.order(1, True, PRICE - 50 * USDC, big))
        assert (exc.value.status, exc.value.detail) == (400, "margin")
    finally:
        await asyncio.to_thread(set_tiers, restore)
    await wait_for(lambda: keeper.core.markets[1].tiers == TierTable.of(restore))
