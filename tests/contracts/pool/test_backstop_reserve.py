"""#11: the pool keeps a liquidity reserve for its backstop role; a withdrawal that would
leave less free collateral than the reserve is refused with a reason. Deposits into
negative equity are refused (#11 finding 5)."""
import ape

from tests.constants import USDC


def test_redeem__into_backstop_reserve__refused(pool, lp, follower, taker, trade, fund, exchange, keeper_agent, admin,
                                                after_lockup, set_price, pool_deposit):
    pool_deposit(pool, lp, 10_000 * USDC)
    pool_deposit(pool, follower, 10_000 * USDC)
    pool.set_agent(keeper_agent, True, sender=admin)
    pool.set_daily_withdraw_limit(10_000, sender=admin)
    fund(taker, 1_000_000 * USDC, spender=exchange)
    exchange.deposit(1_000_000 * USDC, sender=taker)
    trade(pool, keeper_agent, taker, taker, True, 50 * 10**18)  # 100k notional: 10k initial margin
    after_lockup()
    set_price(2_000 * USDC)
    reserve = pool.backstop_reserve()
    assert reserve == exchange.margin_requirement(pool, True)  # default: as much again
    free = min(exchange.free_collateral(pool), exchange.collateral(pool))
    assert pool.available_liquidity() == free - reserve
    with ape.reverts("pool: backstop reserve"):
        pool.withdraw(free - reserve + 1, sender=lp)
    pool.withdraw(free - reserve, sender=lp)
    receipt = pool.set_backstop_reserve(0, 0, sender=admin)
    assert receipt.events.filter(pool.BackstopReserveSet) == [pool.BackstopReserveSet(bps=0, minimum=0)]
    with ape.reverts("pool: reserve"):
        pool.set_backstop_reserve(100_001, 0, sender=admin)


def test_deposit__negative_equity__refused(pool, lp, follower, taker, trade, fund, exchange, keeper_agent, admin,
                                           set_price, pool_deposit, usdc):
    pool_deposit(pool, lp, 10_000 * USDC)
    pool.set_agent(keeper_agent, True, sender=admin)
    fund(taker, 1_000_000 * USDC, spender=exchange)
    exchange.deposit(1_000_000 * USDC, sender=taker)
    trade(pool, keeper_agent, taker, taker, True, 45 * 10**18)  # long 45 at 2000 on 10k
    set_price(1_700 * USDC)
    assert exchange.equity(pool) < 0
    assert pool.maxDeposit(follower) == 0
    fund(follower, 10_000 * USDC, spender=pool)
    with ape.reverts("pool: negative equity"):
        pool.deposit(10_000 * USDC, sender=follower)
    assert usdc.balanceOf(follower) == 10_000 * USDC


def test_redeem__last_lp_no_open_exposure__reserve_zero_everything_out(pool, lp, admin, after_lockup, pool_deposit,
                                                                       usdc, taker, trade, fund, exchange,
                                                                       keeper_agent):
    # decision (#12 leftover 3): the reserve scales with open exposure only; the fixed
    # minimum applies only while the pool holds positions, so a pool with nothing at risk
    # never traps its last LP
    pool_deposit(pool, lp, 10_000 * USDC)
    pool.set_daily_withdraw_limit(10_000, sender=admin)
    pool.set_backstop_reserve(10_000, 5_000 * USDC, sender=admin)
    assert exchange.margin_requirement(pool, True) == 0
    assert pool.backstop_reserve() == 0
    # with a position the minimum holds on top of the margin
    pool.set_agent(keeper_agent, True, sender=admin)
    fund(taker, 1_000_000 * USDC, spender=exchange)
    exchange.deposit(1_000_000 * USDC, sender=taker)
    trade(pool, keeper_agent, taker, taker, True, 10 * 10**18)
    im = exchange.margin_requirement(pool, True)
    assert im > 0 and pool.backstop_reserve() == im + 5_000 * USDC
    trade(taker, taker, pool, keeper_agent, True, 10 * 10**18)  # the pool is flat again
    assert exchange.margin_requirement(pool, True) == 0 and pool.backstop_reserve() == 0
    after_lockup()
    shares = pool.balanceOf(lp)
    assert pool.maxRedeem(lp) == shares
    expected = pool.previewRedeem(shares)
    before = usdc.balanceOf(lp)
    pool.redeem(shares, sender=lp)
    assert usdc.balanceOf(lp) - before == expected > 9_900 * USDC
    assert pool.totalSupply() == 0
    assert exchange.collateral(pool) + usdc.balanceOf(pool) <= 1 * USDC
