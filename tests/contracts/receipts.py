"""Reading settle receipts and reverts in contract tests."""

import ape

# view calls at the pending block: the state and timestamp the next transaction sees
PENDING = {"block_id": "pending"}


def settled(receipt, exchange):
    """(settled fills, skip reasons) of a settle receipt."""
    ok = list(receipt.events.filter(exchange.FillSettled))
    skipped = [e.reason for e in receipt.events.filter(exchange.FillSkipped)]
    return ok, skipped


def reverted(call):
    """Run a transaction: (receipt, None) or (None, revert reason)."""
    try:
        return call(), None
    except ape.exceptions.ContractLogicError as err:
        return None, err.message
