"""ExchangeAccounts runs on the Exchange's storage (two DELEGATECALL hops): same ledger slots."""

from tests.contracts.layout import storage_layout as _layout


def test_layout__ledger_slots_identical_in_exchange_and_accounts_logic():
    exchange, accounts = _layout("Exchange"), _layout("ExchangeAccounts")
    # the ledger is initialised through contracts/loss_sharing.vy, whose only storage it is
    assert list(accounts) == ["loss_sharing"] and list(accounts["loss_sharing"]) == ["ledger"]
    assert exchange["ledger"] == accounts["loss_sharing"]["ledger"]  # nothing else in the code's storage


def test_deploy__accounts_logic_of_other_oracle__reverts(project, admin, usdc, oracle, create_oracle):
    import ape

    logic = project.ExchangeAccounts.deploy(usdc, create_oracle(), sender=admin)
    with ape.reverts("exchange: accounts logic"):
        project.ExchangeRisk.deploy(usdc, oracle, logic, sender=admin)
