"""open_subaccount: a numbered account of the owner, signed for by the owner and its agents."""

import ape
import pytest
from eth_utils import keccak

from offchain.order import Order, sign_order
from offchain.subaccounts import subaccount_address
from tests.constants import ETH, FAR_EXPIRY, ONE, PRICE, USDC
from tests.contracts.receipts import settled


def test_open__derived_address_owner_agent_and_events(exchange, subs, maker):
    tx = subs.open_subaccount(7, sender=maker)
    sub = subaccount_address(maker.address, 7)
    # the low 160 bits of keccak256(abi_encode(owner, index))
    assert sub.lower() == "0x" + keccak(bytes(12) + bytes.fromhex(maker.address[2:]) + (7).to_bytes(32, "big"))[-20:].hex()
    assert exchange.is_agent(sub, maker)
    assert [(l.owner, l.account, l.index) for l in tx.decode_logs(exchange.SubaccountOpened)] == [(maker.address, sub, 7)]
    assert [(l.account, l.agent, l.approved) for l in tx.decode_logs(exchange.AgentSet)] == [(sub, maker.address, True)]


def test_open__twice__reverts(subs, maker):
    subs.open_subaccount(1, sender=maker)
    with ape.reverts("exchange: opened"):
        subs.open_subaccount(1, sender=maker)


def test_open__index_zero__reverts(subs, maker):
    with ape.reverts("exchange: bad index"):
        subs.open_subaccount(0, sender=maker)


def test_open__same_index_other_owner__distinct_account(exchange, subs, maker, taker, open_sub):
    a, b = open_sub(maker, 1), open_sub(taker, 1)
    assert a != b and exchange.is_agent(b, taker) and not exchange.is_agent(b, maker)


def test_accounts_logic__direct_call__reverts(project, exchange, maker):
    risk = project.ExchangeRisk.at(exchange.risk_logic())
    logic = project.ExchangeAccounts.at(risk.accounts_logic())
    with ape.reverts("exchange: delegatecall only"):
        logic.open_subaccount(1, sender=maker)
    with ape.reverts("exchange: delegatecall only"):
        project.ExchangeAccounts.at(risk.address).open_subaccount(1, sender=maker)


def test_unknown_selector__reverts(exchange, maker):
    with ape.reverts():
        maker.transfer(exchange, 0, data="0xdeadbeef")


@pytest.fixture
def sub_trade(exchange, operator, domain, fund, maker, taker, open_sub):
    """settle(sub-account order signed by `signer`) against taker; returns the receipt."""

    def _trade(sub, signer, nonce=1):
        m = Order(sub, ETH, True, PRICE, ONE, nonce, FAR_EXPIRY, 0)
        t = Order(taker.address, ETH, False, PRICE, ONE, nonce, FAR_EXPIRY, 0)
        fill = (m.as_tuple(), sign_order(m, domain, signer.private_key).as_tuple(), t.as_tuple(),
                sign_order(t, domain, taker.private_key).as_tuple(), ONE)
        return exchange.settle([fill], sender=operator)

    fund(taker, 10_000 * USDC)
    return _trade


def test_settle__sub_order_signed_by_owner__settles(exchange, subs, maker, sub_trade, open_sub, fund):
    sub = open_sub(maker)
    fund(maker, 1_000 * USDC)
    subs.move_collateral(maker, sub, 1_000 * USDC, sender=maker)
    ok, skipped = settled(sub_trade(sub, maker), exchange)
    assert len(ok) == 1 and skipped == []
    assert exchange.position(sub, ETH) == (ONE, PRICE)
    assert exchange.position(maker, ETH) == (0, 0)  # isolated: the owner holds nothing


def test_settle__sub_order_signed_by_owners_agent__settles_until_revoked(
    exchange, subs, maker, stranger, sub_trade, open_sub, fund
):
    sub = open_sub(maker)
    fund(maker, 2_000 * USDC)
    subs.move_collateral(maker, sub, 2_000 * USDC, sender=maker)
    exchange.approve_agent(stranger, True, sender=maker)
    ok, skipped = settled(sub_trade(sub, stranger, 1), exchange)
    assert len(ok) == 1
    exchange.approve_agent(stranger, False, sender=maker)
    ok, skipped = settled(sub_trade(sub, stranger, 2), exchange)
    assert skipped == ["bad signature"]


def test_settle__sub_order_signed_by_foreigner__skipped(exchange, subs, maker, other, sub_trade, open_sub, fund):
    sub = open_sub(maker)
    fund(maker, 1_000 * USDC)
    subs.move_collateral(maker, sub, 1_000 * USDC, sender=maker)
    ok, skipped = settled(sub_trade(sub, other), exchange)
    assert skipped == ["bad signature"]


def test_cancel__owners_agent_cancels_sub_order(exchange, maker, stranger, open_sub):
    sub = open_sub(maker)
    exchange.approve_agent(stranger, True, sender=maker)
    order = Order(sub, ETH, True, PRICE, ONE, 5, FAR_EXPIRY, 0)
    tx = exchange.cancel_order(order.as_tuple(), sender=stranger)
    assert [l.account for l in tx.decode_logs(exchange.OrderCancelled)] == [sub]
    exchange.cancel_all_below_for(sub, 10, sender=maker)
    assert exchange.min_nonce(sub) == 10
