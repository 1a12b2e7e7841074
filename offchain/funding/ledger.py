"""Lazy funding settlement: the model the Exchange implements and the keeper mirrors.

Each market has a cumulative index (rate.index_delta per interval). Each position keeps
the index it last settled at (its snapshot). Touching a position (a fill, a liquidation,
a withdrawal, a transfer, `settle_funding`) settles `funding_owed(size, index, snapshot)`
and moves the snapshot to the index.

Clearing: the insurance fund is the counterparty of every funding payment. A payer's
collateral goes down by the ceiling of what it owes and the fund goes up by the same; a
receiver's collateral goes up by the floor and the fund goes down by the same. So
collateral + fund is unchanged by every settlement (the ledger identity never moves),
and once every position has settled, the fund has gained exactly the rounding residue:
sum(paid) = sum(received) + residue. Before that the fund may be fronting receivers
who settled ahead of their payers; the payers' debt is already in their equity (every
equity view includes unsettled funding), so solvency is unaffected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .rate import funding_owed, index_delta


@dataclass(slots=True)
class Position:
    size: int = 0
    snapshot: int = 0  # the market's funding index when this position last settled


@dataclass(slots=True)
class FundingLedger:
    index: dict[int, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    collateral: dict[str, int] = field(default_factory=dict)
    insurance: int = 0
    paid: dict[str, int] = field(default_factory=dict)      # USDC units paid, per account
    received: dict[str, int] = field(default_factory=dict)  # USDC units received, per account

    def apply_rate(self, market: int, rate: int, mark: int) -> int:
        """One interval's rate at the index price `mark`; returns the new index."""
        new = self.index.get(market, 0) + index_delta(rate, mark)
        self.index[market] = new
        return new

    def pending(self, account: str, market: int) -> int:
        """Unsettled funding of one position (positive: it owes)."""
        pos = self.positions.get((account, market))
        if pos is None or pos.size == 0:
            return 0
        return funding_owed(pos.size, self.index.get(market, 0), pos.snapshot)

    def settle(self, account: str, market: int) -> int:
        """Settle one position's funding; returns the amount (positive: paid)."""
        owed = self.pending(account, market)
        pos = self.positions.setdefault((account, market), Position())
        pos.snapshot = self.index.get(market, 0)
        if owed:
            self.collateral[account] = self.collateral.get(account, 0) - owed
            self.insurance += owed
            if owed > 0:
                self.paid[account] = self.paid.get(account, 0) + owed
            else:
                self.received[account] = self.received.get(account, 0) - owed
        return owed

    def trade(self, account: str, market: int, delta: int) -> int:
        """Change a position by `delta` base units (settling its funding first)."""
        owed = self.settle(account, market)
        self.positions[(account, market)].size += delta
        return owed
