"""Collateral moves between an owner and its sub-accounts settle the source's funding in
every market first (docs/funding.md, "Lazy settlement"), as withdraw does: the source never
moves out funding it owes, even when price profit would cover the margin check.

Invariant: after a move the source's stored collateral is >= 0 with all its funding
settled, and the ledger identity holds."""

import ape
import pytest

from offchain.funding import RATE_ONE
from offchain.subaccounts import subaccount_address
from tests.constants import ETH, ETH_PRICE, ONE, USDC
from tests.contracts.funding.identity import identity


@pytest.fixture(scope="module")
def subs(project, exchange):
    return project.ExchangeAccounts.at(exchange.address)


def test_move_collateral__settles_source_funding_first(
    exchange, usdc, subs, fx, push_rate, open_pair, oracle, admin, maker, taker
):
    subs.open_subaccount(1, sender=maker)
    sub = subaccount_address(maker.address, 1)
    open_pair(ONE, collateral=1_000 * USDC)  # maker long at 2,000
    price = ETH_PRICE * 12 // 10
    push_rate(RATE_ONE // 100, price=price)  # the long owes 1 % of 2,400; +400 price PnL
    owed = exchange.funding_owed(maker, ETH)
    coll = exchange.collateral(maker)
    assert owed == 24 * USDC
    # price profit would pass the margin check, but the collateral after funding is short
    with ape.reverts("exchange: insufficient collateral"):
        subs.move_collateral(maker, sub, coll - owed + 1, sender=maker)
    tx = subs.move_collateral(maker, sub, coll - owed, sender=maker)
    assert [(e.account, e.market, e.amount) for e in tx.decode_logs(exchange.FundingSettled)] == [
        (maker.address, ETH, owed)]
    assert [(e.source, e.target, e.amount) for e in tx.decode_logs(exchange.CollateralMoved)] == [
        (maker.address, sub, coll - owed)]
    assert exchange.collateral(maker) == 0 and exchange.funding_owed(maker, ETH) == 0
    assert exchange.collateral(sub) == coll - owed
    assert identity(exchange, usdc, [maker, taker, sub])
