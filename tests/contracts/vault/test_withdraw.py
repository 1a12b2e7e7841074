import ape

from tests.constants import USDC

VIRTUAL = 10**6


def test_withdraw__within_lockup__reverts(vault, owner, deposit):
    deposit(vault, owner, 1_000 * USDC)
    with ape.reverts("vault: locked"):
        vault.withdraw(1, sender=owner)


def test_withdraw__after_lockup__paid_with_event(vault, owner, deposit, after_lockup, usdc, exchange):
    deposit(vault, owner, 1_000 * USDC)
    after_lockup()
    shares = vault.balanceOf(owner)
    receipt = vault.withdraw(shares, sender=owner)
    assert usdc.balanceOf(owner) == 1_000 * USDC
    assert vault.balanceOf(owner) == 0
    assert vault.totalSupply() == 0
    assert vault.hwm(owner) == 0
    assert exchange.collateral(vault) == 0
    assert receipt.events.filter(vault.Withdraw) == [
        vault.Withdraw(depositor=owner.address, shares=shares, assets=1_000 * USDC, fee=0)
    ]


def test_withdraw__lockup_restarts_on_each_deposit(vault, owner, deposit, chain):
    deposit(vault, owner, USDC)
    chain.pending_timestamp += 86_000
    deposit(vault, owner, USDC)
    chain.pending_timestamp += 1_000
    with ape.reverts("vault: locked"):
        vault.withdraw(1, sender=owner)


def test_withdraw__owner_below_min_stake__reverts(vault, owner, follower, deposit, after_lockup):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    after_lockup()
    # owner holds 10%; may go down to 5% of the remaining shares, not below
    owner_shares = vault.balanceOf(owner)
    with ape.reverts("vault: owner stake"):
        vault.withdraw(owner_shares * 6 // 10, sender=owner)
    vault.withdraw(owner_shares // 4, sender=owner)


def test_withdraw__owner_alone__may_leave_entirely(vault, owner, deposit, after_lockup):
    deposit(vault, owner, 1_000 * USDC)
    after_lockup()
    vault.withdraw(vault.balanceOf(owner), sender=owner)
    assert vault.totalSupply() == 0


def test_withdraw__follower_any_amount__owner_share_grows(vault, owner, follower, deposit, after_lockup, usdc):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    after_lockup()
    vault.withdraw(vault.balanceOf(follower), sender=follower)
    assert usdc.balanceOf(follower) == 9_000 * USDC


def test_withdraw__manager_without_shares__reverts(vault, owner, manager, deposit, after_lockup):
    deposit(vault, owner, 1_000 * USDC)
    after_lockup()
    with ape.reverts("vault: balance"):
        vault.withdraw(1, sender=manager)
    with ape.reverts("vault: balance"):
        vault.withdraw(vault.totalSupply(), sender=manager)


def test_manager__every_function__moves_no_money(vault, owner, manager, deposit, after_lockup, usdc, exchange, stranger):
    deposit(vault, owner, 1_000 * USDC)
    after_lockup()
    before = (vault.total_assets(), usdc.balanceOf(manager), exchange.collateral(vault))
    vault.set_agent(stranger, sender=manager)
    vault.set_strategy((1, 1, 5, 0, 0, 50, 10**18, 0, 0, b""), sender=manager)
    for call in (
        lambda: vault.set_deposits_open(False, sender=manager),
        lambda: vault.set_lockup(0, sender=manager),
        lambda: vault.set_manager(manager, sender=manager),
        lambda: vault.pause_manager(sender=manager),
        lambda: vault.set_leverage_cap(0, sender=manager),
        lambda: vault.set_position_cap(1, 0, sender=manager),
        lambda: vault.set_drawdown_limit(1, sender=manager),
        lambda: vault.clear_halt(sender=manager),
        lambda: vault.end_unwind(sender=manager),
        lambda: vault.set_profit_unlock_time(0, sender=manager),
        lambda: vault.set_mark_distance(100, sender=manager),
        lambda: vault.forbid_counterparty(owner, sender=manager),
    ):
        with ape.reverts("vault: not owner"):
            call()
    with ape.reverts():
        exchange.withdraw(1, sender=manager)
    assert (vault.total_assets(), usdc.balanceOf(manager), exchange.collateral(vault)) == before
    mutating = {m.name for m in vault.contract_type.mutable_methods}
    assert mutating == {
        "deposit", "withdraw", "claim", "start_unwind", "end_unwind", "checkpoint", "clear_halt",
        "set_leverage_cap", "set_position_cap", "set_drawdown_limit", "set_deposits_open",
        "set_lockup", "set_manager", "pause_manager", "resume_manager", "set_agent", "set_strategy",
        "set_profit_unlock_time", "withdraw_fee_shares", "claim_owed", "cancel_all",
        "set_mark_distance", "forbid_counterparty",
    }


def test_withdraw__with_profit__manager_paid_profit_share(
    vault, owner, follower, manager, deposit, add_profit, after_lockup, usdc, vault_model
):
    model = vault_model(1_000, manager="m")
    deposit(vault, owner, 1_000 * USDC)
    model.deposit("o", 1_000 * USDC)
    deposit(vault, follower, 4_000 * USDC)
    model.deposit("f", 4_000 * USDC)
    add_profit(vault, 1_000 * USDC)
    model.profit(1_000 * USDC)
    after_lockup()
    shares = vault.balanceOf(follower)
    receipt = vault.withdraw(shares, sender=follower)
    paid, fee = model.withdraw("f", shares)
    assert fee > 0 and abs(fee - 80 * USDC) <= 1  # 10% of the follower's 800 USDC profit
    assert usdc.balanceOf(follower) == paid
    assert usdc.balanceOf(manager) == fee
    assert receipt.events.filter(vault.Withdraw) == [
        vault.Withdraw(depositor=follower.address, shares=shares, assets=paid, fee=fee)
    ]


def test_withdraw__preview__matches_payout(vault, owner, follower, deposit, add_profit, after_lockup, usdc):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 2_000 * USDC)
    add_profit(vault, 300 * USDC)
    after_lockup()
    shares = vault.balanceOf(follower) // 3
    paid, fee = vault.preview_withdraw(follower, shares)
    vault.withdraw(shares, sender=follower)
    assert usdc.balanceOf(follower) == paid


def test_withdraw__after_loss__no_profit_share(
    vault, owner, follower, manager, deposit, open_position, set_price, after_lockup, usdc
):
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    open_position(vault, 10**18)  # long 1 at 2000
    after_lockup()
    set_price(1_800 * USDC)  # fresh and lower: the vault lost ~200
    vault.withdraw(vault.balanceOf(follower), sender=follower)
    assert usdc.balanceOf(manager) == 0
    assert usdc.balanceOf(follower) < 9_000 * USDC


def test_withdraw__min_assets_above_payout__reverts(vault, owner, deposit, after_lockup):
    deposit(vault, owner, 1_000 * USDC)
    after_lockup()
    with ape.reverts("vault: slippage"):
        vault.withdraw(vault.balanceOf(owner), 1_000 * USDC + 1, sender=owner)


def test_withdraw__manager_as_depositor__pays_no_fee(
    create_vault, manager, deposit, add_profit, after_lockup, usdc
):
    vault = create_vault(sender=manager, min_owner_stake_bps=0)  # leader trades for itself
    deposit(vault, manager, 1_000 * USDC)
    add_profit(vault, 100 * USDC)
    after_lockup()
    vault.withdraw(vault.balanceOf(manager), sender=manager)
    # all of the profit, less one unit of rounding captured by the virtual shares
    assert usdc.balanceOf(manager) == 1_100 * USDC - 1
