import ape

from tests.constants import USDC

VIRTUAL = 10**6


def test_deposit__owner_first__shares_at_virtual_price(vault, owner, deposit, exchange, chain):
    receipt = deposit(vault, owner, 1_000 * USDC)
    shares = 1_000 * USDC * VIRTUAL
    assert vault.balanceOf(owner) == shares
    assert vault.totalSupply() == shares
    assert vault.hwm(owner) == 1_000 * USDC
    assert exchange.collateral(vault) == 1_000 * USDC
    assert vault.total_assets() == 1_000 * USDC
    ts = chain.blocks.head.timestamp
    assert vault.lock_until(owner) == ts + 86_400
    assert receipt.events.filter(vault.Deposit) == [
        vault.Deposit(depositor=owner.address, assets=1_000 * USDC, shares=shares, lock_until=ts + 86_400)
    ]


def test_deposit__follower_before_owner__reverts(vault, follower, fund):
    fund(follower, USDC, spender=vault)
    with ape.reverts("vault: owner stake"):
        vault.deposit(USDC, sender=follower)


def test_deposit__follower_within_owner_stake__accepted_up_to_limit(vault, owner, follower, deposit, fund):
    deposit(vault, owner, 1_000 * USDC)
    # owner keeps 5%: at most 19x the owner's deposit from followers
    deposit(vault, follower, 19_000 * USDC)
    fund(follower, USDC, spender=vault)
    with ape.reverts("vault: owner stake"):
        vault.deposit(USDC, sender=follower)


def test_deposit__closed__follower_reverts_owner_allowed(vault, owner, follower, deposit, fund):
    deposit(vault, owner, 1_000 * USDC)
    receipt = vault.set_deposits_open(False, sender=owner)
    assert receipt.events.filter(vault.DepositsOpenSet) == [vault.DepositsOpenSet(open=False)]
    fund(follower, USDC, spender=vault)
    with ape.reverts("vault: deposits closed"):
        vault.deposit(USDC, sender=follower)
    deposit(vault, owner, USDC)


def test_set_deposits_open__not_owner__reverts(vault, manager):
    with ape.reverts("vault: not owner"):
        vault.set_deposits_open(False, sender=manager)


def test_deposit__min_shares_above__reverts(vault, owner, fund):
    fund(owner, USDC, spender=vault)
    with ape.reverts("vault: slippage"):
        vault.deposit(USDC, USDC * VIRTUAL + 1, sender=owner)


def test_deposit__zero__reverts(vault, owner):
    with ape.reverts("vault: zero assets"):
        vault.deposit(0, sender=owner)


def test_deposit__after_profit__fewer_shares(vault, owner, follower, deposit, add_profit, vault_model):
    model = vault_model(1_000)
    deposit(vault, owner, 1_000 * USDC)
    model.deposit("o", 1_000 * USDC)
    add_profit(vault, 500 * USDC)
    model.profit(500 * USDC)
    deposit(vault, follower, 3_000 * USDC)
    expected = model.deposit("f", 3_000 * USDC)
    assert vault.balanceOf(follower) == expected
    assert expected < 3_000 * USDC * VIRTUAL
    assert vault.convert_to_assets(expected) <= 3_000 * USDC


def test_set_lockup__owner__applies_to_later_deposits(vault, owner, deposit, chain):
    receipt = vault.set_lockup(3_600, sender=owner)
    assert receipt.events.filter(vault.LockupSet) == [vault.LockupSet(lockup=3_600)]
    deposit(vault, owner, USDC)
    assert vault.lock_until(owner) == chain.blocks.head.timestamp + 3_600
    with ape.reverts("vault: lockup"):
        vault.set_lockup(30 * 86_400 + 1, sender=owner)
