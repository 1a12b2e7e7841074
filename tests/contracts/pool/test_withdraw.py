import ape
import pytest

from tests.constants import USDC

VIRTUAL = 10**6


@pytest.fixture
def funded_pool(pool, lp, follower, pool_deposit):
    pool_deposit(pool, lp, 10_000 * USDC)
    pool_deposit(pool, follower, 10_000 * USDC)
    return pool


def test_redeem__within_lockup__reverts(funded_pool, lp):
    with ape.reverts("pool: locked"):
        funded_pool.redeem(10**12, sender=lp)  # 1 USDC
    assert funded_pool.maxWithdraw(lp) == 0
    assert funded_pool.maxRedeem(lp) == 0


def test_redeem__after_lockup__paid_with_event(funded_pool, lp, after_lockup, usdc):
    pool = funded_pool
    after_lockup()
    shares = pool.balanceOf(lp) // 10
    expected = pool.previewRedeem(shares)
    receipt = pool.redeem(shares, lp, lp, expected, sender=lp)
    assert usdc.balanceOf(lp) == expected == 1_000 * USDC
    assert receipt.events.filter(pool.Withdraw) == [
        pool.Withdraw(sender=lp.address, receiver=lp.address, owner=lp.address, assets=expected, shares=shares)
    ]


def test_redeem__min_assets_above__reverts(funded_pool, lp, after_lockup):
    after_lockup()
    with ape.reverts("pool: slippage"):
        funded_pool.redeem(10**12, lp, lp, USDC + 1, sender=lp)


def test_withdraw__exact_assets__shares_rounded_up_bounded(funded_pool, lp, stranger, fund, exchange, after_lockup, usdc):
    pool = funded_pool
    fund(stranger, USDC, spender=exchange)
    exchange.deposit_for(pool, 123_457, sender=stranger)
    after_lockup()
    expected = pool.previewWithdraw(1_000 * USDC)
    with ape.reverts("pool: slippage"):
        pool.withdraw(1_000 * USDC, lp, lp, expected - 1, sender=lp)
    before = pool.balanceOf(lp)
    pool.withdraw(1_000 * USDC, lp, lp, expected, sender=lp)
    assert before - pool.balanceOf(lp) == expected
    assert usdc.balanceOf(lp) == 1_000 * USDC


def test_withdraw__over_daily_limit__reverts_until_next_day(funded_pool, lp, after_lockup, chain):
    pool = funded_pool
    after_lockup()
    # 20% of 20k per day = 4k
    pool.withdraw(3_000 * USDC, sender=lp)
    assert pool.maxWithdraw(lp) == 1_000 * USDC
    with ape.reverts("pool: daily limit"):
        pool.withdraw(1_000 * USDC + 1, sender=lp)
    pool.withdraw(1_000 * USDC, sender=lp)
    chain.pending_timestamp += 86_400
    pool.withdraw(3_000 * USDC, sender=lp)


def test_redeem__by_approved_spender__allowance_spent(funded_pool, lp, stranger, after_lockup, usdc):
    pool = funded_pool
    after_lockup()
    pool.approve(stranger, 10**12, sender=lp)
    pool.redeem(10**12, stranger, lp, sender=stranger)
    assert usdc.balanceOf(stranger) == USDC
    assert pool.allowance(lp, stranger) == 0
    with ape.reverts("erc20: insufficient allowance"):
        pool.redeem(10**12, stranger, lp, sender=stranger)


def test_redeem__beyond_free_collateral__reverts(funded_pool, lp, operator, taker, trade, fund, exchange, keeper_agent, admin, after_lockup, set_price):
    pool = funded_pool
    pool.set_agent(keeper_agent, True, sender=admin)
    pool.set_daily_withdraw_limit(10_000, sender=admin)
    fund(taker, 1_000_000 * USDC, spender=exchange)
    exchange.deposit(1_000_000 * USDC, sender=taker)
    trade(pool, keeper_agent, taker, taker, True, 95 * 10**18)  # 190k notional, 19k margin of 20k
    after_lockup()
    set_price(2_000 * USDC)
    assert pool.maxWithdraw(lp) < 10_000 * USDC
    with ape.reverts("pool: liquidity"):
        pool.redeem(pool.balanceOf(lp), sender=lp)


def test_transfer__locked__reverts_then_allowed(funded_pool, lp, stranger, after_lockup):
    pool = funded_pool
    with ape.reverts("pool: locked"):
        pool.transfer(stranger, 1, sender=lp)
    pool.approve(stranger, 1, sender=lp)
    with ape.reverts("pool: locked"):
        pool.transferFrom(lp, stranger, 1, sender=stranger)
    after_lockup()
    pool.transfer(stranger, 1, sender=lp)
    pool.transferFrom(lp, stranger, 1, sender=stranger)
    assert pool.balanceOf(stranger) == 2


def test_admin_setters__events_and_bounds(pool, admin, stranger):
    r = pool.set_deposit_cap(5, sender=admin)
    assert r.events.filter(pool.DepositCapSet) == [pool.DepositCapSet(cap=5)]
    r = pool.set_lockup(0, sender=admin)
    assert r.events.filter(pool.LockupSet) == [pool.LockupSet(lockup=0)]
    r = pool.set_daily_withdraw_limit(10_000, sender=admin)
    assert r.events.filter(pool.DailyWithdrawLimitSet) == [pool.DailyWithdrawLimitSet(bps=10_000)]
    with ape.reverts("pool: lockup"):
        pool.set_lockup(30 * 86_400 + 1, sender=admin)
    for bad in (0, 10_001):
        with ape.reverts("pool: daily limit"):
            pool.set_daily_withdraw_limit(bad, sender=admin)
    for call in (
        lambda: pool.set_deposit_cap(1, sender=stranger),
        lambda: pool.set_lockup(1, sender=stranger),
        lambda: pool.set_daily_withdraw_limit(1, sender=stranger),
        lambda: pool.set_agent(stranger, True, sender=stranger),
        lambda: pool.set_grid(1, 1, 1, 1, True, sender=stranger),
    ):
        with ape.reverts("ownable: caller is not the owner"):
            call()


def test_withdraw_window__tracks_day_base_and_used(funded_pool, lp, after_lockup, chain):
    pool = funded_pool
    after_lockup()
    pool.withdraw(1_000 * USDC, sender=lp)
    day, base, used = pool.withdraw_window()
    assert day == chain.blocks.head.timestamp // 86_400
    assert base == 20_000 * USDC
    assert used == 1_000 * USDC
