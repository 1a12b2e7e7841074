"""The gas limit a sender puts on a transaction, given the node's estimate.

An estimate is the least gas that succeeds on the state and block time the node used to
estimate; the block the transaction is mined in can differ in both. A value derived from
the block time written to storage costs 2,900 gas when it changes and 100 when it does
not (a deposit in the same second as the pool's last sync), a slot another transaction
filled in between costs 20,000 more, and the 63/64 rule at each nested call multiplies
such a difference. A transaction sent with the bare estimate then runs out of gas when
mined though it passed the estimate (seen on anvil as an intermittent pool deposit,
redeem or vault claim failure). Every sender in the project (deployer, SDK wallet, the
web app) adds the same headroom; unused gas is refunded, so it costs nothing.
"""

from __future__ import annotations

HEADROOM_NUM = 6
HEADROOM_DEN = 5
HEADROOM_FIXED = 50_000


def gas_limit(estimate: int) -> int:
    """The limit to send with: estimate x 1.2 + 50,000."""
    return estimate * HEADROOM_NUM // HEADROOM_DEN + HEADROOM_FIXED
