"""Agents: approve / revoke signers for an account."""

import ape


def test_approve_agent__sets_and_logs(exchange, maker, agent):
    tx = exchange.approve_agent(agent, True, sender=maker)
    assert exchange.is_agent(maker, agent)
    assert [(l.account, l.agent, l.approved) for l in tx.decode_logs(exchange.AgentSet)] == [(maker.address, agent, True)]


def test_approve_agent__revoke(exchange, maker, agent):
    exchange.approve_agent(agent, True, sender=maker)
    tx = exchange.approve_agent(agent, False, sender=maker)
    assert not exchange.is_agent(maker, agent)
    assert not tx.decode_logs(exchange.AgentSet)[0].approved


def test_approve_agent__is_per_account(exchange, maker, taker, agent):
    exchange.approve_agent(agent, True, sender=maker)
    assert not exchange.is_agent(taker, agent)


def test_approve_agent__zero__reverts(exchange, maker):
    with ape.reverts("exchange: zero address"):
        exchange.approve_agent("0x0000000000000000000000000000000000000000", True, sender=maker)


def test_approve_agent__self__reverts(exchange, maker):
    with ape.reverts("exchange: self agent"):
        exchange.approve_agent(maker, True, sender=maker)
