"""ADL with funding (docs/funding.md, "ADL with funding"): a counterparty qualifies by its
PnL including the funding it has not settled, so an account made bankrupt by funding
alone (no price move) is closed against the receivers of that funding; the keeper's
ranking (offchain.funding.risk.account_with_funding + adl_rank) agrees with the chain.

Invariant: the ledger identity holds after the ADL, the bankrupt account ends at zero
equity (nothing left for the insurance fund to cover) and the receiver keeps exactly its
funding minus the deficit it gave back."""

import ape

from offchain.funding import RATE_ONE
from offchain.funding.risk import account_with_funding
from offchain.risk.liquidation import MarketRisk, adl_rank
from tests.constants import ETH, ETH_PRICE, LOT, MIN_SIZE, MM_BPS, IM_BPS, ONE, USDC
from tests.contracts.funding.identity import identity

MARKETS = {ETH: MarketRisk(ETH, LOT, MIN_SIZE, IM_BPS, MM_BPS)}


def keeper_rank(exchange, accounts, mark=ETH_PRICE):
    """The keeper's ADL rank against a bankrupt long in ETH, from the chain's views."""
    view = [account_with_funding(a.address, exchange.collateral(a), {ETH: exchange.position(a, ETH)},
                                 {ETH: exchange.funding_owed(a, ETH)}) for a in accounts]
    return [c.account for c in adl_rank(True, ETH, view, {ETH: mark}, MARKETS)]


def test_adl__funding_only_bankruptcy__receiver_is_the_counterparty(
    exchange, usdc, fx, push_rate, open_pair, fill, fund, admin, operator, maker, taker, other, stranger, lp
):
    fund(lp, 1_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    open_pair(ONE, collateral=250 * USDC)  # maker long, taker short at the mark
    push_rate(RATE_ONE // 5)  # 20 %: the long owes 400 USDC, the price never moves
    fund(other, 10_000 * USDC)
    fund(stranger, 10_000 * USDC)
    fill(other, stranger, False, ONE)  # other opens short after the rate: PnL 0, no funding
    owed = exchange.funding_owed(maker, ETH)
    received = -exchange.funding_owed(taker, ETH)
    equity = exchange.equity(maker)
    assert owed == 400 * USDC and equity == exchange.collateral(maker) - owed < 0
    assert -equity > exchange.insurance_fund()
    # the backstop cannot take it: the fund cannot cover the deficit
    with ape.reverts("exchange: insurance short"):
        exchange.liquidate(maker, ETH, sender=stranger)

    # neither side's price PnL is positive; only the receiver's funding makes it qualify
    assert exchange.position(taker, ETH) == (-ONE, -2_000 * USDC)
    assert keeper_rank(exchange, [taker, other, stranger]) == [taker.address]
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(maker, ETH, [other], sender=operator)

    coll_t = exchange.collateral(taker)
    tx = exchange.adl(maker, ETH, [taker], sender=operator)
    [adl] = tx.decode_logs(exchange.Adl)
    assert (adl.account, adl.counterparty, adl.size) == (maker.address, taker.address, ONE)
    assert adl.price == ETH_PRICE - equity  # the bankruptcy price: 2,150
    assert {(e.account, e.amount) for e in tx.decode_logs(exchange.FundingSettled)} == {
        (maker.address, owed), (taker.address, -received)}
    assert exchange.position(maker, ETH) == (0, 0) and exchange.position(taker, ETH) == (0, 0)
    assert exchange.equity(maker) == exchange.collateral(maker) == 0
    # the receiver gives back exactly the deficit: its gain is the maker's collateral
    assert exchange.collateral(taker) == coll_t + received + equity
    assert identity(exchange, usdc, [maker, taker, other, stranger, lp, operator])


def test_adl__funding_payer_in_price_profit__not_a_counterparty(
    exchange, fx, push_rate, open_pair, fill, fund, operator, oracle, admin, maker, taker, other, stranger
):
    """The other way round: a short in price profit that owes more funding than it gained
    does not qualify, on chain and in the keeper's rank; one without funding does."""
    fund(other, 10_000 * USDC)
    fund(stranger, 10_000 * USDC)
    fill(stranger, other, True, ONE)  # other short at 2,000 against stranger
    push_rate(-RATE_ONE * 15 // 100)  # shorts pay 15 %: other owes 300
    open_pair(ONE, collateral=210 * USDC)  # after the rate: maker long (thin), taker short
    oracle.set_price(ETH, 1_750 * USDC, sender=admin)  # -250 for the longs
    assert exchange.equity(maker) < 0 and -exchange.equity(maker) > exchange.insurance_fund()
    assert exchange.funding_owed(other, ETH) == 300 * USDC  # price PnL +250, funding -300
    assert exchange.funding_owed(taker, ETH) == 0  # price PnL +250
    assert keeper_rank(exchange, [other, taker], mark=1_750 * USDC) == [taker.address]
    with ape.reverts("exchange: adl counterparty"):
        exchange.adl(maker, ETH, [other], sender=operator)
    tx = exchange.adl(maker, ETH, [taker], sender=operator)
    assert [e.counterparty for e in tx.decode_logs(exchange.Adl)] == [taker.address]
