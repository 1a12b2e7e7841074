"""The Exchange's ledger identity with funding (docs/funding.md, "Ledger identity")."""

from tests.constants import ETH


def identity(exchange, usdc, accounts, markets=(ETH,)):
    coll = sum(exchange.collateral(a) for a in accounts)
    cost = sum(exchange.position(a, m)[1] for a in accounts for m in markets)
    return usdc.balanceOf(exchange) == (
        coll - cost + exchange.fees_accrued() + exchange.insurance_fund() + exchange.funding_balance()
    )
