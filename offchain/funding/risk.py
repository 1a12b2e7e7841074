"""The keeper's risk view of an account with its unsettled funding per market.

A position's unsettled funding is part of its cost until it settles: settling moves
`owed` from the position to the collateral (`collateral -= owed`), so a position of
(size, cost + owed) next to the unsettled collateral has the same equity as the settled
account, and its PnL at mark, value(size, mark) - cost - owed, is the one the Exchange's
ADL check uses (ExchangeRisk.adl: PnL minus the counterparty's unsettled funding > 0).
So an account made bankrupt by funding alone finds its counterparties: the receivers,
whose gain is funding, not price (docs/funding.md, "ADL with funding").
"""

from __future__ import annotations

from typing import Mapping

from offchain.risk.liquidation import AccountRisk


def account_with_funding(account: str, collateral: int, positions: Mapping[int, tuple[int, int]],
                         owed: Mapping[int, int]) -> AccountRisk:
    """AccountRisk of a chain snapshot: `collateral` as stored (not after funding),
    `positions` {market: (size, cost)}, `owed` {market: Exchange.funding_owed} (> 0: owes),
    each open position's owed folded into its cost."""
    return AccountRisk(account, collateral,
                       tuple((m, s, c + owed.get(m, 0)) for m, (s, c) in sorted(positions.items()) if s != 0))
