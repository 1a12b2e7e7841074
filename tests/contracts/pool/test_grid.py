import ape
import pytest
from tests.constants import ONE



def test_set_grid__admin__readable_in_one_call_with_event(pool, admin):
    receipt = pool.set_grid(1, 10, 25, ONE, True, sender=admin)
    g = pool.grid(1)
    assert (g.levels, g.spacing_bps, g.size_per_level, g.active) == (10, 25, ONE, True)
    assert receipt.events.filter(pool.GridSet) == [
        pool.GridSet(market=1, levels=10, spacing_bps=25, size_per_level=ONE, active=True)
    ]
    assert pool.grid_market_count() == 1
    assert pool.grid_markets(0) == 1


def test_set_grid__update_and_deactivate__market_listed_once(pool, admin):
    pool.set_grid(1, 10, 25, ONE, True, sender=admin)
    pool.set_grid(2, 5, 50, ONE, True, sender=admin)
    pool.set_grid(1, 0, 0, 0, False, sender=admin)
    pool.set_grid(1, 4, 10, ONE, True, sender=admin)
    assert pool.grid_market_count() == 2
    assert [pool.grid_markets(i) for i in range(2)] == [1, 2]
    assert pool.grid(1).levels == 4


def test_grid__unset_market__empty(pool):
    g = pool.grid(7)
    assert (g.levels, g.spacing_bps, g.size_per_level, g.active) == (0, 0, 0, False)


@pytest.mark.parametrize(
    "params, reason",
    [
        ((0, 25, ONE), "pool: levels"),
        ((101, 25, ONE), "pool: levels"),
        ((5, 0, ONE), "pool: spacing"),
        ((5, 10_000, ONE), "pool: spacing"),
        ((5, 25, 0), "pool: size"),
    ],
)
def test_set_grid__invalid_active__reverts(pool, admin, params, reason):
    with ape.reverts(reason):
        pool.set_grid(1, *params, True, sender=admin)


def test_set_agent__admin__approved_on_exchange_with_event(pool, admin, keeper_agent, exchange):
    receipt = pool.set_agent(keeper_agent, True, sender=admin)
    assert receipt.events.filter(pool.AgentSet) == [pool.AgentSet(agent=keeper_agent.address, approved=True)]
    assert exchange.is_agent(pool, keeper_agent)
    pool.set_agent(keeper_agent, False, sender=admin)
    assert not exchange.is_agent(pool, keeper_agent)


def test_agent__trades_pool_account(pool, admin, lp, keeper_agent, taker, trade, fund, exchange, pool_deposit):
    pool_deposit(pool, lp, 10_000 * 10**6)
    pool.set_agent(keeper_agent, True, sender=admin)
    fund(taker, 10_000 * 10**6, spender=exchange)
    exchange.deposit(10_000 * 10**6, sender=taker)
    trade(pool, keeper_agent, taker, taker, True, ONE)
    assert exchange.position(pool, 1)[0] == ONE
