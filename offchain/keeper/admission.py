"""Admission of signed orders: pure checks against a cached view of on-chain state.

Order of checks (cheapest first, the signature late because it costs ~80 us):
fields -> domain/market -> flags -> tick/lot -> oracle state (halted; stale mark for an
order that would cross) -> expiry -> nonce floor -> signature (signer = account or an
approved agent) -> the order's state on chain (cancelled; any size already settled) ->
the account's other markets (a position in a halted one, or a stale one for an order that
would cross, refuses an order that adds risk: the chain would skip its fills) -> trade
limits the account set on chain (vaults: `AccountGuard`) -> margin pre-check. The
gateway verifies the signatures of a whole request first
(`verify_signer`) so that rate limits are charged to proven signers only; the result is
reported at the signature's place in this order.

Oracle state (`OracleState`, kept by the core from the watcher's journaled commands):
- a market the Oracle halted (circuit breaker or guardian) admits no order: "halted";
- when the market's mark is older than the Oracle's `max_age` at the latest block time
  the watcher saw (`block_time > updated_at + max_age`, the Oracle's own `is_fresh` rule),
  an order that would cross the book now is refused: "stale". A passive order may rest:
  it makes no fill until a taker comes, and that taker is checked when it arrives.

The margin pre-check is the keeper's estimate, the Exchange's check after settlement is
authoritative: equity = collateral + sum over markets of (size * mark // 1e18 - cost),
where (size, cost) is the on-chain position plus fills not yet settled; the requirement
is initial_margin_bps of the worst-case open notional per market,
max(|size + open buys + new buy|, |size - open sells - new sell|) * mark.

Trade limits (`AccountGuard`, `check_guard`): an account that set its own limits on the
Exchange (a vault: set_trade_guard, set_close_only, set_position_cap, set_leverage_cap)
has every order checked against them with the chain's own skip reason ("mark distance",
"close only", "position cap", "drawdown", "leverage"), so an order whose fills the chain
would skip is refused here and changes nothing, whoever signed it (the manager through the
API, or a runner's delta-neutral / IOC order). The order is judged as if filled whole at
its own price from the account's current position; the chain judges each fill at its
price against the mark then (docs/keeper.md, "Vault trade limits at admission").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Callable

import coincurve
from eth_hash.auto import keccak

from offchain.wire import checksum
from offchain.risk.margin import TierTable

from offchain.order import (
    KNOWN_FLAGS,
    LIQUIDATION,
    REDUCE_ONLY,
    Domain,
    InvalidSignature,
    SECP256K1_HALF_N,
    SECP256K1_N,
    Order,
    Signature,
    order_hash,
)


def recover(digest: bytes, signature: Signature) -> str:
    """offchain.order.recover_hash_signer's rules, with the address checksum cached (hot path)."""
    if signature.v not in (27, 28):
        raise InvalidSignature("v must be 27 or 28")
    if not (0 < signature.r < SECP256K1_N) or not (0 < signature.s <= SECP256K1_HALF_N):
        raise InvalidSignature("r or s out of range")
    raw = signature.r.to_bytes(32, "big") + signature.s.to_bytes(32, "big") + bytes([signature.v - 27])
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(raw, digest, hasher=None)
    except Exception as exc:  # noqa: BLE001 - coincurve raises a bare Exception
        raise InvalidSignature("signature does not recover") from exc
    return checksum(keccak(public_key.format(compressed=False)[1:])[-20:])

