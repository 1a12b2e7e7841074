"""The backstop unwind sells only what the pool took over, never the pool grid's own
inventory on the same account (real keeper, real anvil).

Invariant: target = taken over (Liquidation / Adl logs to the pool) + the unwind's own
signed fills, clipped to the pool's chain position; the unwind never trades the pool
beyond it, so the grid's inventory is left as it was, also after a restart (the takeovers
are re-read from the chain, the unwind's orders from its table)."""

from __future__ import annotations

import asyncio

import pytest

from offchain.devnet import Anvil
from offchain.keeper.crashstack import deploy_crash_stack
from offchain.keeper.runners.backstop import BackstopUnwindRunner, UnwindOrders, after_deleverage, unwind_target
from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.order import Order, sign_order

from .helpers import ONE, USDC, contracts, liquidation_logs, open_positions, runner_keeper, set_price, signed, \
    wait_for

PRICE = 2_000 * USDC


def test_unwind_target__taken_minus_unwound_clipped_to_position():
    assert unwind_target(10, 0, 13) == 10       # the grid's 3 stay
    assert unwind_target(10, -4, 13) == 6       # 4 already sold by the unwind
    assert unwind_target(10, -10, 3) == 0       # all of it unwound
    assert unwind_target(10, 0, 6) == 6         # the grid sold some meanwhile: no more than the position
    assert unwind_target(10, 0, -2) == 0        # the grid flipped the pool: nothing taken is left
    assert unwind_target(-8, 3, -20) == -5      # a short taken over: buy back 5
    assert unwind_target(0, 0, 13) == 0         # nothing taken over: the grid's inventory is not touched


def test_after_deleverage__the_pool_deleveraged__takeover_remainder_reduced_toward_zero_never_past():
    # (taken, unwound, the pool's change) -> taken
    assert after_deleverage(10, 0, -4) == 6      # 4 of the 10 taken over closed by the ADL
    assert after_deleverage(10, -4, -6) == 4     # the 6 left closed: taken + unwound == 0
    assert after_deleverage(10, 0, -15) == 0     # the grid's 5 closed too: never past zero
    assert unwind_target(after_deleverage(10, 0, -15), 0, 5) == 0  # the grid's later 5 long stay
    assert after_deleverage(-8, 3, 9) == -3      # a short taken over, bought back by the ADL
    assert after_deleverage(10, 0, 4) == 10      # a change with the remainder (not an ADL's): kept
    assert after_deleverage(0, 0, -5) == 0       # nothing taken over: nothing to take off


@pytest.mark.e2e
def test_backstop_unwind__grid_inventory_kept__only_takeover_sold(tmp_path):
    with Anvil(accounts=9) as node:
        keys = node.private_keys()
        # 0 admin, 1 operator, 2 reporter, 3 the pool's keeper agent, 4 LP, 5 levered long, 6 whale
        s = deploy_crash_stack(node.url, keys, lps=1, traders=[2_100 * USDC, 1_000_000 * USDC])
        levered, whale = s.trader_keys
        agent = keys[3]
        pool = s.deployment.pool
        w3, exchange, _ = contracts(s.url, s.deployment)
        db_url = f"sqlite:///{tmp_path}/k.db"

        def keeper(runners):
            return runner_keeper(s, db_url, runners, agents=[agent])

        async def first():
            unwind = BackstopUnwindRunner()
            k = keeper([LiquidationRunner(), unwind])
            await k.start()
            try:
                d = k.domain
                # the grid's inventory: the pool (signed by its agent) buys 3 ETH from the whale
                await k.gateway.place_batch([signed(whale, d, 1, False, PRICE, 3 * ONE, "GTC")])
                buy = Order(pool, 1, True, PRICE, 3 * ONE, 1, 2**40, 0)
                (ack,) = await k.gateway.place_batch([(buy, sign_order(buy, d, agent), "IOC")])
                assert ack["status"] == "accepted" and ack["fills"] == 1, ack
                await open_positions(k, [(levered, whale, 10 * ONE, PRICE)])
                start = w3.eth.block_number
                await asyncio.to_thread(set_price, w3, s.reporter_key, s.deployment.oracle, 1, 1_880 * USDC)
                await wait_for(lambda: liquidation_logs(w3, exchange, start))  # no bids: the backstop takes it
                await wait_for(lambda: exchange.functions.position(pool, 1).call()[0] == 13 * ONE)
                # closing bids arrive: the unwind sells the 10 taken over into them, not the 3
                (bid,) = await k.gateway.place_batch([signed(whale, d, 1, True, 1_885 * USDC, 20 * ONE, "GTC")])
                await wait_for(lambda: exchange.functions.position(pool, 1).call()[0] == 3 * ONE)
                await asyncio.sleep(3)  # further timer ticks: nothing more to unwind
                return bid, unwind.taken.get(1), unwind.unwound(1)
            finally:
                await k.stop(drain=1.0)

        bid, taken, unwound = asyncio.run(first())
        assert (taken, unwound) == (10 * ONE, -10 * ONE)
        assert exchange.functions.position(pool, 1).call()[0] == 3 * ONE
        store = UnwindOrders(db_url)
        assert len(store.all()) >= 1
        store.close()

        async def restarted():
            # a new keeper process: the takeover is read from the chain again, the unwind's
            # fills from its table and the replayed journal; nothing of the grid's 3 is sold
            unwind = BackstopUnwindRunner()
            k = keeper([unwind])
            await k.start()
            try:
                await asyncio.sleep(3)
                return unwind.taken.get(1), unwind.unwound(1), unwind.placed
            finally:
                await k.stop(drain=1.0)

        taken, unwound, placed = asyncio.run(restarted())
        assert (taken, unwound, placed) == (10 * ONE, -10 * ONE, 0)
        assert exchange.functions.position(pool, 1).call()[0] == 3 * ONE
