"""The risk engine code (ExchangeRisk) runs on the Exchange's storage by DELEGATECALL."""

import ape

from tests.contracts.layout import storage_layout as _layout


def test_layout__ledger_slots_identical_in_exchange_and_risk_logic():
    exchange, risk = _layout("Exchange"), _layout("ExchangeRisk")
    assert exchange["ledger"] == risk["ledger"]
    # nothing else in the risk code's storage but the pause flag (pause / unpause run
    # there) at the Exchange's slot, after placeholders for the Exchange's role maps
    assert list(risk) == ["ledger", "_exchange_has_role", "_exchange_role_admin", "pausable"]
    assert risk["pausable"] == exchange["pausable"]
    assert [risk["_exchange_has_role"]["slot"], risk["_exchange_role_admin"]["slot"]] == [
        exchange["access_control"]["hasRole"]["slot"], exchange["access_control"]["getRoleAdmin"]["slot"]]
    assert min(v["slot"] for v in exchange["ledger"].values()) == 0


def test_exchange__risk_logic_set(exchange, project):
    risk = project.ExchangeRisk.at(exchange.risk_logic())
    assert risk.oracle() == exchange.oracle()
    assert risk.usdc() == exchange.usdc()


def test_risk_logic__direct_call__reverts(exchange, project, maker):
    risk = project.ExchangeRisk.at(exchange.risk_logic())
    with ape.reverts("exchange: delegatecall only"):
        risk.liquidate(maker, 1, sender=maker)


def test_deploy__risk_logic_of_other_oracle__reverts(project, admin, usdc, oracle, rebate, treasury, create_oracle):
    other = create_oracle()
    risk = project.ExchangeRisk.deploy(usdc, other, project.ExchangeAccounts.deploy(usdc, other, sender=admin), sender=admin)
    with ape.reverts("exchange: risk logic"):
        project.Exchange.deploy(usdc, oracle, rebate, treasury, risk, sender=admin)
