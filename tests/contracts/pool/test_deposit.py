import ape

from tests.constants import USDC, ZERO

VIRTUAL = 10**6


def test_deploy__metadata_and_defaults(pool, admin, usdc, exchange):
    assert pool.asset() == usdc.address
    assert pool.exchange() == exchange.address
    assert pool.name() == "MMX Liquidity Pool"
    assert pool.symbol() == "MLP"
    assert pool.decimals() == 12
    assert pool.owner() == admin
    assert pool.lockup() == 4 * 86_400
    assert pool.daily_withdraw_bps() == 2_000
    assert pool.totalAssets() == 0


def test_deploy__events(project, admin, usdc, exchange):
    pool = project.LiquidityPool.deploy(usdc, exchange, 5 * USDC, sender=admin)
    receipt = pool.creation_metadata.receipt
    assert receipt.events.filter(pool.DepositCapSet) == [pool.DepositCapSet(cap=5 * USDC)]
    assert receipt.events.filter(pool.LockupSet) == [pool.LockupSet(lockup=4 * 86_400)]
    assert receipt.events.filter(pool.DailyWithdrawLimitSet) == [pool.DailyWithdrawLimitSet(bps=2_000)]


def test_deploy__zero_asset__reverts(project, admin, exchange):
    with ape.reverts("pool: asset"):
        project.LiquidityPool.deploy(ZERO, exchange, 1, sender=admin)


def test_deposit__first__shares_with_offset_and_event(pool, lp, pool_deposit, exchange, chain):
    receipt = pool_deposit(pool, lp, 1_000 * USDC)
    shares = 1_000 * USDC * VIRTUAL
    assert pool.balanceOf(lp) == shares
    assert pool.totalSupply() == shares
    assert pool.totalAssets() == 1_000 * USDC
    assert exchange.collateral(pool) == 1_000 * USDC
    assert pool.lock_until(lp) == chain.blocks.head.timestamp + 4 * 86_400
    assert receipt.events.filter(pool.Deposit) == [
        pool.Deposit(sender=lp.address, owner=lp.address, assets=1_000 * USDC, shares=shares)
    ]


def test_deposit__min_shares_above__reverts(pool, lp, fund):
    fund(lp, USDC, spender=pool)
    with ape.reverts("pool: slippage"):
        pool.deposit(USDC, lp, USDC * VIRTUAL + 1, sender=lp)


def test_deposit__over_cap__reverts(create_pool, lp, pool_deposit, fund):
    pool = create_pool(cap=1_000 * USDC)
    pool_deposit(pool, lp, 600 * USDC)
    assert pool.maxDeposit(lp) == 400 * USDC
    fund(lp, 401 * USDC, spender=pool)
    with ape.reverts("pool: cap"):
        pool.deposit(401 * USDC, sender=lp)
    pool.deposit(400 * USDC, sender=lp)
    assert pool.maxDeposit(lp) == 0


def test_deposit__zero__reverts(pool, lp):
    with ape.reverts("pool: zero"):
        pool.deposit(0, sender=lp)


def test_deposit__for_holder__reverts_lock_griefing(pool, lp, stranger, pool_deposit, fund):
    pool_deposit(pool, lp, USDC)
    fund(stranger, USDC, spender=pool)
    with ape.reverts("pool: receiver"):
        pool.deposit(USDC, lp, sender=stranger)


def test_deposit__for_empty_account__refused_no_lock_griefing(pool, lp, stranger, fund):
    # #12 finding 6: dust deposited for an empty address used to lock it for the lock-up
    fund(stranger, USDC, spender=pool)
    with ape.reverts("pool: receiver"):
        pool.deposit(USDC, lp, sender=stranger)
    with ape.reverts("pool: receiver"):
        pool.mint(USDC * VIRTUAL, lp, sender=stranger)
    assert pool.balanceOf(lp) == 0
    assert pool.lock_until(lp) == 0


def test_mint__exact_shares__assets_rounded_up(pool, lp, stranger, pool_deposit, fund, exchange):
    pool_deposit(pool, lp, 1_000 * USDC)
    fund(stranger, 10**6, spender=exchange)
    exchange.deposit_for(pool, 333_333, sender=stranger)  # price no longer round
    fund(stranger, 10 * USDC, spender=pool)
    shares = 10**12 + 7
    expected = pool.previewMint(shares)
    assert expected * (pool.totalSupply() + VIRTUAL) >= shares * (pool.totalAssets() + 1)
    with ape.reverts("pool: slippage"):
        pool.mint(shares, stranger, expected - 1, sender=stranger)
    pool.mint(shares, stranger, expected, sender=stranger)
    assert pool.balanceOf(stranger) == shares


def test_previews__round_in_pools_favour(pool, lp, stranger, pool_deposit, fund, exchange):
    pool_deposit(pool, lp, 1_000 * USDC)
    fund(stranger, USDC, spender=exchange)
    exchange.deposit_for(pool, 123_457, sender=stranger)
    assets = 777_777
    assert pool.previewWithdraw(assets) >= pool.convertToShares(assets)
    assert pool.previewDeposit(assets) == pool.convertToShares(assets)
    shares = pool.previewDeposit(assets)
    assert pool.previewRedeem(shares) <= assets


def test_max_views__exchange_paused__deposits_zero_withdrawals_still_honest(pool, lp, pool_deposit, fund, exchange,
                                                                          pauser, chain):
    """ERC-4626: maxDeposit / maxMint are 0 while a deposit would revert (the Exchange
    refuses deposits while paused), and maxWithdraw / maxRedeem stay what a payout can take
    (Exchange withdrawals are allowed while paused): redeeming maxRedeem pays previewRedeem."""
    pool_deposit(pool, lp, 1_000 * USDC)
    assert pool.maxDeposit(lp) > 0 and pool.maxMint(lp) > 0
    exchange.pause(sender=pauser)
    assert pool.maxDeposit(lp) == 0 and pool.maxMint(lp) == 0
    fund(lp, USDC, spender=pool)
    with ape.reverts("exchange: paused"):
        pool.deposit(USDC, sender=lp)
    chain.mine(timestamp=pool.lock_until(lp))
    shares = pool.maxRedeem(lp)
    assert 0 < shares <= pool.balanceOf(lp)  # the daily cap applies
    assets = pool.previewRedeem(shares)
    assert 0 < assets <= pool.maxWithdraw(lp)
    receipt = pool.redeem(shares, sender=lp)
    assert receipt.events.filter(pool.Withdraw)[0].assets == assets
    exchange.unpause(sender=pauser)
    assert pool.maxDeposit(lp) > 0
