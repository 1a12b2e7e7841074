"""First-depositor inflation attack against the pool, under hypothesis."""
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.constants import USDC


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    seed=st.integers(1, 10 * USDC),
    donation=st.integers(1, 100_000 * USDC),
    victim=st.integers(1, 100_000 * USDC),
    via_exchange=st.booleans(),
)
def test_inflation_attack__seed_donate_front_run__never_profits(
    chain, isolated, create_pool, admin, lp, stranger, fund, usdc, exchange, seed, donation, victim, via_exchange
):
    attacker = stranger
    with isolated():  # not chain.isolate(): it swallows assertion errors
        pool = create_pool(backstop=False)
        pool.set_lockup(0, sender=admin)
        pool.set_daily_withdraw_limit(10_000, sender=admin)
        # the worst case for the share maths: the donation counts at once (no unlocking)
        pool.set_profit_unlock_time(0, sender=admin)
        fund(attacker, seed + donation, spender=pool)
        pool.deposit(seed, sender=attacker)
        if via_exchange:
            usdc.approve(exchange, donation, sender=attacker)
            exchange.deposit_for(pool, donation, sender=attacker)
        else:
            usdc.transfer(pool, donation, sender=attacker)
        fund(lp, victim, spender=pool)
        if pool.previewDeposit(victim) == 0:
            return  # the victim's deposit reverts ("pool: zero"): nothing to steal
        pool.deposit(victim, sender=lp)
        pool.redeem(pool.balanceOf(attacker), sender=attacker)
        assert usdc.balanceOf(attacker) <= seed + donation
        if pool.previewRedeem(pool.balanceOf(lp)) > 0:  # else a redeem reverts "pool: zero"
            pool.redeem(pool.balanceOf(lp), sender=lp)
        # the victim loses at most the rounding of one share (tiny next to the donation)
        assert usdc.balanceOf(lp) >= victim - (seed + donation) // (seed * 10**6) - 2
