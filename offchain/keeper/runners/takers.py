"""The runners' IOC / FOK taker orders (hedges, vault unwind steps), single-fill where the
book allows it, so the venue's own flow takes the chain's cheap path.

A single-fill (ONE_FILL) order settles by one fill of its whole size and consumes a nonce
bit instead of a fresh `filled[hash]` slot: ~17k gas less for its side of the fill
(docs/performance.md, "Gas"). The keeper takes one only as a plain IOC / FOK taker that the
first opposite order covers whole (docs/keeper.md, "Single-fill orders"), else refuses it
`one fill`. So the runner chooses per order, from the book it sees (`one_fill_choices`,
pure), and an order the keeper still refuses `one fill` (the book moved between the look
and the admission; the refusal changed nothing) is sent again at once as an ordinary
order: a hedge is never lost to the cheaper path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from offchain.keeper.admission import Reason
from offchain.strategies import DesiredOrder

from .signer import OrderSigner

Head = tuple[str, int, int]  # (account, open size, price) of the first order a taker meets
HeadOf = Callable[[int, bool], Head | None]  # (market, bids) -> the head of that side


def one_fill_choices(orders: Sequence[DesiredOrder], account: str, head_of: HeadOf,
                     position_of: Callable[[int], int]) -> list[bool]:
    """Which of `orders` (one batch of `account`'s IOC / FOK takers, sent in this order) go
    single-fill. One does when the first order it meets on the other side is another
    account's, crosses its limit, and still has its whole size open after the batch's
    earlier orders on the same side took theirs (each counted as filled whole); a
    reduce-only one also needs its whole size reducible after the earlier orders (the
    engine clips a reduce-only order to the position, and a clipped single-fill order would
    be skipped on chain). A post-only order never takes."""
    taken: dict[tuple[int, bool], int] = {}
    moved: dict[int, int] = {}  # signed position change of the batch's earlier orders
    choices = []
    for d in orders:
        key = (d.market, d.is_buy)
        ok = False
        head = None if d.post_only else head_of(d.market, not d.is_buy)
        if head is not None:
            owner, open_size, price = head
            crossing = d.price >= price if d.is_buy else d.price <= price
            ok = crossing and owner.lower() != account.lower() and open_size - taken.get(key, 0) >= d.size
            if ok and d.reduce_only:
                position = position_of(d.market) + moved.get(d.market, 0)
                ok = (-position if d.is_buy else position) >= d.size
        choices.append(ok)
        taken[key] = taken.get(key, 0) + d.size
        moved[d.market] = moved.get(d.market, 0) + (d.size if d.is_buy else -d.size)
    return choices


async def place_takers(venue: Any, signer: OrderSigner, orders: Sequence[DesiredOrder], tif: str,
                       now_s: int) -> list[dict]:
    """Sign and send `orders` as `tif` takers; one result per order. Single-fill where
    `one_fill_choices` allows it on the venue's book (`venue.book_head`; a venue without a
    book view, the bot over the SDK, sends ordinary orders); a single-fill order refused
    `one fill` is re-signed as an ordinary order and sent once more."""
    book_head = getattr(venue, "book_head", None)
    if book_head is None or not orders:
        return await venue.place(signer.batch(orders, tif, now_s))
    account = signer.account
    choices = one_fill_choices(orders, account, book_head,
                               lambda market: venue.account_state(account, market).position)
    results = list(await venue.place(signer.batch(orders, tif, now_s, choices)))
    again = [i for i, (chosen, r) in enumerate(zip(choices, results)) if chosen and r.get("reason") == Reason.ONE_FILL]
    if again:
        retried = await venue.place(signer.batch([orders[i] for i in again], tif, now_s))
        for i, r in zip(again, retried):
            results[i] = r
    return results