ONE = 10**18
BPS = 10_000


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """The Exchange's market registry entry (the integers the chain uses)."""

    market: int
    tick: int
    lot: int
    initial_margin_bps: int = 1000
    maintenance_margin_bps: int = 500
    band_bps: int = 0
    min_size: int = 0
    active: bool = True
    # margin tiers by position notional (offchain.risk.margin); None = the flat bps above
    tiers: "TierTable | None" = None

    def initial_requirement(self, notional: int) -> int:
        """Initial margin of one position notional: the chain's tiered (or flat) rule."""
        if self.tiers is not None:
            return self.tiers.requirement(notional, True)
        return -(-notional * self.initial_margin_bps // BPS)


@dataclass(frozen=True, slots=True)
class AccountGuard:
    """The trade limits an account set on the Exchange for its own fills (vaults do), as the
    watcher read them from TradeGuardSet / CloseOnlySet / PositionCapSet / LeverageCapSet
    logs; 0 = none. The Exchange skips a fill that breaks one (the reason in `check_guard`)."""

    max_mark_distance_bps: int = 0  # every fill, reducing ones included: "mark distance"
    equity_floor: int = 0           # a fill that does not reduce, equity at mark after it: "drawdown"
    close_only: bool = False        # only reducing fills: "close only"
    leverage_cap_bps: int = 0       # total notional at mark * BPS <= cap * equity: "leverage"
    position_caps: tuple[tuple[int, int], ...] = ()  # (market, max |size|): "position cap"

    def position_cap(self, market: int) -> int:
        for m, cap in self.position_caps:
            if m == market:
                return cap
        return 0

    def with_position_cap(self, market: int, cap: int) -> "AccountGuard":
        caps = tuple(sorted({**dict(self.position_caps), market: cap}.items()))
        return replace(self, position_caps=tuple((m, c) for m, c in caps if c))


class AccountState:
    """The keeper's view of one account: a chain snapshot plus fills not yet settled."""

    __slots__ = ("address", "collateral", "positions", "pending", "min_nonce", "agents", "open_buy",
                 "open_sell", "last_cancel_all", "loaded", "funding", "funding_owed", "guard")

    def __init__(self, address: str) -> None:
        self.address = address
        self.collateral = 0  # USDC units (signed), chain snapshot
        self.positions: dict[int, list[int]] = {}  # market -> [size, cost] (signed), chain snapshot
        self.pending: dict[int, list[int]] = {}    # market -> [size, cost] of unsettled fills
        self.min_nonce = 0
        self.agents: set[str] = set()
        self.open_buy: dict[int, int] = {}  # market -> open resting buy size
        self.open_sell: dict[int, int] = {}
        self.last_cancel_all = 0
        self.loaded = False  # chain snapshot read
        self.funding = 0  # unsettled funding the chain reports (Exchange.funding_owed; positive: owes)
        self.funding_owed: dict[int, int] = {}  # the same per market (sums to `funding`): ADL ranks by market
        self.guard: AccountGuard | None = None  # the account's own trade limits on chain (vaults)

    def position(self, market: int) -> int:
        chain = self.positions.get(market)
        pend = self.pending.get(market)
        return (chain[0] if chain else 0) + (pend[0] if pend else 0)

    @staticmethod
    def _add(book: dict, market: int, is_buy: bool, price: int, size: int, sign: int) -> None:
        pos = book.setdefault(market, [0, 0])
        notional = price * size // ONE
        pos[0] += sign * (size if is_buy else -size)
        pos[1] += sign * (notional if is_buy else -notional)

    def apply_fill(self, market: int, is_buy: bool, price: int, size: int, sign: int = 1) -> None:
        """Add (sign=1) or undo (sign=-1) an unsettled fill in the keeper's view."""
        self._add(self.pending, market, is_buy, price, size, sign)

    def settle_fill(self, market: int, is_buy: bool, price: int, size: int) -> None:
        """The chain settled it: move it from pending into the (mirrored) chain snapshot."""
        self._add(self.pending, market, is_buy, price, size, -1)
        self._add(self.positions, market, is_buy, price, size, 1)

    def equity(self, marks: dict[int, int]) -> int:
        equity = self.collateral - self.funding
        for book in (self.positions, self.pending):
            for market, (size, cost) in book.items():
                mark = marks.get(market)
                if mark is None or size == 0:
                    equity -= 0
                    continue
                value = size * mark // ONE if size >= 0 else -(-size * mark // ONE)
                equity += value - cost
        return equity

    def requirement(self, markets: dict[int, MarketInfo], marks: dict[int, int],
                    extra: tuple[int, bool, int, int] | None = None) -> int:
        """Initial margin of the worst case over open orders (+ an extra (market, is_buy, size, price))."""
        total = 0
        touched = set(self.positions) | set(self.pending) | set(self.open_buy) | set(self.open_sell)
        if extra is not None:
            touched.add(extra[0])
        for market in touched:
            info = markets.get(market)
            if info is None:
                continue
            size = self.position(market)
            buys = self.open_buy.get(market, 0)
            sells = self.open_sell.get(market, 0)
            mark = marks.get(market, 0)
            if extra is not None and extra[0] == market:
                if extra[1]:
                    buys += extra[2]
                else:
                    sells += extra[2]
                mark = mark or extra[3]
            worst = max(abs(size + buys), abs(size - sells))
            total += info.initial_requirement(worst * mark // ONE)
        return total


@dataclass(slots=True)
class OracleState:
    """The keeper's view of the Oracle, per market: halted (with the reason), the mark's
    `updated_at` (chain time), plus `max_age` and the latest block time the watcher saw.
    `halted` and `updated_at` come from journaled commands (`market_halt`, `mark`);
    `max_age` and `block_time` are re-read from the chain (not journaled)."""

    halted: dict[int, str] = field(default_factory=dict)     # market -> reason
    updated_at: dict[int, int] = field(default_factory=dict)  # market -> unix s (block time)
    max_age: int = 0     # s; 0 = unknown: no staleness check
    block_time: int = 0  # unix s of the latest block the watcher saw; 0 = none yet

    def stale(self, market: int) -> bool:
        """The Oracle's `is_fresh` age rule at `block_time`: stale if
        block_time > updated_at + max_age (a market never priced is stale)."""
        if not self.max_age or not self.block_time:
            return False
        return self.block_time > self.updated_at.get(market, 0) + self.max_age


@dataclass(slots=True)
class ChainOrders:
    """Order state on chain as the watcher read it from confirmed logs: the size settled
    per order hash (FillSettled) and the hashes cancelled on chain (OrderCancelled). Built
    at start from the logs since `start_block` (like the agent sets) and kept by every
    poll. Admission refuses an order the chain already filled or cancelled (a replayed old
    signed order), so it is never matched against an innocent counterparty."""

    filled: dict[bytes, int] = field(default_factory=dict)
    cancelled: set[bytes] = field(default_factory=set)


class Reason(StrEnum):
    """Why the keeper refuses an order or a request: one stable code shared by admission,
    the gateway and the API (the `reason` / `detail` clients see; docs/api.md "Errors").
    Engine rejections (post only, fok unfillable, band, ...) come from offchain.matching's
    own reason enum, and parse errors name the field (offchain.wire.WireError)."""

    UNKNOWN_MARKET = "unknown market"
    UNKNOWN_FLAGS = "unknown flags"
    LIQUIDATION_FLAG = "liquidation flag"  # flag 4: the keeper's own liquidation orders only
    INVALID_PRICE = "invalid price"
    INVALID_SIZE = "invalid size"
    PRICE_OFF_TICK = "price off tick"
    SIZE_OFF_LOT = "size off lot"
    SIZE_BELOW_MIN = "size below min"
    HALTED = "halted"
    STALE = "stale"
    EXPIRED = "expired"
    NONCE = "nonce"
    BAD_SIGNATURE = "bad signature"
    NOT_AN_AGENT = "not an agent"
    CANCELLED = "cancelled"
    FILLED = "filled"
    # a single-fill (ONE_FILL) order the keeper cannot settle in one fill of its whole size:
    # it must take (IOC / FOK, no intent) and the first order it meets must cover it
    ONE_FILL = "one fill"
    NONCE_USED = "nonce used"                          # ONE_FILL: the account's nonce is consumed
    MARGIN = "margin"
    # the account's own trade limits on chain (AccountGuard): the Exchange's skip reasons
    MARK_DISTANCE = "mark distance"
    CLOSE_ONLY = "close only"
    POSITION_CAP = "position cap"
    DRAWDOWN = "drawdown"
    LEVERAGE = "leverage"
    DUPLICATE = "duplicate order"
    DUPLICATE_CLIENT_ID = "duplicate client id"        # a signed client_id the account used before
    BAD_INTENT_SIGNATURE = "bad intent signature"      # the intent is not the order signer's
    DEADLINE_TOO_SOON = "deadline too soon"            # a schedule-cancel deadline under 5 s away
    UNKNOWN_ORDER = "unknown order"                    # amend: the keeper has no order with that hash
    NOT_YOUR_ORDER = "not your order"                  # amend: the old order is another account's
    ORDER_FILLED = "order filled"                      # amend: the old order is filled
    ORDER_CLOSED = "order closed"                      # amend: cancelled, expired or done
    AMEND_MISMATCH = "amend changes market or side"
    NOT_AMENDABLE = "not amendable"                    # amend into a market order
    NO_CHALLENGE = "no challenge"                      # WS auth without a fresh challenge
    NOT_AUTHENTICATED = "not authenticated"            # WS private channel without auth
    RATE_LIMITED = "rate limited"
    RATE_LIMITED_CLIENT = "rate limited (client)"
    STALE_TIMESTAMP = "stale timestamp"
    REPLAYED_CANCEL = "replayed cancel"
    UNKNOWN_CHANNEL = "unknown channel"
    UNKNOWN_OP = "unknown op"
    NOT_AN_ADDRESS = "not an address"
    NOT_A_HASH = "not a hash"                          # an order hash in a URL off the wire's rule
    BAD_INTEGER = "bad integer"                        # a path or query integer off the wire's rule (params.py)
    INTERNAL = "internal error"
    BODY_TOO_LARGE = "body too large"
    TOO_MANY_ACCOUNTS = "too many accounts"            # WS auth beyond ws_max_accounts on one connection
    # the HTTP server (http_server.py): per client IP connections, a head or body sent too slowly
    TOO_MANY_CONNECTIONS = "too many connections"
    REQUEST_TIMEOUT = "request timeout"


class Rejection(Exception):
    """An order or request the keeper refuses; `reason` is a short stable code."""

    def __init__(self, reason: "Reason | str", status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Admitted:
    order: Order
    signature: Signature
    hash: bytes
    signer: str


@dataclass
class AdmissionContext:
    domain: Domain
    markets: dict[int, MarketInfo]
    marks: dict[int, int] = field(default_factory=dict)
    margin_check: bool = True
    oracle: OracleState | None = None
    # crosses(order) -> True if the order would match against the book right now
    crosses: Callable[[Order], bool] | None = None
    # the chain's per-order state as the watcher saw it (filled size, cancelled); None: unknown
    chain_orders: "ChainOrders | None" = None


def verify_signer(order: Order, signature: Signature, account: AccountState | None,
                  ctx: AdmissionContext) -> tuple[bytes, str]:
    """The order's EIP-712 hash and its signer, who must be the account or an approved
    agent; else Rejection("bad signature" / "not an agent"). Pure: the gateway runs it for
    a whole request first, so the rate limit is charged only for proven signers."""
    digest = order_hash(order, ctx.domain)
    try:
        signer = recover(digest, signature)
    except InvalidSignature:
        raise Rejection(Reason.BAD_SIGNATURE) from None
    return digest, check_signer(order, signer, account)


def check_signer(order: Order, signer: str | None, account: AccountState | None) -> str:
    """`signer` (recovered from the order's signature; None: it did not recover) if it is
    the account or one of its approved agents; else Rejection("bad signature" / "not an agent")."""
    if signer is None:
        raise Rejection(Reason.BAD_SIGNATURE)
    if signer != order.account and (account is None or signer not in account.agents):
        raise Rejection(Reason.BAD_SIGNATURE if account is None or not account.agents else Reason.NOT_AN_AGENT)
    return signer


def recover_all(items: list[tuple[bytes, Signature]]) -> list[str | None]:
    """Each (digest, signature)'s signer by `recover`'s rules, None where it does not recover.
    Runs on the gateway's recovery thread: libsecp256k1 releases the GIL while it recovers."""
    out: list[str | None] = []
    for digest, signature in items:
        try:
            out.append(recover(digest, signature))
        except InvalidSignature:
            out.append(None)
    return out


def check_order(order: Order, signature: Signature, account: AccountState | None,
                ctx: AdmissionContext, now_s: int,
                verified: "tuple[bytes, str] | Rejection | None" = None) -> Admitted:
    """Admit a signed order or raise Rejection(reason).

    `verified`: `verify_signer`'s result (or the Rejection it raised) when the caller has
    already run it; the outcome is reported at the signature's place in the order of checks."""
    info = ctx.markets.get(order.market)
    if info is None or not info.active:
        raise Rejection(Reason.UNKNOWN_MARKET)
    if order.flags & LIQUIDATION:  # only the liquidation runner makes these (Gateway.place_liquidation)
        raise Rejection(Reason.LIQUIDATION_FLAG)
    if order.flags & ~KNOWN_FLAGS:
        raise Rejection(Reason.UNKNOWN_FLAGS)
    if order.price <= 0:
        raise Rejection(Reason.INVALID_PRICE)
    if order.size <= 0:
        raise Rejection(Reason.INVALID_SIZE)
    if order.price % info.tick:
        raise Rejection(Reason.PRICE_OFF_TICK)
    if order.size % info.lot:
        raise Rejection(Reason.SIZE_OFF_LOT)
    if order.size < info.min_size:
        raise Rejection(Reason.SIZE_BELOW_MIN)
    oracle = ctx.oracle
    if oracle is not None:
        if order.market in oracle.halted:
            raise Rejection(Reason.HALTED)
        if ctx.crosses is not None and oracle.stale(order.market) and ctx.crosses(order):
            raise Rejection(Reason.STALE)
    if order.expiry <= now_s:
        raise Rejection(Reason.EXPIRED)
    if account is not None and order.nonce < account.min_nonce:
        raise Rejection(Reason.NONCE)
    if verified is None:
        verified = verify_signer(order, signature, account, ctx)
    elif isinstance(verified, Rejection):
        raise verified
    digest, signer = verified
    chain = ctx.chain_orders
    if chain is not None:
        if digest in chain.cancelled:
            raise Rejection(Reason.CANCELLED)
        if chain.filled.get(digest):
            # settled on chain, but unknown to this journal: a replayed old signed order.
            # Its remainder is not offered either (the engine would rest the full size).
            raise Rejection(Reason.FILLED)
    if oracle is not None and account is not None and (oracle.halted or oracle.max_age):
        check_elsewhere(order, account, oracle, ctx.crosses)
    if account is not None and account.guard is not None:
        check_guard(order, account, account.guard, ctx.marks)
    if ctx.margin_check and not (order.flags & REDUCE_ONLY):
        state = account or AccountState(order.account)
        need = state.requirement(ctx.markets, ctx.marks, (order.market, order.is_buy, order.size, order.price))
        if state.equity(ctx.marks) < need:
            raise Rejection(Reason.MARGIN)
    return Admitted(order=order, signature=signature, hash=digest, signer=signer)


def grows(position: int, is_buy: bool, size: int) -> bool:
    """Does a fill of `size` on this side add risk in the Exchange's sense (not `reducing`:
    it takes the position away from zero or flips it)?"""
    new = position + (size if is_buy else -size)
    if new == 0:
        return False
    return not ((position > 0 and 0 < new < position) or (position < 0 and position < new < 0))


def check_elsewhere(order: Order, account: AccountState, oracle: OracleState,
                    crosses: Callable[[Order], bool] | None) -> None:
    """Refuse an order that adds risk while the account holds a position in another market
    whose price the Exchange cannot use: the chain skips such a fill "halted" / "stale"
    (Exchange._side_risk through ledger._health; a reducing fill passes). A halted market
    elsewhere refuses every such order; a stale one only an order that would cross now
    (as for the order's own market: a resting order makes no fill until a taker comes,
    and the mark may be fresh again by then)."""
    if not grows(account.position(order.market), order.is_buy, order.size):
        return
    halted = stale = False
    for market in set(account.positions) | set(account.pending):
        if market == order.market or not account.position(market):
            continue
        halted = halted or market in oracle.halted
        stale = stale or oracle.stale(market)
    if stale and crosses is not None and crosses(order):
        raise Rejection(Reason.STALE)
    if halted:
        raise Rejection(Reason.HALTED)


def check_guard(order: Order, account: AccountState, guard: AccountGuard, marks: dict[int, int]) -> None:
    """Refuse an order whose fills the Exchange would skip under the account's own trade
    limits, with the chain's reason (Exchange._too_far, _side_risk). The order is judged
    filled whole at its own price from the account's position now (chain plus unsettled);
    without a mark the distance, drawdown and leverage rules wait for the chain."""
    mark = marks.get(order.market, 0)
    if guard.max_mark_distance_bps and mark and \
            abs(order.price - mark) * BPS > mark * guard.max_mark_distance_bps:
        raise Rejection(Reason.MARK_DISTANCE)
    old = account.position(order.market)
    new = old + (order.size if order.is_buy else -order.size)
    if not grows(old, order.is_buy, order.size):
        return  # a reducing fill passes the remaining limits on chain
    if guard.close_only:
        raise Rejection(Reason.CLOSE_ONLY)
    cap = guard.position_cap(order.market)
    if cap and abs(new) > cap and abs(new) > abs(old):
        raise Rejection(Reason.POSITION_CAP)
    if not mark or not (guard.equity_floor or guard.leverage_cap_bps):
        return
    # equity at mark after the fill: the fill's price against the mark moves it
    edge = (mark - order.price) * order.size // ONE
    equity = account.equity(marks) + (edge if order.is_buy else -edge)
    if equity < guard.equity_floor:
        raise Rejection(Reason.DRAWDOWN)
    if guard.leverage_cap_bps:
        total = abs(new) * mark // ONE
        for market in set(account.positions) | set(account.pending):
            if market != order.market and marks.get(market):
                total += abs(account.position(market)) * marks[market] // ONE
        if equity <= 0 or total * BPS > guard.leverage_cap_bps * equity:
            raise Rejection(Reason.LEVERAGE)
