"""#11 finding 5: a deposit into a vault with negative equity is refused (the depositor
would otherwise pay the deficit: negative equity counts as 0 in total assets)."""
import ape

from tests.constants import USDC


def test_deposit__negative_equity__refused_nothing_moves(
    vault, owner, follower, deposit, open_position, set_price, exchange, fund, usdc
):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    open_position(vault, 45 * 10**18)  # long 45 at 2000
    set_price(1_700 * USDC)  # -13.5k on 10k
    assert exchange.equity(vault) < 0
    fund(follower, 10_000 * USDC, spender=vault)
    with ape.reverts("vault: negative equity"):
        vault.deposit(10_000 * USDC, sender=follower)
    with ape.reverts("vault: negative equity"):
        vault.deposit(10_000 * USDC, sender=owner)
    assert usdc.balanceOf(follower) == 10_000 * USDC
