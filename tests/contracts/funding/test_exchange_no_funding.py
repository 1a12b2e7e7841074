"""An Exchange without a Funding contract: no position ever owes funding, and nothing
else changes (every other contract test folder runs this way)."""

from tests.constants import ETH, ETH_PRICE, ONE, USDC, ZERO


def test_views__no_funding_contract__zero(exchange, operator, maker, taker, fund, create_order, create_fill, chain):
    fund(maker, 1_000 * USDC)
    fund(taker, 1_000 * USDC)
    mo = create_order(maker, True, ETH_PRICE, ONE)
    to = create_order(taker, False, ETH_PRICE, ONE)
    exchange.settle([create_fill(mo, to)], sender=operator)
    chain.pending_timestamp += 86_400
    assert exchange.funding() == ZERO
    assert exchange.funding_owed(maker, ETH) == exchange.funding_owed(taker, ETH) == 0
    tx = exchange.settle_funding(maker, sender=taker)
    assert tx.decode_logs(exchange.FundingSettled) == []
    assert exchange.funding_balance() == 0
