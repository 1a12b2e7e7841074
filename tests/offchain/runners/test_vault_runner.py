"""VaultRunner against an in-memory venue: strategies, keys, modes, withdrawal unwind, claim."""

import asyncio
import dataclasses

import pytest

from offchain.keeper.runners import VaultRunner
from offchain.keeper.runners.configs import StrategyKind, VaultStrategy
from offchain.keeper.runners.plan import VaultSnapshot
from offchain.order import ONE_FILL, POST_ONLY, REDUCE_ONLY, recover_signer

from .fakes import AGENT, DOMAIN, ETH, MARK, OTHER, VAULT, FakeFill, FakeKeeper, FakeVenue

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)

GRID = VaultStrategy(StrategyKind.GRID, 1, levels=4, spacing_bps=25, size_per_level=ETH // 10)
QUOTE = VaultStrategy(StrategyKind.QUOTE, 1, levels=2, size_per_level=ETH // 10, spread_bps=20)
HEDGE = VaultStrategy(StrategyKind.DELTA_NEUTRAL, 1, hedge_threshold=ETH)


async def started(strategy=GRID, agent=AGENT, upkeep=True, **snap):
    venue = FakeVenue()
    venue.chain.vault_states[VAULT] = VaultSnapshot(VAULT, strategy, agent, **snap)
    runner = VaultRunner(venue_factory=lambda keeper: venue, unwind_interval_s=0, upkeep=upkeep)
    await runner.on_start(FakeKeeper())
    return runner, venue


async def update(venue, runner, **changes):
    venue.chain.vault_states[VAULT] = dataclasses.replace(venue.chain.vault_states[VAULT], **changes)
    await runner.on_chain_log({"address": VAULT, "topics": ["0x00"], "data": "0x"})


async def test_vault_runner__grid_strategy__post_only_grid_signed_by_manager_agent():
    _, venue = await started()
    orders = venue.resting(VAULT)
    assert sum(o.is_buy for o in orders) == 4 and sum(not o.is_buy for o in orders) == 4
    assert max(o.price for o in orders if o.is_buy) < min(o.price for o in orders if not o.is_buy)
    for order, sig, _ in venue.placed:
        assert order.flags == POST_ONLY and recover_signer(order, DOMAIN, sig) == AGENT
    assert venue.watched == [VAULT]


async def test_vault_runner__agent_key_not_held__skipped():
    _, venue = await started(agent=OTHER)
    assert venue.placed == []


async def test_vault_runner__quote_strategy__two_levels_each_side():
    _, venue = await started(QUOTE)
    orders = venue.resting(VAULT)
    assert sum(o.is_buy for o in orders) == 2 and sum(not o.is_buy for o in orders) == 2
    assert all(o.price < MARK for o in orders if o.is_buy) and all(o.price > MARK for o in orders if not o.is_buy)


async def test_vault_runner__strategy_changed_event__replaces_engine():
    runner, venue = await started(GRID)
    await update(venue, runner, strategy=QUOTE)
    assert len(venue.resting(VAULT)) == 4 and len(venue.cancelled) == 8


async def test_vault_runner__manager_paused__orders_pulled():
    runner, venue = await started()
    await update(venue, runner, manager_paused=True)
    assert venue.resting(VAULT) == []


async def test_vault_runner__drawdown_halt__only_reduce_only_orders():
    runner, venue = await started()
    venue.pos[(VAULT, 1)] = ETH // 5
    await update(venue, runner, halted=True)
    orders = venue.resting(VAULT)
    assert orders and all(not o.is_buy and o.flags & REDUCE_ONLY for o in orders)
    assert sum(o.size for o in orders) <= ETH // 5


async def test_vault_runner__position_cap__limits_bids():
    runner, venue = await started(position_cap=ETH // 10)
    venue.pos[(VAULT, 1)] = ETH // 10
    await runner.on_timer(0)
    assert not any(o.is_buy for o in venue.resting(VAULT))


async def test_vault_runner__delta_neutral__hedges_beyond_threshold_ioc():
    runner, venue = await started(HEDGE)
    assert venue.placed == []
    venue.pos[(VAULT, 1)] = 3 * ETH
    venue.now += 10_000
    await runner.on_timer(0)
    [(order, _, tif)] = venue.placed
    assert (tif, order.is_buy, order.size, bool(order.flags & REDUCE_ONLY)) == ("IOC", False, 3 * ETH, True)


async def test_vault_runner__delta_neutral_hedge_covered_by_the_book_head__single_fill():
    # the first bid is another account's and takes the whole hedge: the chain's cheap path
    runner, venue = await started(HEDGE)
    venue.heads[(1, True)] = (OTHER, 5 * ETH, MARK)
    venue.pos[(VAULT, 1)] = 3 * ETH
    venue.now += 10_000
    await runner.on_timer(0)
    [(order, _, tif)] = venue.placed
    assert (tif, order.is_buy, order.size, order.flags) == ("IOC", False, 3 * ETH, REDUCE_ONLY | ONE_FILL)
    assert order.nonce % 256 == 0  # the first of a reserved 256-nonce word


async def test_vault_runner__unwind_step_covered_by_the_book_head__single_fill():
    runner, venue = await started()
    venue.heads[(1, True)] = (OTHER, 2 * ETH, MARK)
    venue.pos[(VAULT, 1)] = 4 * ETH
    await update(venue, runner, queue_length=1, head_value=10**9, available=10**8)
    [order] = [o for o, _, tif in venue.placed if tif == "IOC"]
    assert not order.is_buy and order.size == ETH and order.flags == REDUCE_ONLY | ONE_FILL


async def test_vault_runner__withdrawal_shortfall__cancels_then_reduces_in_steps():
    runner, venue = await started()
    assert venue.resting(VAULT)
    venue.pos[(VAULT, 1)] = 4 * ETH
    await update(venue, runner, queue_length=1, head_value=10**9, available=10**8)
    assert venue.resting(VAULT) == []
    unwinds = [(o, tif) for o, _, tif in venue.placed if tif == "IOC"]
    [(order, _)] = unwinds
    assert not order.is_buy and order.size == ETH and order.flags == REDUCE_ONLY  # 25% per step
    assert order.price < MARK


async def test_vault_runner__queue_covered__claims_head():
    runner, venue = await started()
    await update(venue, runner, queue_length=1, queue_head=7, head_value=10**8, available=10**9)
    assert (VAULT.lower(), "claim", (7,)) in [(a.lower(), f, args) for a, f, args in venue.transacted]


async def test_vault_runner__forced_unwind__signs_with_unwind_agent():
    runner, venue = await started(agent=OTHER)
    venue.pos[(VAULT, 1)] = -ETH
    await update(venue, runner, unwinding=True, unwind_agent=AGENT, queue_length=1, head_value=10**9)
    [(order, sig, tif)] = venue.placed
    assert order.is_buy and tif == "IOC" and recover_signer(order, DOMAIN, sig) == AGENT


async def test_vault_runner__fill_of_grid_order__flips():
    runner, venue = await started()
    best_bid = max((o for o in venue.resting(VAULT) if o.is_buy), key=lambda o: o.price)
    venue.live[VAULT] = [x for x in venue.live[VAULT] if x[1] != best_bid]
    n = len(venue.placed)
    await runner.on_fill(FakeFill(1, VAULT, True, best_bid.price, best_bid.size))
    new = [o for o, _, _ in venue.placed[n:]]
    assert any(not o.is_buy and o.price > best_bid.price for o in new)


async def test_vault_runner__vault_created_event__tracks_new_vault():
    from offchain.keeper.runners.chainview import FACTORY_TOPICS

    runner, venue = await started()
    from eth_utils import to_checksum_address

    other = to_checksum_address("0x" + "ee" * 20)
    venue.chain.vault_states[other] = VaultSnapshot(other, QUOTE, AGENT)
    await runner.on_chain_log({"address": FakeKeeper.config.contracts.factory,
                             "topics": [FACTORY_TOPICS["VaultCreated"], "0x" + "00" * 12 + "ee" * 20],
                             "data": "0x"})
    assert other in runner.vaults and len(venue.resting(other)) == 4


def exchange_log(name, account, *more_topics):
    from offchain.keeper.runners.chainview import EXCHANGE_TOPICS

    return {"address": "0x" + "ee" * 20, "data": "0x" + "00" * 32,
            "topics": [EXCHANGE_TOPICS[name], "0x" + "00" * 12 + account[2:].lower(), *more_topics]}


async def tick(runner):
    await runner.on_timer(0)
    await asyncio.gather(*runner.pending_upkeep())


async def test_vault_runner__exchange_close_only_log__acts_at_once():
    runner, venue = await started()
    venue.pos[(VAULT, 1)] = ETH // 5
    venue.chain.vault_states[VAULT] = dataclasses.replace(venue.chain.vault_states[VAULT], close_only=True)
    await runner.on_chain_log(exchange_log("CloseOnlySet", VAULT))  # no timer, no vault log
    orders = venue.resting(VAULT)
    assert orders and all(not o.is_buy and o.flags & REDUCE_ONLY for o in orders)


async def test_vault_runner__exchange_log_of_other_account__ignored():
    runner, venue = await started()
    n = len(venue.placed)
    venue.chain.vault_states[VAULT] = dataclasses.replace(venue.chain.vault_states[VAULT], manager_paused=True)
    await runner.on_chain_log(exchange_log("LeverageCapSet", OTHER))
    assert len(venue.placed) == n and venue.resting(VAULT)  # not re-read: still running


async def test_vault_runner__slow_poll__safety_net_only():
    runner, venue = await started(upkeep=False)  # an upkeep tx re-reads the vault too
    assert runner.refresh_interval_ms == 30_000 and runner.busy_refresh_interval_ms == 5_000
    venue.chain.vault_states[VAULT] = dataclasses.replace(venue.chain.vault_states[VAULT], manager_paused=True)
    venue.now += 6_000
    await runner.on_timer(0)
    assert venue.resting(VAULT)  # idle vault: 6 s is not a re-read
    venue.now += 25_000
    await runner.on_timer(0)
    assert venue.resting(VAULT) == []


async def test_vault_runner__upkeep__checkpoint_each_interval():
    runner, venue = await started()
    await tick(runner)
    await tick(runner)
    assert [f for _, f, _ in venue.transacted] == ["checkpoint"]
    venue.now += 60_000
    await tick(runner)
    assert [f for _, f, _ in venue.transacted] == ["checkpoint", "checkpoint"]


async def test_vault_runner__upkeep__halted_vault_not_checkpointed():
    runner, venue = await started(halted=True)
    await tick(runner)
    assert venue.transacted == []


async def test_vault_runner__unwind_due__start_unwind_sent():
    runner, venue = await started(queue_length=1, head_value=10**9, available=10**8, unwind_due=True)
    await tick(runner)
    assert [f for _, f, _ in venue.transacted] == ["start_unwind"]
    await update(venue, runner, unwinding=True, unwind_due=False)
    venue.now += 60_000
    await tick(runner)
    assert [f for _, f, _ in venue.transacted] == ["start_unwind"]  # unwinding: no checkpoint either


async def test_vault_runner__fill_rejected__grid_flip_undone():
    runner, venue = await started()
    before = sorted((o.is_buy, o.price, o.size) for o in venue.resting(VAULT))
    best_bid = max((o for o in venue.resting(VAULT) if o.is_buy), key=lambda o: o.price)
    venue.live[VAULT] = [x for x in venue.live[VAULT] if x[1] != best_bid]
    fill = FakeFill(1, VAULT, True, best_bid.price, best_bid.size, id=41)
    await runner.on_fill(fill)
    assert sorted((o.is_buy, o.price, o.size) for o in venue.resting(VAULT)) != before
    await runner.on_fill_rejected(fill)
    assert sorted((o.is_buy, o.price, o.size) for o in venue.resting(VAULT)) == before
    await runner.on_fill_rejected(fill)  # twice: nothing more to undo
    assert sorted((o.is_buy, o.price, o.size) for o in venue.resting(VAULT)) == before


async def test_vault_runner__unwind__limit_clamped_inside_vault_trade_guard():
    # the runner allows 100 bps of slippage, the vault's guard skips fills beyond 50 bps of
    # the mark: the unwind's limit stays inside the guard (40 bps: a fifth left for drift)
    runner, venue = await started(max_mark_distance_bps=50)
    assert runner.unwind_slippage_bps == 100
    venue.pos[(VAULT, 1)] = 4 * ETH
    await update(venue, runner, queue_length=1, head_value=10**9, available=10**8)
    [order] = [o for o, _, tif in venue.placed if tif == "IOC"]
    assert not order.is_buy and order.flags == REDUCE_ONLY
    assert (MARK - order.price) * 10_000 <= MARK * 40
    assert order.price < MARK


async def test_vault_runner__unwind__short_position_buys_inside_guard():
    runner, venue = await started(max_mark_distance_bps=10)
    venue.pos[(VAULT, 1)] = -4 * ETH
    await update(venue, runner, queue_length=1, head_value=10**9, available=10**8)
    [order] = [o for o, _, tif in venue.placed if tif == "IOC"]
    assert order.is_buy and MARK < order.price and (order.price - MARK) * 10_000 <= MARK * 8


async def test_vault_runner__grid_beyond_trade_guard__levels_outside_not_placed():
    # a manager's grid of 4 levels 25 bps apart (25..100 bps from the mark) on a vault whose
    # guard skips fills beyond 50 bps: only the levels within 40 bps (4/5 of it) rest, so
    # no follower ever sees a fill the chain skips "mark distance"
    _, venue = await started(max_mark_distance_bps=50)
    orders = venue.resting(VAULT)
    assert orders and all(abs(o.price - MARK) * 10_000 <= MARK * 40 for o in orders)
    assert sum(o.is_buy for o in orders) == 1 and sum(not o.is_buy for o in orders) == 1
    # without a guard the same grid rests all 8
    _, unguarded = await started()
    assert len(unguarded.resting(VAULT)) == 8


async def test_vault_runner__mark_moves__resting_level_outside_guard_cancelled():
    runner, venue = await started(max_mark_distance_bps=50)
    before = {(o.is_buy, o.price) for o in venue.resting(VAULT)}
    mark = MARK * 10_030 // 10_000  # +30 bps: the resting bid is now ~55 bps under the mark
    venue.marks[1] = venue.market(mark)
    await runner.on_timer(0)
    after = venue.resting(VAULT)
    assert all(abs(o.price - mark) * 10_000 <= mark * 40 for o in after)
    assert {(o.is_buy, o.price) for o in after} != before
