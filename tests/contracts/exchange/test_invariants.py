"""Stateful property test: deposits, withdrawals, price moves and settlements.

Invariants after every step (exact integers):
- USDC held by the Exchange == sum(collateral) - sum(cost basis) + fees_accrued
  + insurance_fund.
  Collateral is signed (bad debt is negative); realised PnL moves cost basis into
  collateral, so the cost-basis term is what keeps the ledger exactly balanced.
- Positions sum to zero in every market.
- Traders' PnL is zero-sum net of fees: sum over traders of
  (equity - net deposits + fees paid - rebates received) is zero up to the per-account
  truncation of size * mark // 1e18 (at most one unit per account).
- No order is filled beyond its size.
"""

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from tests.constants import ETH, ETH_PRICE, LOT, TICK, USDC
from tests.contracts.receipts import reverted
from tests.stateful import chain_machine, run_machine

STATS = {"settled": 0, "skipped": 0, "overfill_refused": 0}


def test_ledger_invariants(chain, exchange, usdc, oracle, admin, operator, maker, taker, other, fund, create_order, create_fill, hash_of):
    traders = [maker, taker, other]
    for t in traders:
        fund(t, 0, deposit=False)  # approvals

    class Ledger(chain_machine(chain, exchange, oracle)):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.net_deposits = {t.address: 0 for t in traders}
            self.fees_paid = {t.address: 0 for t in traders}
            self.orders = []
            self.mark = ETH_PRICE
            oracle.set_price(ETH, ETH_PRICE, sender=admin)
            for t in traders:
                fund(t, 20_000 * USDC)
                self.net_deposits[t.address] += 20_000 * USDC
            # Every run starts with an open position, so no example (whatever the seed)
            # checks the invariants over an empty ledger only.
            self.settle(0, 1, True, 0, 100, 0, False)

        @rule(i=st.integers(0, 2), amount=st.integers(1, 5_000 * USDC))
        def deposit(self, i, amount):
            fund(traders[i], amount)
            self.net_deposits[traders[i].address] += amount

        @rule(i=st.integers(0, 2), amount=st.integers(1, 5_000 * USDC))
        def withdraw(self, i, amount):
            receipt, _ = reverted(lambda: exchange.withdraw(amount, sender=traders[i]))
            if receipt is not None:
                self.net_deposits[traders[i].address] -= amount

        @rule(move_bps=st.integers(-300, 300))
        def move_price(self, move_bps):
            self.mark = (self.mark * (10_000 + move_bps) // 10_000) // TICK * TICK
            oracle.set_price(ETH, self.mark, sender=admin)

        @rule(
            i=st.integers(0, 2),
            j=st.integers(1, 2),
            maker_buys=st.booleans(),
            offset_ticks=st.integers(-500, 500),
            lots=st.integers(1, 3_000),
            extra_lots=st.integers(0, 3_000),
            reuse=st.booleans(),
        )
        def settle(self, i, j, maker_buys, offset_ticks, lots, extra_lots, reuse):
            """Two distinct traders, a fill within the maker order's size (with reuse, the
            last maker order again when what is left of it fits)."""
            last = self.orders[-2] if self.orders else None
            if reuse and last is not None and exchange.filled(hash_of(last)) + lots * LOT <= last.size:
                m = last
            else:
                m = create_order(traders[i], maker_buys, self.mark + offset_ticks * TICK, (lots + extra_lots) * LOT)
            k = [x.address for x in traders].index(m.account)
            t = create_order(traders[(k + j) % 3], not m.is_buy, m.price, lots * LOT)
            self._settle(m, t, lots * LOT)

        @rule(extra_lots=st.integers(1, 3_000))
        def overfill(self, extra_lots):
            """A hostile operator fills the last maker order beyond what is left of it."""
            if not self.orders:
                return
            m = self.orders[-2]
            size = m.size - exchange.filled(hash_of(m)) + extra_lots * LOT
            taker_of = next(x for x in traders if x.address != m.account)
            assert self._settle(m, create_order(taker_of, not m.is_buy, m.price, size), size) == 0
            STATS["overfill_refused"] += 1

        def _settle(self, m, t, size):
            self.orders += [m, t]
            tx = exchange.settle([create_fill(m, t, size=size)], sender=operator)
            STATS["settled"] += len(tx.decode_logs(exchange.FillSettled))
            STATS["skipped"] += len(tx.decode_logs(exchange.FillSkipped))
            STATS.setdefault("reasons", set()).update(log.reason for log in tx.decode_logs(exchange.FillSkipped))
            for log in tx.decode_logs(exchange.FillSettled):
                self.fees_paid[log.taker] += log.taker_fee
                self.fees_paid[log.maker] -= log.maker_rebate
            return len(tx.decode_logs(exchange.FillSettled))

        @invariant()
        def balanced(self):
            if not hasattr(self, "snapshot"):
                return
            coll = sum(exchange.collateral(t) for t in traders)
            cost = sum(exchange.position(t, ETH)[1] for t in traders)
            assert usdc.balanceOf(exchange) == coll - cost + exchange.fees_accrued() + exchange.insurance_fund()
            assert sum(exchange.position(t, ETH)[0] for t in traders) == 0
            pnl = sum(exchange.equity(t) - self.net_deposits[t.address] + self.fees_paid[t.address] for t in traders)
            assert abs(pnl) <= len(traders)
            for order in self.orders[-6:]:
                f = exchange.filled(hash_of(order))
                assert f <= order.size

    coverage = run_machine(Ledger, examples=8, steps=12)
    # the run must have exercised settlement, not only refusals
    assert STATS["settled"] > 0 and STATS["overfill_refused"] > 0, STATS
    coverage.require(settle=8, deposit=1, withdraw=1, move_price=1)
