"""The Exchange stack the gas benches deploy on Ape's active network (one market, id 1).

One sequence for bench_gas, bench_subaccounts and bench_vault_gas, so their figures are
measured on the same contracts wired the same way. It is smaller than
offchain.deploy.deploy_suite on purpose: no pool, backstop, fee split or Funding contract,
each of which would change the gas of the paths these benches measure; a bench adds what
its scenario needs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import ape

from offchain.order import Domain

USDC = 10**6
MARKET = 1
PRICE = 2_000 * USDC
LOT = 10**15


class ExchangeStack(NamedTuple):
    usdc: Any
    oracle: Any
    exchange: Any
    domain: Domain


def deploy_exchange(admin, operator, treasury, *, max_age: int = 3_600, maker_rebate_bps: int = 2,
                    band_bps: int = 500) -> ExchangeStack:
    """TestUSDC, Oracle (admin reports, mark PRICE), a one-tier RebateEngine (5 bps taker fee),
    the Exchange with its two DELEGATECALL engines, `operator` allowed to settle, and market 1
    (tick 0.01 USDC, lot and minimum size LOT, IM 10 %, MM 5 %, the given band)."""
    project = ape.project
    usdc = project.TestUSDC.deploy(sender=admin)
    oracle = project.Oracle.deploy(5_000, max_age, 5_000, 1, sender=admin)
    oracle.grantRole(oracle.REPORTER_ROLE(), admin, sender=admin)
    oracle.set_price(MARKET, PRICE, sender=admin)
    rebate = project.RebateEngine.deploy([(0, 5, maker_rebate_bps)], sender=admin)
    accounts_logic = project.ExchangeAccounts.deploy(usdc, oracle, sender=admin)
    risk = project.ExchangeRisk.deploy(usdc, oracle, accounts_logic, sender=admin)
    exchange = project.Exchange.deploy(usdc, oracle, rebate, treasury, risk, sender=admin)
    exchange.grantRole(exchange.OPERATOR_ROLE(), operator, sender=admin)
    exchange.add_market(10_000, LOT, LOT, 1_000, 500, band_bps, sender=admin)
    return ExchangeStack(usdc, oracle, exchange, Domain(ape.chain.chain_id, exchange.address))
