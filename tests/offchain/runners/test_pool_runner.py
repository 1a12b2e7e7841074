"""PoolGridRunner against an in-memory venue: config from chain, GridSet, fills, risk."""

import pytest

from offchain.keeper.runners import PoolGridRunner
from offchain.keeper.runners.chainview import POOL_TOPICS
from offchain.keeper.runners.configs import PoolGridParams
from offchain.order import POST_ONLY, recover_signer
from offchain.strategies import RiskLimits

from .fakes import AGENT, AGENT_KEY, DOMAIN, ETH, MARK, POOL, TICK, FakeFill, FakeKeeper, FakeVenue

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)


async def started(levels=5, spacing=30, size=ETH // 10, limits=None, agents=None):
    venue = FakeVenue(agents={POOL: {AGENT}} if agents is None else agents)
    venue.chain.grids[1] = PoolGridParams(1, levels, spacing, size, True)
    kw = {"limits": limits} if limits else {}
    runner = PoolGridRunner(venue_factory=lambda keeper: venue, **kw)
    await runner.on_start(FakeKeeper())
    return runner, venue


def grid_set_log(market, levels, spacing, size, active=True):
    data = b"".join(x.to_bytes(32, "big") for x in (levels, spacing, size, int(active)))
    return {"address": POOL, "topics": [POOL_TOPICS["GridSet"], "0x" + market.to_bytes(32, "big").hex()],
            "data": "0x" + data.hex()}


async def test_pool_runner__start__places_post_only_grid_signed_by_agent():
    _, venue = await started(levels=5)
    orders = venue.resting(POOL)
    bids = sorted(o.price for o in orders if o.is_buy)
    asks = sorted(o.price for o in orders if not o.is_buy)
    assert len(bids) == 5 and len(asks) == 5
    assert max(bids) < MARK < min(asks)
    for order, sig, tif in venue.placed:
        assert order.account == POOL and order.flags == POST_ONLY and tif == "GTC"
        assert order.price % TICK == 0 and order.size == ETH // 10
        assert recover_signer(order, DOMAIN, sig) == AGENT


async def test_pool_runner__no_agent_approved_by_pool__does_not_quote():
    _, venue = await started(agents={})
    assert venue.placed == []


async def test_pool_runner__timer_without_change__keeps_orders():
    runner, venue = await started()
    n = len(venue.placed)
    await runner.on_timer(0)
    assert len(venue.placed) == n and venue.cancelled == []


async def test_pool_runner__grid_set_event__rebuilds_grid():
    runner, venue = await started(levels=5, spacing=30)
    old = {o.price for o in venue.resting(POOL)}
    await runner.on_chain_log(grid_set_log(1, 3, 50, ETH // 5))
    orders = venue.resting(POOL)
    assert len(orders) == 6 and all(o.size == ETH // 5 for o in orders)
    assert old.isdisjoint({o.price for o in orders}) or len(venue.cancelled) >= 10
    assert runner.params[1].spacing_bps == 50


async def test_pool_runner__grid_set_inactive__pulls_orders():
    runner, venue = await started()
    await runner.on_chain_log(grid_set_log(1, 5, 30, ETH // 10, active=False))
    assert venue.resting(POOL) == [] and 1 not in runner.makers


async def test_pool_runner__buy_filled__flips_to_sell_one_step_up():
    runner, venue = await started(levels=3)
    best_bid = max((o for o in venue.resting(POOL) if o.is_buy), key=lambda o: o.price)
    # the book took our best bid: it leaves the book, the grid flips it
    venue.live[POOL] = [x for x in venue.live[POOL] if x[1] != best_bid]
    venue.pos[(POOL, 1)] = best_bid.size
    await runner.on_fill(FakeFill(1, POOL, True, best_bid.price, best_bid.size))
    asks = sorted(o.price for o in venue.resting(POOL) if not o.is_buy)
    assert asks[0] < MARK + MARK * 30 // 10_000  # a new ask one step above the filled bid, below the old best ask
    assert asks[0] > best_bid.price


async def test_pool_runner__stale_mark__pulls_everything():
    runner, venue = await started(limits=RiskLimits(max_mark_age_ms=60_000))
    venue.now += 61_000
    await runner.on_timer(0)
    assert venue.resting(POOL) == []


async def test_pool_runner__halted_market__pulls_everything():
    runner, venue = await started()
    venue.marks[1] = FakeVenue.market(MARK, halted=True)
    await runner.on_timer(0)
    assert venue.resting(POOL) == []


async def test_pool_runner__position_cap__drops_bids_when_long():
    runner, venue = await started(levels=5, limits=RiskLimits(max_position=ETH // 10))
    # filled above the cap: no more bids
    venue.pos[(POOL, 1)] = ETH // 10
    await runner.on_timer(0)
    assert not any(o.is_buy for o in venue.resting(POOL))


async def test_pool_runner__price_leaves_range__grid_recentres():
    runner, venue = await started(levels=3, spacing=30)
    venue.marks[1] = FakeVenue.market(MARK * 12 // 10)
    await runner.on_timer(0)
    orders = venue.resting(POOL)
    assert orders and all(abs(o.price - MARK * 12 // 10) < MARK // 20 for o in orders)


async def test_pool_runner__stop__pulls_orders():
    runner, venue = await started()
    await runner.on_stop()
    assert venue.resting(POOL) == []


async def test_pool_runner__fill_rejected__flip_undone_and_level_replaced():
    runner, venue = await started(levels=5)
    before = sorted((o.is_buy, o.price, o.size) for o in venue.resting(POOL))
    best_ask = min((o for o in venue.resting(POOL) if not o.is_buy), key=lambda o: o.price)
    venue.live[POOL] = [x for x in venue.live[POOL] if x[1] != best_ask]  # it traded
    fill = FakeFill(1, POOL, False, best_ask.price, best_ask.size, id=7)
    await runner.on_fill(fill)
    assert any(o.is_buy and o.price < best_ask.price for o in venue.resting(POOL))
    # the chain skipped it: the keeper pulled the remainder; the grid withdraws its flip
    await runner.on_fill_rejected(fill)
    assert sorted((o.is_buy, o.price, o.size) for o in venue.resting(POOL)) == before


async def test_pool_runner__agent_revoked_log__switches_to_other_approved_key():
    from offchain.keeper.runners.chainview import EXCHANGE_TOPICS
    from offchain.order import address_of

    from .fakes import OTHER, OTHER_KEY

    venue = FakeVenue(keys=(AGENT_KEY, OTHER_KEY), agents={POOL: {AGENT}})
    venue.chain.grids[1] = PoolGridParams(1, 3, 30, ETH // 10, True)
    runner = PoolGridRunner(venue_factory=lambda keeper: venue)
    await runner.on_start(FakeKeeper())
    assert runner.signer.agent == AGENT
    log = {"address": "0x" + "ee" * 20, "data": "0x" + "00" * 32,
           "topics": [EXCHANGE_TOPICS["AgentSet"], "0x" + "00" * 12 + POOL[2:], "0x" + "00" * 12 + AGENT[2:]]}
    venue.agents[POOL] = {OTHER}
    venue.live[POOL] = []  # the keeper dropped the revoked agent's orders
    n = len(venue.placed)
    await runner.on_chain_log(log)
    assert runner.signer.agent == OTHER == address_of(OTHER_KEY)
    assert len(venue.resting(POOL)) == 6
    assert all(recover_signer(o, DOMAIN, s) == OTHER for o, s, _ in venue.placed[n:])
    venue.agents[POOL] = set()
    await runner.on_chain_log(log)
    assert runner.signer is None


async def test_pool_runner__timer__distribute_fees_on_schedule():
    runner, venue = await started()

    async def ticks():
        await runner.on_timer(0)
        await runner.fees_task
        await runner.on_timer(0)  # within fee_interval_s: not sent again
        assert runner.fees_task.done()

    await ticks()
    assert [(a.lower(), fn) for a, fn, _ in venue.transacted] == [(POOL.lower(), "distribute_fees")]
