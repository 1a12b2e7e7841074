"""#12 finding 4: the manager's profit share is crystallised to the manager of record
when the manager changes; the owner cannot redirect fees earned before the change."""
import ape

from tests.constants import USDC


def _setup(vault, owner, follower, deposit, add_profit, after_lockup):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    add_profit(vault, 1_000 * USDC)  # +10%: the follower's profit is ~900
    after_lockup()


def test_set_manager__owner_repoints_to_himself__old_manager_keeps_profit_share(
    vault, owner, follower, manager, deposit, add_profit, after_lockup, usdc
):
    _setup(vault, owner, follower, deposit, add_profit, after_lockup)
    price = vault.share_price()
    receipt = vault.set_manager(owner, sender=owner)
    assert vault.epoch_count() == 1
    assert vault.epochs(0) == (manager.address, price)
    assert receipt.events.filter(vault.ManagerSet)[0].new_manager == owner.address
    # the follower leaves right after: his profit share (10% of ~900) is the old manager's
    receipt = vault.withdraw(vault.balanceOf(follower), sender=follower)
    crystallised = receipt.events.filter(vault.FeeCrystallised)
    assert len(crystallised) == 1
    ev = crystallised[0]
    assert ev.depositor == follower.address and ev.manager == manager.address and ev.epoch == 0
    assert abs(ev.fee - 90 * USDC) <= 2
    assert vault.fee_shares(manager) == ev.shares
    paid = receipt.events.filter(vault.Withdraw)[0]
    assert paid.fee == 0  # nothing above the crystallised high-water mark
    assert abs(usdc.balanceOf(follower) - (9_900 - 90) * USDC) <= 2
    assert usdc.balanceOf(owner) == 0  # the owner, now manager, got none of it
    # the owner's own pre-change profit share (10% of ~100) is the old manager's too
    receipt = vault.withdraw(vault.balanceOf(owner), sender=owner)
    assert abs(receipt.events.filter(vault.FeeCrystallised)[0].fee - 10 * USDC) <= 2
    # the old manager redeems his fee shares, worth ~100, no profit share on them
    receipt = vault.withdraw_fee_shares(vault.fee_shares(manager), sender=manager)
    assert receipt.events.filter(vault.Withdraw)[0].fee == 0
    assert abs(usdc.balanceOf(manager) - 100 * USDC) <= 4
    assert vault.totalSupply() == 0


def test_preview_withdraw__after_manager_change__matches_crystallised_payout(
    vault, owner, follower, manager, stranger, deposit, add_profit, after_lockup, usdc
):
    _setup(vault, owner, follower, deposit, add_profit, after_lockup)
    vault.set_manager(stranger, sender=owner)
    vault.set_manager(manager, sender=owner)  # a second change: nothing more to crystallise
    bal, basis = vault.balanceOf(follower), vault.hwm(follower)
    assert bal < 9_000 * USDC * 10**6 and basis < 9_900 * USDC
    payout, fee = vault.preview_withdraw(follower, bal)
    vault.withdraw(bal, sender=follower)
    assert usdc.balanceOf(follower) == payout
    assert fee == 0
    with ape.reverts("vault: balance"):
        vault.withdraw_fee_shares(1, sender=stranger)


def test_set_manager__profit_after_change__goes_to_new_manager(
    vault, owner, follower, manager, stranger, deposit, add_profit, after_lockup, usdc
):
    _setup(vault, owner, follower, deposit, add_profit, after_lockup)
    vault.set_manager(stranger, sender=owner)
    add_profit(vault, 1_000 * USDC)
    receipt = vault.withdraw(vault.balanceOf(follower), sender=follower)
    old_fee = receipt.events.filter(vault.FeeCrystallised)[0].fee
    new_fee = receipt.events.filter(vault.Withdraw)[0].fee
    assert abs(old_fee - 90 * USDC) <= 2
    # the second +1000 is shared pro rata (the old manager's fee shares take their part)
    assert 75 * USDC < new_fee < 90 * USDC
    assert usdc.balanceOf(stranger) == new_fee


def test_set_manager__loss_before_change__nothing_crystallised(
    vault, owner, follower, manager, stranger, deposit, after_lockup, open_position, set_price
):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    open_position(vault, 10**18)
    set_price(1_900 * USDC)  # the vault lost 100
    after_lockup()
    set_price(1_900 * USDC)
    bal, basis = vault.balanceOf(follower), vault.hwm(follower)
    vault.set_manager(stranger, sender=owner)
    assert (vault.balanceOf(follower), vault.hwm(follower)) == (bal, basis)
    receipt = vault.withdraw(bal // 2, sender=follower)
    assert receipt.events.filter(vault.FeeCrystallised) == []
    assert vault.fee_shares(manager) == 0


def test_set_manager__too_many_changes__reverts(vault, owner, stranger, manager):
    for i in range(64):
        vault.set_manager(stranger if i % 2 == 0 else manager, sender=owner)
    with ape.reverts("vault: manager changes"):
        vault.set_manager(stranger, sender=owner)
