from tests.constants import USDC


def test_fee_share__distributed_to_pool__lp_token_value_rises(
    pool, admin, lp, follower, taker, trade, fund, exchange, treasury, pool_deposit, chain
):
    pool_deposit(pool, lp, 10_000 * USDC)
    exchange.set_fee_config(pool, 5_000, treasury, sender=admin)
    for who in (follower, taker):
        fund(who, 100_000 * USDC, spender=exchange)
        exchange.deposit(100_000 * USDC, sender=who)
    trade(follower, follower, taker, taker, True, 10 * 10**18)  # 20k notional, 5 bps taker fee
    value_before = pool.convertToAssets(pool.balanceOf(lp))
    accrued = exchange.fees_accrued()
    assert accrued > 0
    receipt = pool.distribute_fees(sender=admin)
    share = accrued * 5_000 // 10_000
    end = chain.blocks.head.timestamp + 86_400
    assert receipt.events.filter(pool.FeesCollected) == [
        pool.FeesCollected(caller=admin.address, amount=share, locked=share, unlock_end=end)
    ]
    assert receipt.events.filter(pool.ProfitLocked) == [pool.ProfitLocked(gain=share, loss=0, locked=share, unlock_end=end)]
    assert pool.fee_income() == share
    # the fee share is locked, then released into the LP token's value over a day
    assert pool.totalAssets() == 10_000 * USDC
    assert pool.profit_unlock_schedule() == (share, end)
    chain.pending_timestamp = end
    chain.mine()
    assert pool.totalAssets() == 10_000 * USDC + share
    assert pool.convertToAssets(pool.balanceOf(lp)) > value_before
