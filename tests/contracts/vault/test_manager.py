import ape

from tests.constants import ZERO


def test_pause_manager__owner__agent_revoked(vault, owner, manager, exchange):
    receipt = vault.pause_manager(sender=owner)
    assert receipt.events.filter(vault.ManagerPaused) == [vault.ManagerPaused(by=owner.address)]
    assert vault.manager_paused()
    assert not exchange.is_agent(vault, manager)
    with ape.reverts("vault: paused"):
        vault.pause_manager(sender=owner)


def test_pause_manager__manager_blocked_from_agent_and_strategy(vault, owner, manager, stranger):
    vault.pause_manager(sender=owner)
    with ape.reverts("vault: manager paused"):
        vault.set_agent(stranger, sender=manager)
    with ape.reverts("vault: manager paused"):
        vault.set_strategy((0, 0, 0, 0, 0, 0, 0, 0, 0, b""), sender=manager)


def test_resume_manager__owner__old_agent_stays_retired_fresh_key_needed(vault, owner, manager, exchange, accounts):
    receipt = vault.pause_manager(sender=owner)
    assert receipt.events.filter(vault.AgentSet) == [vault.AgentSet(old_agent=manager.address, new_agent=ZERO)]
    receipt = vault.resume_manager(sender=owner)
    assert receipt.events.filter(vault.ManagerResumed) == [vault.ManagerResumed(by=owner.address)]
    assert not vault.manager_paused()
    # the paused key never signs for the vault again (its outstanding orders stay void)
    assert vault.retired_agent(manager)
    assert vault.agent() == ZERO
    assert not exchange.is_agent(vault, manager)
    with ape.reverts("vault: agent retired"):
        vault.set_agent(manager, sender=manager)
    fresh = accounts.generate_test_account()
    vault.set_agent(fresh, sender=manager)
    assert exchange.is_agent(vault, fresh)
    with ape.reverts("vault: not paused"):
        vault.resume_manager(sender=owner)


def test_pause_manager__not_owner__reverts(vault, manager, stranger):
    for who in (manager, stranger):
        with ape.reverts("vault: not owner"):
            vault.pause_manager(sender=who)


def test_set_agent__manager__old_revoked_new_approved(vault, manager, stranger, exchange):
    receipt = vault.set_agent(stranger, sender=manager)
    assert receipt.events.filter(vault.AgentSet) == [vault.AgentSet(old_agent=manager.address, new_agent=stranger.address)]
    assert vault.agent() == stranger
    assert exchange.is_agent(vault, stranger)
    assert not exchange.is_agent(vault, manager)


def test_set_agent__not_manager__reverts(vault, owner, stranger):
    for who in (owner, stranger):
        with ape.reverts("vault: not manager"):
            vault.set_agent(stranger, sender=who)


def test_set_manager__owner__agent_moves_to_new_manager(vault, owner, manager, follower, exchange):
    receipt = vault.set_manager(follower, sender=owner)
    assert receipt.events.filter(vault.ManagerSet) == [
        vault.ManagerSet(old_manager=manager.address, new_manager=follower.address)
    ]
    assert receipt.events.filter(vault.AgentSet) == [vault.AgentSet(old_agent=manager.address, new_agent=follower.address)]
    assert vault.manager() == follower
    assert exchange.is_agent(vault, follower)
    assert not exchange.is_agent(vault, manager)
    with ape.reverts("vault: not manager"):
        vault.set_agent(owner, sender=manager)


def test_set_manager__zero__reverts(vault, owner):
    with ape.reverts("vault: manager"):
        vault.set_manager(ZERO, sender=owner)


def test_set_manager__while_paused__agent_not_approved(vault, owner, follower, exchange):
    vault.pause_manager(sender=owner)
    vault.set_manager(follower, sender=owner)
    assert not exchange.is_agent(vault, follower)
    vault.resume_manager(sender=owner)
    assert exchange.is_agent(vault, follower)
