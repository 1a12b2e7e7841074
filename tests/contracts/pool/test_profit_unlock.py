"""#12 finding 5: a just-in-time deposit earns only what unlocks after it arrives.

Invariant: gains (fee share, penalties, trading) enter the LP price linearly over
profit_unlock_time; a deposit made right before distribute_fees gets none of the
distributed fees at once and, after the window, only its pro-rata part of them.
"""
from tests.constants import DAY, USDC



def _accrue_fees(exchange, admin, pool, treasury, follower, taker, fund, trade):
    exchange.set_fee_config(pool, 5_000, treasury, sender=admin)
    for who in (follower, taker):
        fund(who, 10_000_000 * USDC, spender=exchange)
        exchange.deposit(10_000_000 * USDC, sender=who)
    for _ in range(4):
        trade(follower, follower, taker, taker, True, 100 * 10**18)
        trade(taker, taker, follower, follower, True, 100 * 10**18)
    return exchange.fees_accrued() * 5_000 // 10_000


def test_jit_deposit__before_distribute_fees__earns_only_what_unlocks_after(
    pool, admin, lp, stranger, follower, taker, treasury, trade, fund, exchange, pool_deposit, chain
):
    pool_deposit(pool, lp, 10_000 * USDC)
    share = _accrue_fees(exchange, admin, pool, treasury, follower, taker, fund, trade)
    assert share > 0
    pool_deposit(pool, stranger, 90_000 * USDC)  # the sniper, right before the call
    pool.distribute_fees(sender=stranger)
    # at once: nobody's value moved (the fee share is locked)
    assert abs(pool.convertToAssets(pool.balanceOf(stranger)) - 90_000 * USDC) <= 1
    assert abs(pool.convertToAssets(pool.balanceOf(lp)) - 10_000 * USDC) <= 1
    # half the window: half the fee share is in the price
    start = chain.blocks.head.timestamp
    chain.pending_timestamp = start + DAY // 2
    chain.mine()
    locked, end = pool.profit_unlock_schedule()
    assert abs(locked - share // 2) <= share // 100 + 1
    sniper_gain = pool.convertToAssets(pool.balanceOf(stranger)) - 90_000 * USDC
    assert sniper_gain <= (share - locked) * 9 // 10 + 1
    # a LP who came after the call earns nothing of what unlocked before it came
    pool_deposit(pool, follower, 10_000 * USDC)
    late_value = pool.convertToAssets(pool.balanceOf(follower))
    chain.pending_timestamp = end + 1
    chain.mine()
    late_gain = pool.convertToAssets(pool.balanceOf(follower)) - late_value
    assert late_gain <= locked * 10_000 // 110_000 + 2
    total = pool.totalAssets()
    assert abs(total - (110_000 * USDC + share)) <= 3


def test_lumpy_gain__credited_from_outside__locked_not_instant(pool, lp, stranger, pool_deposit, fund, exchange, usdc, chain):
    pool_deposit(pool, lp, 10_000 * USDC)
    fund(stranger, 1_000 * USDC, spender=exchange)
    exchange.deposit_for(pool, 1_000 * USDC, sender=stranger)  # a lumpy gain
    receipt = pool.distribute_fees(sender=stranger)
    assert receipt.events.filter(pool.ProfitLocked)[0].gain == 1_000 * USDC
    assert pool.totalAssets() == 10_000 * USDC
    assert pool.profit_unlock_schedule()[0] == 1_000 * USDC
