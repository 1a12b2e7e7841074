"""Turn "the orders an engine wants" into the fewest cancels and places.

Orders are grouped by (market, side, price, reduce_only); within a group only the total
size matters. Per group, with D the desired total and the live orders oldest first:
- live total == D: keep them all (no operation);
- one live order is exactly D: keep it, cancel the others;
- else keep live orders oldest first while they fit in D (queue position is worth more
  than a fresh order), cancel the rest (or amend the first that does not fit down to what
  is left, when the venue supports reducing an order in place: `allow_amend=True`), and
  place one order for the shortfall.
A shortfall below `min_size` cannot be placed: the group is then cancelled and placed
again whole (when D itself is placeable). Cancels come first in the plan so a batch never
holds both the old and the new order against the margin.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from offchain.strategies.orders import DesiredOrder, LiveOrder, OrderId


class Amend(msgspec.Struct, frozen=True, gc=False):
    """Reduce a resting order's remaining size in place (keeps its queue position)."""

    order_id: OrderId
    new_size: int


class Plan(msgspec.Struct, frozen=True):
    cancels: tuple[OrderId, ...] = ()
    places: tuple[DesiredOrder, ...] = ()
    amends: tuple[Amend, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.cancels or self.places or self.amends)


_Key = tuple[int, bool, int, bool]


def reconcile(live: Iterable[LiveOrder], desired: Iterable[DesiredOrder], *,
              min_size: int = 0, allow_amend: bool = False) -> Plan:
    live_groups: dict[_Key, list[LiveOrder]] = {}
    for lo in live:
        live_groups.setdefault((lo.market, lo.is_buy, lo.price, lo.reduce_only), []).append(lo)
    want: dict[_Key, int] = {}
    template: dict[_Key, DesiredOrder] = {}  # first desired order of a group: its flags
    for d in desired:
        if d.size <= 0:
            continue
        key = (d.market, d.is_buy, d.price, d.reduce_only)
        if key in want:
            want[key] += d.size
        else:
            want[key] = d.size
            template[key] = d

    cancels: list[OrderId] = []
    places: list[DesiredOrder] = []
    amends: list[Amend] = []
    for key, orders in live_groups.items():
        if key not in want:
            cancels.extend(o.order_id for o in orders)
    for key, total in want.items():
        orders = live_groups.get(key, [])
        kept, group_cancels, group_amends = _match(orders, total, allow_amend)
        shortfall = total - kept
        if 0 < shortfall < min_size:
            group_cancels, group_amends, shortfall = [o.order_id for o in orders], [], total
            if total < min_size:  # not placeable either way: leave what rests alone
                continue
        cancels.extend(group_cancels)
        amends.extend(group_amends)
        if shortfall > 0:
            t = template[key]
            places.append(t if t.size == shortfall else
                          DesiredOrder(t.market, t.is_buy, t.price, shortfall, t.post_only, t.reduce_only))
    return Plan(tuple(cancels), tuple(places), tuple(amends))


def _match(orders: list[LiveOrder], total: int, allow_amend: bool) -> tuple[int, list[OrderId], list[Amend]]:
    """(size kept, cancels, amends) for one group."""
    if not orders:
        return 0, [], []
    if sum(o.size for o in orders) == total:
        return total, [], []
    for o in orders:
        if o.size == total:
            return total, [x.order_id for x in orders if x is not o], []
    kept = 0
    cancels: list[OrderId] = []
    amends: list[Amend] = []
    for o in orders:
        if kept + o.size <= total:
            kept += o.size
        elif allow_amend and kept < total:
            amends.append(Amend(o.order_id, total - kept))
            kept = total
        else:
            cancels.append(o.order_id)
    return kept, cancels, amends
