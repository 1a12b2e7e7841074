"""Which side of a fill the chain skipped is to blame (docs/keeper.md, "A skipped fill").

`Exchange.settle` skips a bad fill with one reason and does not say which order caused
it. Punishing both sides would let anyone pull an innocent maker's order off the book by
sending a crossing order the chain must refuse (a replayed filled order, a taker that
withdrew its collateral first). So for a reason that belongs to one order the keeper
re-reads the chain at the block before the settle tx and re-runs that one check per side
in the Exchange's own order; only the side that fails it loses its order, the other is
restored (core.fill_rejected). Reasons and the facts read:

| reason | blamed | read at block - 1 |
| --- | --- | --- |
| nonce | each side whose nonce < min_nonce(account) | min_nonce |
| cancelled | each side cancelled on chain | cancelled(hash) |
| one fill | each single-fill (ONE_FILL) side whose order size is not the fill's | none |
| nonce used | each single-fill side whose nonce bit is set, or consumed earlier in this batch | nonce_used |
| overfill | each side with filled(hash) + earlier fills of this batch + size > order size | filled(hash) |
| bad signature | maker first, else taker: the side whose signer is neither the account nor its agent | is_agent |
| expired | each side with expiry < the block's timestamp | block timestamp |
| reduce only | the side(s) with the REDUCE_ONLY flag whose fill grows its position | position |
| close only, position cap, leverage | each side with that setting whose fill grows its position | close_only, position_cap, leverage_cap, position |
| margin | maker first, else taker: the side that grows its position and whose equity is below its initial margin plus the fill's | equity, margin_requirement, position |
| not liquidatable, backstop, cooldown, step | the liquidation order's side (flag LIQUIDATION, the keeper's own order) | none |

| halted, stale | if the fill's own market was halted / not fresh: nobody (market-wide, below); else the side (maker first) that grows its position and holds one in another market that was | Oracle price_info / is_fresh, market_count, positions |

Market-wide reasons (inactive, halted, stale, delisted, band: MARKET_WIDE) are nobody's
fault: nobody is blamed (an empty tuple). Neither order is cancelled, both get the size
back, and the keeper treats the market as halted until the chain says otherwise
(core.fill_rejected), so it does not match the pair again into the same skip.
Any other reason (self trade, no cross, ...) belongs to the pair, and a failed read leaves
the keeper unable to tell: then both sides are blamed, as before.
"""

from __future__ import annotations

import logging
from typing import Any

from offchain.order import LIQUIDATION, ONE_FILL, REDUCE_ONLY

from .admission import grows

log = logging.getLogger("mmx.keeper.blame")

MAKER, TAKER = "maker", "taker"
BOTH = (MAKER, TAKER)
ONE = 10**18
BPS = 10_000
NOBODY: tuple[str, ...] = ()
# the Exchange's skip reasons that belong to the market, not to an order (Exchange._settle_fill)
MARKET_WIDE = frozenset(("inactive", "halted", "stale", "delisted", "band"))
# ... of which these also come from an account's other markets (ledger._health: a position
# in a halted / stale market blocks that account's fills that add risk)
ELSEWHERE = frozenset(("halted", "stale"))
ONE_SIDED = frozenset(("nonce", "cancelled", "one fill", "nonce used", "overfill", "bad signature", "expired", "reduce only",
                       "close only", "position cap", "leverage", "margin"))
# the Exchange's checks of a liquidation order (Exchange._liq_risk): they are about the
# liquidated side only, the maker that met it is innocent
LIQUIDATION_REASONS = frozenset(("not liquidatable", "backstop", "cooldown", "step"))


async def blame(chain: Any, reason: str, fill: Any, maker: Any, taker: Any, block: int,
                earlier: dict[bytes, int], im_bps: int) -> tuple[str, ...]:
    """The sides to blame for `reason` (`maker`, `taker` are core.SignedOrder); `block` is the
    settle tx's block, `earlier` the sizes settled for each hash earlier in the same batch."""
    if reason in ELSEWHERE:
        try:
            return await _blame_elsewhere(chain, reason, fill, (maker, taker), block - 1)
        except Exception as exc:  # noqa: BLE001 - a failed read: cannot tell, the market's
            log.warning("cannot attribute skip %r of fill %s: %s", reason, fill.id, exc)
            return NOBODY
    if reason in MARKET_WIDE:
        return NOBODY
    if reason in LIQUIDATION_REASONS:
        liq = tuple(n for n, s in zip(BOTH, (maker, taker)) if s.order.flags & LIQUIDATION)
        return liq or BOTH
    if reason not in ONE_SIDED:
        return BOTH
    try:
        found = await _blame(chain, reason, fill, (maker, taker), block - 1, earlier, im_bps)
    except Exception as exc:  # noqa: BLE001 - a failed read: cannot tell, old rule
        log.warning("cannot attribute skip %r of fill %s: %s", reason, fill.id, exc)
        return BOTH
    return found or BOTH


