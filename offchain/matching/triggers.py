"""Trigger rules for stop, take-profit and trailing-stop orders (pure functions).

Triggers fire only on mark-price updates (never on trades), in placement order, so a
replayed journal of set_mark calls fires the same orders in the same order.
"""
from __future__ import annotations

from .book import PendingTrigger
from .types import BPS, OrderKind, Place

_STOPS = (OrderKind.STOP_MARKET, OrderKind.STOP_LIMIT)
_TAKE_PROFITS = (OrderKind.TAKE_PROFIT, OrderKind.TAKE_PROFIT_LIMIT)
TRIGGER_KINDS = frozenset((*_STOPS, *_TAKE_PROFITS, OrderKind.TRAILING_STOP))
LIMIT_AFTER_TRIGGER = frozenset((OrderKind.STOP_LIMIT, OrderKind.TAKE_PROFIT_LIMIT))


def fixed_trigger_met(cmd: Place, mark: int) -> bool:
    """Stop: buy when mark >= trigger, sell when mark <= trigger. Take-profit: the reverse."""
    if cmd.kind in _STOPS:
        return mark >= cmd.trigger_price if cmd.is_buy else mark <= cmd.trigger_price
    return mark <= cmd.trigger_price if cmd.is_buy else mark >= cmd.trigger_price


def trail_distance(cmd: Place, extreme: int) -> int:
    return cmd.trail_amount if cmd.trail_amount else extreme * cmd.trail_bps // BPS


def update_and_check(pending: PendingTrigger, mark: int) -> bool:
    """Move a trailing stop's extreme with the mark; report whether the order fires."""
    cmd = pending.cmd
    if cmd.kind != OrderKind.TRAILING_STOP:
        return fixed_trigger_met(cmd, mark)
    extreme = pending.extreme
    if cmd.is_buy:  # buy-to-close a short: follow the trough, fire on a rebound
        if extreme == 0 or mark < extreme:
            pending.extreme = extreme = mark
        return mark >= extreme + trail_distance(cmd, extreme)
    if mark > extreme:  # sell-to-close a long: follow the peak, fire on a drop
        pending.extreme = extreme = mark
    return mark <= extreme - trail_distance(cmd, extreme)


def fired(triggers: dict, mark: int) -> list[PendingTrigger]:
    """All pending triggers of a book that fire at `mark`, in placement order."""
    return [p for p in triggers.values() if update_and_check(p, mark)]
