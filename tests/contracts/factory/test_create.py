import ape
import pytest

from tests.constants import ZERO


def test_create_vault__defaults__registered_with_event(project, factory, owner, manager, exchange, usdc):
    receipt = factory.create_vault("alpha", manager, sender=owner)
    vault = project.Vault.at(receipt.events.filter(factory.VaultCreated)[0].vault)
    assert factory.vault_count() == 1
    assert factory.vaults(0) == vault.address
    assert factory.is_vault(vault)
    assert receipt.events.filter(factory.VaultCreated) == [
        factory.VaultCreated(
            vault=vault.address,
            owner=owner.address,
            manager=manager.address,
            index=0,
            name="alpha",
            profit_share_bps=1_000,
            min_owner_stake_bps=500,
            lockup=86_400,
            drawdown_limit_bps=2_000,
        )
    ]
    assert vault.owner() == owner
    assert vault.manager() == manager
    assert vault.agent() == manager
    assert vault.factory() == factory.address
    assert vault.exchange() == exchange.address
    assert vault.asset() == usdc.address
    assert vault.name() == "alpha"
    assert vault.profit_share_bps() == 1_000
    assert vault.min_owner_stake_bps() == 500
    assert vault.lockup() == 86_400
    assert vault.drawdown_limit_bps() == 2_000
    assert vault.deposits_open()
    assert exchange.is_agent(vault, manager)


def test_create_vault__custom_params__stored(create_vault, factory, follower, manager):
    vault = create_vault("beta", sender=follower, profit_share_bps=2_500, min_owner_stake_bps=0, lockup=0, drawdown_limit_bps=10_000)
    assert vault.owner() == follower
    assert vault.profit_share_bps() == 2_500
    assert vault.min_owner_stake_bps() == 0
    assert vault.lockup() == 0
    assert vault.drawdown_limit_bps() == 10_000


def test_create_vault__many__indexed_in_order(create_vault, factory):
    vaults = [create_vault(f"v{i}") for i in range(3)]
    assert factory.vault_count() == 3
    assert [factory.vaults(i) for i in range(3)] == [v.address for v in vaults]


@pytest.mark.parametrize(
    "name, params, reason",
    [
        ("", {}, "factory: name"),
        ("x", {"profit_share_bps": 10_001}, "factory: profit share"),
        ("x", {"min_owner_stake_bps": 10_001}, "factory: min stake"),
        ("x", {"lockup": 30 * 86_400 + 1}, "factory: lockup"),
        ("x", {"drawdown_limit_bps": 0}, "factory: drawdown limit"),
        ("x", {"drawdown_limit_bps": 10_001}, "factory: drawdown limit"),
    ],
)
def test_create_vault__invalid_params__reverts(create_vault, name, params, reason):
    with ape.reverts(reason):
        create_vault(name, **params)


def test_create_vault__zero_manager__reverts(factory, owner):
    with ape.reverts("factory: manager"):
        factory.create_vault("x", ZERO, sender=owner)


def test_create_vault__full_profit_share__allowed(create_vault):
    assert create_vault(profit_share_bps=10_000).profit_share_bps() == 10_000


def test_deploy__zero_blueprint__reverts(project, admin, exchange, usdc):
    with ape.reverts("factory: blueprint"):
        project.VaultFactory.deploy(ZERO, exchange, usdc, ZERO, sender=admin)


def test_set_unwind_agent__owner__event(factory, admin, stranger, unwind_agent):
    receipt = factory.set_unwind_agent(stranger, sender=admin)
    assert factory.unwind_agent() == stranger
    assert receipt.events.filter(factory.UnwindAgentSet) == [
        factory.UnwindAgentSet(old_agent=unwind_agent.address, new_agent=stranger.address)
    ]


def test_set_unwind_agent__stranger__reverts(factory, stranger):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_unwind_agent(stranger, sender=stranger)