async def _unusable(chain, market: int, reason: str, at: int) -> bool:
    """Was `market`'s price unusable for `reason` at block `at` (halted: the Oracle's flag;
    stale: not `is_fresh`, which also counts a halt)?"""
    if reason == "halted":
        return bool((await chain.call(chain.oracle, "price_info", market, block=at))[2])
    return not await chain.call(chain.oracle, "is_fresh", market, block=at)


async def _blame_elsewhere(chain, reason, fill, sides, at) -> tuple[str, ...]:
    """"halted" / "stale": the fill's own market (checked first by the Exchange: nobody's
    fault, market-wide), or else a side that adds risk while it holds a position in another
    market whose price is unusable (ledger._health's status; maker first, as the Exchange
    checks): that side alone."""
    if chain.oracle is None or await _unusable(chain, fill.market, reason, at):
        return NOBODY
    ex = chain.exchange
    count = int(await chain.call(ex, "market_count", block=at))
    for n, s in zip(BOTH, sides):
        o = s.order
        size, _cost = await chain.call(ex, "position", o.account, o.market, block=at)
        if not grows(int(size), o.is_buy, fill.size):
            continue
        for market in range(1, count + 1):
            if market == fill.market:
                continue
            other, _ = await chain.call(ex, "position", o.account, market, block=at)
            if int(other) and await _unusable(chain, market, reason, at):
                return (n,)
    return NOBODY


async def _blame(chain, reason, fill, sides, at, earlier, im_bps) -> tuple[str, ...]:
    ex = chain.exchange
    names = BOTH
    orders = [s.order for s in sides]
    if reason == "nonce":
        return tuple([n for n, o in zip(names, orders)
                      if o.nonce < int(await chain.call(ex, "min_nonce", o.account, block=at))])
    if reason == "cancelled":
        return tuple([n for n, s in zip(names, sides) if await chain.call(ex, "cancelled", s.hash, block=at)])
    if reason == "one fill":
        return tuple(n for n, o in zip(names, orders) if o.flags & ONE_FILL and o.size != fill.size)
    if reason == "nonce used":
        return tuple([n for n, s in zip(names, sides) if s.order.flags & ONE_FILL and (
            earlier.get(s.hash) or await chain.call(ex, "nonce_used", s.order.account, s.order.nonce, block=at))])
    if reason == "overfill":
        out = []
        for n, s in zip(names, sides):
            done = int(await chain.call(ex, "filled", s.hash, block=at)) + earlier.get(s.hash, 0)
            if done + fill.size > s.order.size:
                out.append(n)
        return tuple(out)
    if reason == "bad signature":
        for n, s in zip(names, sides):
            if s.signer != s.order.account and not await chain.call(ex, "is_agent", s.order.account, s.signer,
                                                                   block=at):
                return (n,)
        return ()
    if reason == "expired":
        block = await chain.rpc.call("eth_getBlockByNumber", [hex(at + 1), False])
        now = int(block["timestamp"], 16)
        return tuple(n for n, o in zip(names, orders) if o.expiry < now)
    # risk checks: only a side whose fill grows its position can fail them
    growing = []
    for n, o in zip(names, orders):
        size, _cost = await chain.call(ex, "position", o.account, o.market, block=at)
        if grows(int(size), o.is_buy, fill.size):
            growing.append((n, o))
    if reason == "reduce only":
        return tuple(n for n, o in growing if o.flags & REDUCE_ONLY)
    if reason == "close only":
        return tuple([n for n, o in growing if await chain.call(ex, "close_only", o.account, block=at)])
    if reason == "position cap":
        return tuple([n for n, o in growing if int(await chain.call(ex, "position_cap", o.account, o.market, block=at))])
    if reason == "leverage":
        return tuple([n for n, o in growing if int(await chain.call(ex, "leverage_cap", o.account, block=at))])
    # margin: the Exchange checks the maker first and stops at the first failure
    added = fill.price * fill.size // ONE * im_bps // BPS
    for n, o in growing:
        equity = int(await chain.call(ex, "equity", o.account, block=at))
        need = int(await chain.call(ex, "margin_requirement", o.account, True, block=at))
        if equity < need + added:
            return (n,)
    return ()
