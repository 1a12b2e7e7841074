"""Runners against a real anvil: configs read from chain -> signed orders; the pool runner
inside a running Keeper puts its grid on the book and follows GridSet."""

from __future__ import annotations

import asyncio
import time

import pytest
from web3 import Web3

from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.devnet import Anvil
from offchain.keeper.chain import Chain
from offchain.keeper.config import ChainConfig, Contracts, JournalConfig, KeeperConfig
from offchain.keeper.devstack import deploy_stack, fund
from offchain.keeper.keys import Key
from offchain.keeper.runners import ChainView, OrderSigner, PoolGridRunner, VaultRunner
from offchain.keeper.runners.chainview import VAULT_TOPICS
from offchain.keeper.runners.configs import StrategyKind, pool_grid_config, vault_grid_config
from offchain.order import ONE_FILL, POST_ONLY, REDUCE_ONLY, Domain, address_of, order_hash, recover_signer
from offchain.strategies import GridEngine, MarketState
from tests.constants import USDC

pytestmark = pytest.mark.e2e

ETH = 10**18


def key(k: str) -> Key:
    return Key(address_of(k), k)


@pytest.fixture(scope="module")
def runner_stack():
    with Anvil(accounts=10) as node:
        keys = node.private_keys()
        s = deploy_stack(node.url, keys, traders=1)
        w3 = Web3(Web3.HTTPProvider(node.url))
        admin = Web3Deployer(w3, keys[0])
        # an LP funds the pool (its Exchange account backs the grid's margin)
        lp = Web3Deployer(w3, keys[6])
        admin.transact("TestUSDC", s.deployment.usdc, "mint", lp.address, 1_000_000 * USDC)
        lp.transact("TestUSDC", s.deployment.usdc, "approve", s.deployment.pool, 1_000_000 * USDC)
        pool = w3.eth.contract(address=s.deployment.pool, abi=abi("LiquidityPool"))
        lp.send_call(pool.get_function_by_signature("deposit(uint256)")(1_000_000 * USDC))
        # a vault (owner key 7) managed by key 8, which publishes a grid strategy
        owner, manager = Web3Deployer(w3, keys[7]), Web3Deployer(w3, keys[8])
        owner.transact("VaultFactory", s.deployment.vault_factory, "create_vault", "Alpha", manager.address)
        factory = w3.eth.contract(address=s.deployment.vault_factory, abi=abi("VaultFactory"))
        vault = factory.functions.vaults(0).call()
        manager.transact("Vault", vault, "set_strategy", (StrategyKind.GRID, 1, 4, 0, 0, 25, ETH // 10, 0, 0, b""))
        admin.transact("TestUSDC", s.deployment.usdc, "mint", owner.address, 50_000 * USDC)
        owner.transact("TestUSDC", s.deployment.usdc, "approve", vault, 50_000 * USDC)
        owner.transact("Vault", vault, "deposit", 50_000 * USDC)
        yield s, w3, keys, vault


@pytest.fixture(autouse=True)
def runner_chain(runner_stack):
    """Each test starts from `runner_stack`'s chain: an anvil snapshot, reverted after the
    test. Tests here change the pool's grid and the vault's strategy, and pytest-xdist's
    worksteal may run them before the test that reads the deployed ones."""
    w3 = runner_stack[1]
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True


def chain_view(s, operator_key) -> tuple[Chain, ChainView]:
    d = s.deployment
    chain = Chain(s.url, Contracts(exchange=d.exchange, oracle=d.oracle), key(operator_key))
    return chain, ChainView(chain.call, exchange=d.exchange, oracle=d.oracle, pool=d.pool, factory=d.vault_factory)


def check_orders(signed, account, agent, domain, market_info, w3, exchange):
    tick, lot = market_info
    bids = [o.price for o, _, _ in signed if o.is_buy]
    asks = [o.price for o, _, _ in signed if not o.is_buy]
    assert bids and asks and max(bids) < min(asks)
    for order, sig, tif in signed:
        assert order.account == account and tif == "GTC" and order.flags == POST_ONLY
        assert order.price % tick == 0 and order.size % lot == 0
        assert recover_signer(order, domain, sig) == agent
    order = signed[0][0]
    assert exchange.functions.hash_order(order.as_tuple()).call() == order_hash(order, domain)
    assert exchange.functions.is_agent(account, agent).call()


def test_runners_anvil__pool_grid_and_vault_strategy_from_chain__signed_orders(runner_stack):
    s, w3, keys, vault = runner_stack
    d = s.deployment
    exchange = w3.eth.contract(address=d.exchange, abi=abi("Exchange"))
    domain = Domain(d.chain_id, d.exchange)
    tick, lot, min_size = exchange.functions.markets(1).call()[:3]

    async def read():
        chain, view = chain_view(s, keys[1])
        try:
            return (await view.grid_markets(), await view.pool_grid(1), await view.price_info(1),
                    await view.read_vault(vault), await view.vaults())
        finally:
            await chain.close()

    markets, params, (mark, updated_at, halted), snap, vaults = asyncio.run(read())
    assert markets == [1, 2] and (params.levels, params.spacing_bps, params.size_per_level) == (10, 30, ETH // 10)
    assert vaults == [vault] and snap.strategy.kind == StrategyKind.GRID and snap.agent == address_of(keys[8])
    state = MarketState(1, None, None, mark, updated_at * 1000, halted, tick, lot, min_size)
    now_s = int(time.time())

    pool_orders = GridEngine(pool_grid_config(params, mark)).desired(state)
    signed = OrderSigner(domain, key(keys[3]), d.pool, first_nonce=1).batch(pool_orders, "GTC", now_s)
    assert len(signed) == 20
    check_orders(signed, d.pool, address_of(keys[3]), domain, (tick, lot), w3, exchange)

    vault_orders = GridEngine(vault_grid_config(snap.strategy, mark)).desired(state)
    signed = OrderSigner(domain, key(keys[8]), vault, first_nonce=1).batch(vault_orders, "GTC", now_s)
    assert len(signed) == 8 and all(o.size == ETH // 10 for o, _, _ in signed)
    check_orders(signed, vault, address_of(keys[8]), domain, (tick, lot), w3, exchange)


def test_runners_anvil__runners_in_keeper__grids_on_book_and_events_followed(runner_stack, tmp_path):
    from offchain.keeper.service import Keeper

    s, w3, keys, vault = runner_stack
    d = s.deployment
    config = KeeperConfig(chain=ChainConfig(rpc_url=s.url, confirmations=0, poll_interval=0.1),
                          contracts=Contracts(**s.contracts()), journal=JournalConfig(url=f"sqlite:///{tmp_path}/k.db"))

    async def wait_for(predicate, timeout=120.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("condition not met")

    async def scenario():
        runner = PoolGridRunner()
        vault_runner = VaultRunner()
        keeper = Keeper(config, operator=key(keys[1]), reporter=key(keys[2]), agents=[key(keys[3]), key(keys[8])],
                        runners=[runner, vault_runner], serve_api=False)
        await keeper.start()
        try:
            def pool_orders(market):
                return [o for o in keeper.core.open_orders(d.pool) if o.order.market == market]

            await wait_for(lambda: len(pool_orders(1)) == 20 and len(pool_orders(2)) == 20)
            bids, asks = keeper.core.engine.depth(1, 50)
            book = {p for p, _ in bids} | {p for p, _ in asks}
            assert {o.order.price for o in pool_orders(1)} <= book and bids[0][0] < asks[0][0]
            assert max(o.order.price for o in pool_orders(1) if o.order.is_buy) < min(
                o.order.price for o in pool_orders(1) if not o.order.is_buy)
            assert all(o.signer == address_of(keys[3]) for o in pool_orders(1))
            # GridSet: 3 levels a side, 0.2 ETH each
            await asyncio.to_thread(Web3Deployer(w3, keys[0]).transact, "LiquidityPool", d.pool, "set_grid",
                                    1, 3, 50, 2 * ETH // 10, True)
            await wait_for(lambda: len(pool_orders(1)) == 6
                           and all(o.order.size == 2 * ETH // 10 for o in pool_orders(1)))
            assert len(pool_orders(2)) == 20
            # the vault's grid (4 levels a side 25 bps apart, signed by its manager agent):
            # its trade guard (50 bps, read from chain) leaves only the levels within 40
            # bps on the book, one a side; the chain would skip fills of the others. Then a
            # StrategyChanged to two-sided quotes (2 levels) replaces it
            vault_orders = lambda: keeper.core.open_orders(vault)  # noqa: E731
            await wait_for(lambda: len(vault_orders()) == 2)
            assert all(o.signer == address_of(keys[8]) for o in vault_orders())
            mark = keeper.core.marks[1]
            assert all(abs(o.order.price - mark) * 10_000 <= mark * 40 for o in vault_orders())
            assert {o.order.is_buy for o in vault_orders()} == {True, False}
            await asyncio.to_thread(Web3Deployer(w3, keys[8]).transact, "Vault", vault, "set_strategy",
                                    (StrategyKind.QUOTE, 1, 2, 0, 0, 0, ETH // 20, 20, 0, b""))
            await wait_for(lambda: len(vault_orders()) == 4
                           and all(o.order.size == ETH // 20 for o in vault_orders()))
            # upkeep: the vault's checkpoint() went out from the operator key, through the
            # nonce manager settlement uses
            checkpoint_topic = VAULT_TOPICS["Checkpoint"]
            await wait_for(lambda: w3.eth.get_logs({"address": vault, "fromBlock": 0,
                                                    "topics": [checkpoint_topic]}))
            (entry,) = w3.eth.get_logs({"address": vault, "fromBlock": 0, "topics": [checkpoint_topic]})[:1]
            assert w3.eth.get_transaction(entry["transactionHash"])["from"] == address_of(keys[1])
            assert keeper.watcher.watching(vault) and vault_runner.vaults[vault].checkpoint_at > 0
        finally:
            await keeper.stop(drain=1.0)
        return runner

    runner = asyncio.run(scenario())
    assert runner.params[1].levels == 3


def test_runners_anvil__vault_unwind_order__inside_trade_guard_settles(runner_stack):
    """The runner's unwind limit (100 bps setting) is clamped inside the vault's 50 bps guard
    read from chain: a counterparty bidding at that limit fills the unwind; the unclamped
    limit would have been skipped "mark distance" (and retried forever)."""
    from offchain.client.wallet import KeySigner
    from offchain.keeper.runners.plan import unwind_orders, unwind_slippage_bps
    from offchain.order import Order, sign_order

    s, w3, keys, vault = runner_stack
    d = s.deployment
    exchange = w3.eth.contract(address=d.exchange, abi=abi("Exchange"))
    domain = Domain(d.chain_id, d.exchange)
    tick, lot, min_size = exchange.functions.markets(1).call()[:3]
    trader = s.trader_keys[0]
    nonce = int(time.time() * 10**6)

    def settle(maker, maker_key, taker, taker_key):
        fill = (maker.as_tuple(), sign_order(maker, domain, maker_key).as_tuple(),
                taker.as_tuple(), sign_order(taker, domain, taker_key).as_tuple(), min(maker.size, taker.size))
        receipt = KeySigner(w3, s.operator_key).send(
            {"to": d.exchange, "data": exchange.functions.settle([fill])._encode_transaction_data()})
        return (list(exchange.events.FillSettled().process_receipt(receipt)),
                [e.args.reason for e in exchange.events.FillSkipped().process_receipt(receipt)])

    async def read():
        chain, view = chain_view(s, keys[1])
        try:
            return await view.read_vault(vault), await view.price_info(1)
        finally:
            await chain.close()

    # the vault (its manager's key) buys 2 ETH at the mark from the trader
    Web3Deployer(w3, keys[0]).transact("Oracle", d.oracle, "set_price", 1, 2_000 * USDC)
    mark = 2_000 * USDC
    ok, skipped = settle(Order(vault, 1, True, mark, 2 * ETH, nonce, 2**40, 0), keys[8],
                         Order(address_of(trader), 1, False, mark, 2 * ETH, nonce + 1, 2**40, 0), trader)
    assert len(ok) == 1, skipped
    snap, (mark, updated_at, halted) = asyncio.run(read())
    assert snap.max_mark_distance_bps == 50
    state = MarketState(1, None, None, mark, updated_at * 1000, halted, tick, lot, min_size)
    slippage = unwind_slippage_bps(100, snap)
    assert slippage == 40
    for bps, expect in ((100, "mark distance"), (slippage, None)):
        [unwind] = unwind_orders({1: 2 * ETH}, {1: state}, step_bps=10_000, slippage_bps=bps)
        assert not unwind.is_buy and unwind.reduce_only
        nonce += 10
        # a bid resting at exactly the unwind's limit (the worst price the vault accepts)
        bid = Order(address_of(trader), 1, True, unwind.price, unwind.size, nonce, 2**40, POST_ONLY)
        ask = Order(vault, 1, False, unwind.price, unwind.size, nonce + 1, 2**40, 2)  # reduce-only taker
        ok, skipped = settle(bid, trader, ask, keys[8])
        if expect is None:
            assert len(ok) == 1 and ok[0].args.price == unwind.price, skipped
        else:
            assert ok == [] and skipped == [expect]
    assert exchange.functions.position(vault, 1).call()[0] == 0
    # the same step as the runner now sends it when the book's head covers it: single-fill
    # (takers.py), on the vault's nonce bitmap, inside the guard like the ordinary one
    nonce += 10
    ok, skipped = settle(Order(vault, 1, True, mark, ETH, nonce, 2**40, 0), keys[8],
                         Order(address_of(trader), 1, False, mark, ETH, nonce + 1, 2**40, 0), trader)
    assert len(ok) == 1, skipped
    [unwind] = unwind_orders({1: ETH}, {1: state}, step_bps=10_000, slippage_bps=slippage)
    one_fill = 256 * (nonce // 256 + 1)  # the first of a fresh bitmap word, as OrderNonces picks
    bid = Order(address_of(trader), 1, True, unwind.price, unwind.size, nonce + 2, 2**40, POST_ONLY)
    ask = Order(vault, 1, False, unwind.price, unwind.size, one_fill, 2**40, REDUCE_ONLY | ONE_FILL)
    ok, skipped = settle(bid, trader, ask, keys[8])
    assert len(ok) == 1, skipped
    assert exchange.functions.nonce_used(vault, one_fill).call() is True
    assert exchange.functions.position(vault, 1).call()[0] == 0


def test_runners_anvil__vault_managers_order_beyond_trade_guard__refused_at_admission(runner_stack, tmp_path):
    """The vault's 50 bps trade guard (set by the Vault at creation, read from the chain's
    TradeGuardSet log at start) is checked at admission: the manager's order 1% from mark
    is refused "mark distance" with nothing journaled, instead of reaching the chain and
    being skipped; one 40 bps away rests."""
    from offchain.keeper.journal import Journal
    from offchain.keeper.service import Keeper
    from offchain.order import Order, sign_order

    s, w3, keys, vault = runner_stack
    d = s.deployment
    url = f"sqlite:///{tmp_path}/k.db"
    config = KeeperConfig(chain=ChainConfig(rpc_url=s.url, confirmations=0, poll_interval=0.1),
                          contracts=Contracts(**s.contracts()), journal=JournalConfig(url=url))
    domain = Domain(d.chain_id, d.exchange)

    async def scenario():
        keeper = Keeper(config, operator=key(keys[1]), reporter=key(keys[2]), serve_api=False)
        await keeper.start()
        try:
            mark = keeper.core.marks[1]
            nonce = int(time.time() * 10**6)
            far = Order(vault, 1, True, mark * 10_100 // 10_000 // 10_000 * 10_000, ETH // 10, nonce, 2**40, POST_ONLY)
            near = Order(vault, 1, True, mark * 9_960 // 10_000 // 10_000 * 10_000, ETH // 10, nonce + 1, 2**40,
                         POST_ONLY)
            results = await keeper.gateway.place_batch([(o, sign_order(o, domain, keys[8]), "GTC") for o in (far, near)])
            return keeper.core.accounts[vault].guard, results
        finally:
            await keeper.stop(drain=1.0)

    guard, results = asyncio.run(scenario())
    assert guard is not None and guard.max_mark_distance_bps == 50
    assert [(r["status"], r.get("reason")) for r in results] == [("rejected", "mark distance"), ("accepted", None)]
    journal = Journal(url)
    try:
        assert [r.kind for r in journal.commands() if r.kind == "place"] == ["place"]
    finally:
        journal.close()
