"""Reading settle receipts in contract tests."""


def settled(receipt, exchange):
    """(settled fills, skip reasons) of a settle receipt."""
    ok = list(receipt.events.filter(exchange.FillSettled))
    skipped = [e.reason for e in receipt.events.filter(exchange.FillSkipped)]
    return ok, skipped
