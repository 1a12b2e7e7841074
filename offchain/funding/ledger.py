"""Lazy funding settlement: the model the Exchange implements and the keeper mirrors.

Each market has a cumulative index (rate.index_delta per interval). Each position keeps
the index it last settled at (its snapshot). Touching a position (a fill, a liquidation,
a withdrawal, a transfer, `settle_funding`) settles `funding_owed(size, index, snapshot)`
and moves the snapshot to the index.

Clearing (the Exchange's, docs/funding.md "Rounding residue"): payments go through a
signed funding balance. A settlement's exact amount is x = size * (index - snapshot)
(units of 1 / PAY_SCALE USDC unit); the account pays ceil(x / PAY_SCALE) (a payer the
ceiling, a receiver gets the floor) into the balance, and what the rounding kept back,
ceil(x / PAY_SCALE) * PAY_SCALE - x in [0, PAY_SCALE), accumulates in `dust`, whose
whole units move to the insurance fund as they complete. Invariants: collateral +
balance + insurance is unchanged by every settlement; balance * PAY_SCALE - dust = the
sum of the settled exact amounts; once every position has settled, balance = dust = 0
and the fund holds exactly the rounding residue: sum(paid) = sum(received) + residue.
Before that the balance may be negative (receivers ahead of their payers); the payers'
debt is already in their equity (every equity view includes unsettled funding).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .rate import PAY_SCALE, funding_owed, index_delta


@dataclass(slots=True)
class Position:
    size: int = 0
    snapshot: int = 0  # the market's funding index when this position last settled


@dataclass(slots=True)
class FundingLedger:
    index: dict[int, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    collateral: dict[str, int] = field(default_factory=dict)
    insurance: int = 0  # the residue swept so far
    balance: int = 0    # funding paid in - paid out - swept (Exchange.funding_balance)
    dust: int = 0       # residue below one unit, 1 / PAY_SCALE units (Exchange.funding_dust)
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
        pos = self.positions.setdefault((account, market), Position())
        index = self.index.get(market, 0)
        exact = pos.size * (index - pos.snapshot)
        owed = funding_owed(pos.size, index, pos.snapshot)
        pos.snapshot = index
        swept, self.dust = divmod(self.dust + owed * PAY_SCALE - exact, PAY_SCALE)
        self.balance += owed - swept
        self.insurance += swept
        if owed:
            self.collateral[account] = self.collateral.get(account, 0) - owed
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
