"""Margin tiers reach the keeper on a real anvil: the admin sets a table on the Exchange,
the keeper reads it at start-up, and its admission refuses exactly the order the chain's
tiered initial margin would (the flat 10 % would have admitted it)."""

from __future__ import annotations

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.client import AsyncKeeperClient
from offchain.deploy import Web3Deployer
from offchain.keeper.service import Keeper
from offchain.risk.margin import TierTable
from tests.constants import USDC

from .keeper_helpers import key, keeper_config

pytestmark = pytest.mark.e2e
PRICE = 2_000 * USDC
# tier 0 is the market's flat 10 % / 5 %; above 20M USDC of notional 50 % (other e2e tests
# trade far below it)
ROWS = [(0, 1_000, 500), (20_000_000 * USDC, 5_000, 2_500)]


@pytest.mark.anyio
async def test_e2e__tier_table__keeper_admission_uses_it(stack, tmp_path):
    w3 = Web3(Web3.HTTPProvider(stack.url))
    admin = Web3Deployer(w3, stack.admin_key)
    exchange = w3.eth.contract(address=stack.deployment.exchange, abi=abi("Exchange"))
    # the stack is shared by the session: put market 1's table back afterwards (the latest
    # MarginTiersSet's rows; none: the market's flat margins as one tier, as the
    # order-types e2e test does), so what a later test sees does not depend on whether this
    # one ran before it on the same xdist worker
    earlier = [e.args for e in exchange.events.MarginTiersSet.get_logs(from_block=0) if e.args.market == 1]
    im, mm = exchange.functions.markets(1).call()[3:5]
    before = ([list(earlier[-1].thresholds), list(earlier[-1].initial_bps), list(earlier[-1].maintenance_bps)]
              if earlier else [[0], [im], [mm]])
    admin.transact("Exchange", stack.deployment.exchange, "set_margin_tiers", 1,
                   [r[0] for r in ROWS], [r[1] for r in ROWS], [r[2] for r in ROWS])
    table = TierTable.of(ROWS)

    keeper = None
    try:
        keeper = await Keeper(keeper_config(stack, tmp_path / "k.db"), operator=key(stack.operator_key)).start()
        assert keeper.core.markets[1].tiers == table
        trader = stack.trader_keys[5]  # 10M USDC of collateral (devstack deposit)
        async with AsyncKeeperClient(keeper.url, trader) as client:
            # 12,000 ETH at 1,950 = 23.4M USDC: tiered 2M + 3.4M * 50 % = 3.7M of 10M: admitted
            ok = await client.place(client.order(1, True, PRICE - 50 * USDC, 12_000 * 10**18))
            assert ok["status"] == "accepted"
            # 30,000 ETH more (84M worst case): flat 8.4M fits 10M, tiered 2M + 32M > 10M
            worst = 42_000 * 10**18 * (PRICE - 50 * USDC) // 10**18
            assert worst * 1_000 // 10_000 < 10_000_000 * USDC < table.requirement(worst)
            from offchain.client.sdk import KeeperError
            with pytest.raises(KeeperError) as err:
                await client.place(client.order(1, True, PRICE - 50 * USDC, 30_000 * 10**18, nonce=2))
            assert err.value.detail == "margin"
    finally:
        if keeper is not None:
            await keeper.stop(drain=1)
        admin.transact("Exchange", stack.deployment.exchange, "set_margin_tiers", 1, *before)
