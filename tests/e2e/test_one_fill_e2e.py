"""Single-fill (ONE_FILL) orders end to end on a real anvil: a taker's ONE_FILL IOC order
against a resting maker settles through the keeper, consuming the taker's nonce bit on
chain (no filled[hash] slot), and a second single-fill order with that nonce is refused
by the keeper before it reaches the chain (docs/keeper.md, "Single-fill orders")."""

from __future__ import annotations

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient
from offchain.client.sdk import KeeperError
from offchain.keeper.service import Keeper
from offchain.order import ONE_FILL, order_hash

from .keeper_helpers import key, keeper_config, wait_for

pytestmark = pytest.mark.e2e
PRICE = 2_000 * 10**6  # market 1's oracle price in the devstack
SIZE = 10**17


@pytest.mark.anyio
async def test_e2e__one_fill_taker__settles_and_consumes_its_nonce(stack, tmp_path):
    maker_key, taker_key = stack.new_traders(2)
    w3 = Web3(Web3.HTTPProvider(stack.url))
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    keeper = await Keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key)).start()
    try:
        async with AsyncKeeperClient(keeper.url, maker_key) as mk, AsyncKeeperClient(keeper.url, taker_key) as tk:
            assert (await mk.place(mk.order(1, False, PRICE, 3 * SIZE)))["status"] == "accepted"
            one = tk.order(1, True, PRICE, SIZE, flags=ONE_FILL)
            ack = await tk.place(one, tif="IOC")
            assert ack["status"] == "accepted" and ack["fills"] == 1
            await wait_for(lambda: exchange.functions.nonce_used(tk.account, one.nonce).call(), timeout=30)
            digest = order_hash(one, tk.domain)
            [fill] = [e for e in exchange.events.FillSettled.get_logs(from_block=0) if e.args.taker_hash == digest]
            assert (fill.args.taker, fill.args.size) == (tk.account, SIZE)
            assert exchange.functions.filled(digest).call() == 0  # no filled[hash] slot
            assert exchange.functions.position(tk.account, 1).call()[0] == SIZE
            # the same nonce again (another single-fill order): refused before the chain
            again = tk.order(1, True, PRICE, 2 * SIZE, nonce=one.nonce, flags=ONE_FILL)
            with pytest.raises(KeeperError, match="nonce used"):
                await tk.place(again, tif="IOC")
            # one the head cannot cover whole (it would split): refused, nothing matched
            with pytest.raises(KeeperError, match="one fill"):
                await tk.place(tk.order(1, True, PRICE, 3 * SIZE, flags=ONE_FILL), tif="FOK")
            assert exchange.functions.position(tk.account, 1).call()[0] == SIZE
    finally:
        await keeper.stop(drain=1)
