"""A position transfer realises funding like any position change (ledger._move ->
_write_position settles the moved market's funding of both accounts at the index, then
stores the new position with that snapshot), so a transferred position neither loses nor
duplicates what it owed; split and merge the same. Invariant: USDC held == sum(collateral)
- sum(cost) + fees_accrued + insurance_fund + funding_balance, and funding_balance ==
sum(FundingSettled.amount)."""

from offchain.funding import RATE_ONE
from tests.constants import ETH, ETH_PRICE, ONE, USDC
from tests.contracts.funding.identity import identity


def test_transfer__realises_both_sides_funding(exchange, usdc, subs, fx, push_rate, fund, trade, maker, taker,
                                               other, stranger, create_transfer, sign_t):
    fund(maker, 10_000 * USDC)
    fund(taker, 10_000 * USDC)
    fund(other, 10_000 * USDC)
    trade(maker, maker, taker, taker, True, 2 * ONE)  # maker long 2
    trade(other, other, taker, taker, True, ONE)  # other long 1
    push_rate(RATE_ONE // 1_000)  # longs pay
    owed_maker = exchange.funding_owed(maker, ETH)
    owed_other = exchange.funding_owed(other, ETH)
    assert owed_maker > 0 and owed_other > 0
    t = create_transfer(maker, other, ONE, ETH_PRICE)
    tx = subs.transfer_position(t.as_tuple(), sign_t(t, maker), sign_t(t, other), sender=stranger)
    settled = {(e.account, e.amount) for e in tx.decode_logs(exchange.FundingSettled)}
    assert settled == {(maker.address, owed_maker), (other.address, owed_other)}
    assert exchange.funding_owed(maker, ETH) == 0 and exchange.funding_owed(other, ETH) == 0
    assert identity(exchange, usdc, [maker, taker, other, exchange.treasury()])
    # from here each pays on what it holds after the transfer
    push_rate(RATE_ONE // 1_000)
    assert exchange.funding_owed(other, ETH) == 2 * exchange.funding_owed(maker, ETH)


def test_split_merge__sub_account_pays_its_own_funding(exchange, usdc, subs, fx, push_rate, fund, trade, maker,
                                                       taker, open_sub):
    fund(maker, 10_000 * USDC)
    fund(taker, 10_000 * USDC)
    trade(maker, maker, taker, taker, True, 2 * ONE)
    sub = open_sub(maker)
    subs.split(sub, ETH, ONE, 1_000 * USDC, sender=maker)
    push_rate(RATE_ONE // 1_000)
    owed = exchange.funding_owed(sub, ETH)
    assert owed > 0 and owed == exchange.funding_owed(maker, ETH)  # isolated, the same size
    coll = exchange.collateral(sub)
    tx = subs.merge(sub, ETH, 0, sender=maker)
    assert (sub, owed) in {(e.account, e.amount) for e in tx.decode_logs(exchange.FundingSettled)}
    assert exchange.collateral(sub) == coll - owed
    assert identity(exchange, usdc, [maker, taker, sub, exchange.treasury()])
