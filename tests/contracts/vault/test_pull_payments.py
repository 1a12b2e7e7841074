"""#12 finding 7: payouts are pulled, not pushed: a recipient that cannot receive (a
blacklisted address on a USDC with a blacklist) gets a claimable balance and never
jams the FIFO withdrawal queue behind it."""
import ape
import pytest

from tests.constants import PRICE, REDUCE_ONLY, USDC
from tests.contracts.receipts import settled

SIZE = 45 * 10**18


@pytest.fixture(scope="module")
def usdc(project, admin):
    """This module's stack runs on the blacklist-capable test token."""
    return project.BlacklistUSDC.deploy(sender=admin)


@pytest.fixture
def two_queued(vault, owner, follower, follower2, deposit, open_position, after_lockup, set_price, taker, trade, exchange, manager):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 4_500 * USDC)
    deposit(vault, follower2, 4_500 * USDC)
    open_position(vault, SIZE)
    after_lockup()
    set_price(PRICE)
    vault.withdraw(vault.balanceOf(follower), sender=follower)
    vault.withdraw(vault.balanceOf(follower2), sender=follower2)
    assert vault.queue_length() == 2
    ok, _ = settled(trade(vault, manager, taker, taker, False, SIZE, maker_flags=REDUCE_ONLY), exchange)
    assert len(ok) == 1
    return vault


def test_claim__blacklisted_head__owed_and_queue_moves_on(two_queued, follower, follower2, stranger, usdc, admin):
    vault = two_queued
    usdc.set_blacklisted(follower, True, sender=admin)
    receipt = vault.claim(0, sender=stranger)
    claimed = receipt.events.filter(vault.WithdrawalClaimed)[0]
    assert receipt.events.filter(vault.PaymentOwed) == [vault.PaymentOwed(recipient=follower.address, amount=claimed.assets)]
    assert vault.owed(follower) == claimed.assets
    assert vault.reserved() == claimed.assets
    assert usdc.balanceOf(follower) == 0
    # the next depositor in line is paid as if nothing happened
    receipt = vault.claim(1, sender=stranger)
    assert usdc.balanceOf(follower2) == receipt.events.filter(vault.WithdrawalClaimed)[0].assets > 0
    assert vault.queue_length() == 0


def test_claim_owed__to_another_address__paid_and_reserve_released(two_queued, follower, stranger, usdc, admin, owner):
    vault = two_queued
    usdc.set_blacklisted(follower, True, sender=admin)
    vault.claim(0, sender=stranger)
    owed = vault.owed(follower)
    assets_before = vault.total_assets()
    receipt = vault.claim_owed(stranger, sender=follower)
    assert receipt.events.filter(vault.OwedClaimed) == [vault.OwedClaimed(recipient=follower.address, to=stranger.address, amount=owed)]
    assert usdc.balanceOf(stranger) == owed
    assert vault.owed(follower) == 0 and vault.reserved() == 0
    assert vault.total_assets() == assets_before  # owed USDC never counted as the holders'
    with ape.reverts("vault: nothing owed"):
        vault.claim_owed(stranger, sender=follower)


def test_claim__blacklisted_manager__fee_owed_depositor_paid(
    vault, owner, follower, manager, deposit, add_profit, after_lockup, usdc, admin
):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    add_profit(vault, 1_000 * USDC)
    after_lockup()
    usdc.set_blacklisted(manager, True, sender=admin)
    receipt = vault.withdraw(vault.balanceOf(follower), sender=follower)
    paid = receipt.events.filter(vault.Withdraw)[0]
    assert paid.fee > 0
    assert usdc.balanceOf(follower) == paid.assets
    assert vault.owed(manager) == paid.fee
