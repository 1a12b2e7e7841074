"""The Exchange stack the gas benches deploy on Ape's active network (one market, id 1).

One sequence for bench_gas, bench_subaccounts and bench_vault_gas, so their figures are
measured on the same contracts wired the same way. It is smaller than
offchain.deploy.deploy_suite on purpose: no pool, backstop, fee split or Funding contract,
each of which would change the gas of the paths these benches measure; a bench adds what
its scenario needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import ape

from offchain.order import Domain, Order, address_of, sign_order

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


ONE = 10**18
FAR = 2**40  # an expiry no bench reaches
SIZE = 10**17  # 0.1 ETH per fill


def key_of(i: int) -> bytes:
    """The private key of the gas benches' i-th trading account (deterministic, so a run's
    transactions and their traces are the same every run)."""
    return (0xB0B0_0000 + i).to_bytes(32, "big")


class FillScenarios:
    """Funded accounts, sequential nonces and signed fills against one ExchangeStack: the
    steady-state settle scenarios that bench_gas measures and bench_gas_profile traces, so
    both scripts measure the same transactions."""

    def __init__(self, stack: ExchangeStack, admin, operator) -> None:
        self.stack, self.admin, self.operator = stack, admin, operator
        self.next_key = 1
        self.nonces: dict[bytes, int] = {}
        self.funding = None
        stack.usdc.mint(admin, 10**15, sender=admin)
        stack.usdc.approve(stack.exchange, 2**256 - 1, sender=admin)

    def new_keys(self, n: int, collateral: int = 100_000 * USDC) -> list[bytes]:
        """n fresh accounts, each with `collateral` deposited (the account word is written)."""
        keys = [key_of(self.next_key + i) for i in range(n)]
        self.next_key += n
        for k in keys:
            self.stack.exchange.deposit_for(address_of(k), collateral, sender=self.admin)
        return keys

    def order_for(self, key: bytes, is_buy: bool, size: int = SIZE, flags: int = 0,
                  price: int = PRICE) -> Order:
        # sequential nonces per account (the SDK's rule): an account's single-fill
        # orders share one bitmap word per 256 nonces
        self.nonces[key] = self.nonces.get(key, 0) + 1
        return Order(address_of(key), MARKET, is_buy, price, size, self.nonces[key], FAR, flags)

    def fill(self, maker: Order, maker_key: bytes, taker: Order, taker_key: bytes,
             size: int) -> tuple:
        """One settle entry: both orders with their signatures and the fill size."""
        domain = self.stack.domain
        return (maker.as_tuple(), sign_order(maker, domain, maker_key).as_tuple(),
                taker.as_tuple(), sign_order(taker, domain, taker_key).as_tuple(), size)

    def fills_for(self, maker_keys: list[bytes], taker_keys: list[bytes], flags: int = 0,
                  taker_flags: int | None = None) -> list[tuple]:
        """One fill of SIZE per (maker, taker) pair: the maker buys, the taker sells; both
        orders carry `flags`, or the taker's `taker_flags` when given."""
        tf = flags if taker_flags is None else taker_flags
        return [
            self.fill(self.order_for(mk, True, flags=flags), mk, self.order_for(tk, False, flags=tf), tk, SIZE)
            for mk, tk in zip(maker_keys, taker_keys)
        ]

    def settle_tx(self, fills: list[tuple]):
        """The settle receipt; every fill must settle (a skip fails with its reasons)."""
        exchange = self.stack.exchange
        tx = exchange.settle(fills, sender=self.operator)
        settled = len(tx.decode_logs(exchange.FillSettled))
        assert settled == len(fills), [log.reason for log in tx.decode_logs(exchange.FillSkipped)]
        return tx

    def set_margin_tiers(self) -> None:
        """3 margin tiers on the market (docs/exchange.md, "Margin tiers")."""
        self.stack.exchange.set_margin_tiers(
            MARKET, [0, 10**6 * USDC, 5 * 10**6 * USDC], [1_000, 2_000, 5_000], [500, 1_000, 2_500],
            sender=self.admin)

    def deploy_funding(self):
        """A Funding contract for the market (not yet set on the Exchange)."""
        funding = ape.project.Funding.deploy(self.stack.oracle, sender=self.admin)
        funding.grantRole(funding.FUNDING_ROLE(), self.admin, sender=self.admin)
        funding.set_funding_config(MARKET, 60, 10**12, sender=self.admin)
        self.funding = funding
        return funding

    def accrue(self, rate: int = 10**8) -> None:
        """One funding rate: every open position owes since its snapshot."""
        ape.chain.pending_timestamp += 130
        self.stack.oracle.set_price(MARKET, PRICE, sender=self.admin)
        _, last, _, _ = self.funding.funding_state(MARKET)
        self.funding.update_funding(MARKET, last + 1, rate, sender=self.admin)

    def measure_tx(self, makers: list[bytes], takers: list[bytes], flags: int, owed: bool = False,
                   before: Callable[[list[tuple]], None] | None = None, taker_flags: int | None = None):
        """The second batch between the same accounts (steady state: positions open, nonce
        words written); `owed`: a funding rate in between, every taker settles funding;
        `before`: called with the measured batch's fills just before it is sent;
        `taker_flags`: the takers' flags when they differ from the makers' `flags`."""
        self.settle_tx(self.fills_for(makers, takers, flags, taker_flags))
        if owed:
            self.accrue()
        fills = self.fills_for(makers, takers, flags, taker_flags)
        if before is not None:
            before(fills)
        tx = self.settle_tx(fills)
        if owed:
            events = tx.decode_logs(self.stack.exchange.FillSettled)
            assert all(e.taker_funding != 0 for e in events), "every taker owes"
        return tx
