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


def funding_settled(receipt, exchange):
    """(account, market, amount, index) of every funding settlement in a receipt: the
    FundingSettled logs (withdraw, liquidation, transfers, settle_funding) and then each
    FillSettled's non-zero maker_funding / taker_funding (the fill path's record, at the
    batch's index: None here). amount > 0: the account paid."""
    out = [(e.account, e.market, e.amount, e.index) for e in receipt.decode_logs(exchange.FundingSettled)]
    for e in receipt.decode_logs(exchange.FillSettled):
        if e.maker_funding:
            out.append((e.maker, e.market, e.maker_funding, None))
        if e.taker_funding:
            out.append((e.taker, e.market, e.taker_funding, None))
    return out
