from tests.constants import USDC


def test_fee_share__distributed_to_pool__lp_token_value_rises(
    pool, admin, lp, follower, taker, trade, fund, exchange, treasury, pool_deposit
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
    exchange.distribute_fees(sender=admin)
    assert pool.totalAssets() == 10_000 * USDC + accrued * 5_000 // 10_000
    assert pool.convertToAssets(pool.balanceOf(lp)) > value_before
