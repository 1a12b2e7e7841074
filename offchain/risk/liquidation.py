"""Margin, liquidation steps and ADL ranking from the keeper's view (pure, exact integers).

The arithmetic is the Exchange's (docs/exchange.md, "Positions, PnL and the margin model"),
so an account this module calls liquidatable is one the chain calls liquidatable at the
same marks:

    value(size, mark)  = size * mark / 1e18, truncated toward zero (Vyper's signed `//`)
    equity             = collateral + sum(value(size, mark) - cost)
    requirement(bps)   = sum(ceil(|size| * mark // 1e18 * bps / 10_000))
    liquidatable       = some position is open and equity < maintenance requirement

What to do with a liquidatable account (`next_step`), Hyperliquid's shape:
- equity below `backstop_bps` of the maintenance requirement (2/3 by default): the worst
  position moves to the backstop (the pool) at mark, whole (`StepKind.BACKSTOP`);
- otherwise one reduce-only IOC step through the book (`StepKind.BOOK`) in the market
  with the largest maintenance requirement, of the size that brings equity back to the
  maintenance requirement plus `buffer_bps` even if it fills `slippage_bps` worse than
  mark (`step_size`), capped at `max_step_bps` of the position for large positions, so
  the book sees the flow in pieces; a small position (notional up to
  `whole_below_notional`) or a remainder below min size goes whole.

ADL (`adl_rank`, `adl_plan`): the opposite side's accounts in profit, ranked by
unrealised PnL % x leverage (PnL / |entry cost| x position notional / equity, as
Hyperliquid and Binance rank), compared as exact fractions; ties by address so every
keeper ranks the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping

from .margin import TierTable

ONE = 10**18
BPS = 10_000


def value(size: int, mark: int) -> int:
    """size * mark / 1e18 truncated toward zero, as Vyper's signed division does."""
    return size * mark // ONE if size >= 0 else -(-size * mark // ONE)


def notional(size: int, mark: int) -> int:
    return abs(size) * mark // ONE


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, slots=True)
class MarketRisk:
    """The registry fields the margin model needs (admission.MarketInfo has them all)."""

    market: int
    lot: int
    min_size: int
    initial_margin_bps: int
    maintenance_margin_bps: int
    tiers: TierTable | None = None  # the market's margin tiers (offchain/risk/margin.py), as on chain
    tick: int = 1      # a book step's limit price is on the tick ...
    band_bps: int = 0  # ... and inside mark +- band (0: no band known)

    @classmethod
    def of(cls, info) -> "MarketRisk":
        return cls(info.market, info.lot, info.min_size, info.initial_margin_bps, info.maintenance_margin_bps,
                   getattr(info, "tiers", None), getattr(info, "tick", 1), getattr(info, "band_bps", 0))


@dataclass(frozen=True, slots=True)
class AccountRisk:
    """One account as the runner sees it: collateral and its open (market, size, cost)."""

    account: str
    collateral: int
    positions: tuple[tuple[int, int, int], ...]

    def position(self, market: int) -> tuple[int, int]:
        for m, size, cost in self.positions:
            if m == market:
                return size, cost
        return 0, 0


@dataclass(frozen=True, slots=True)
class Health:
    equity: int
    maintenance: int
    initial: int
    notional: int
    priced: bool  # every open position had a mark (an unpriced account is never acted on)
    open: bool    # some position is open

    @property
    def liquidatable(self) -> bool:
        return self.open and self.equity < self.maintenance

    def backstop_due(self, backstop_bps: int) -> bool:
        """equity < backstop_bps / 10_000 of the maintenance requirement."""
        return self.liquidatable and self.equity * BPS < self.maintenance * backstop_bps

    @property
    def bankrupt(self) -> bool:
        return self.equity < 0


def health(account: AccountRisk, marks: Mapping[int, int], markets: Mapping[int, MarketRisk]) -> Health:
    """The account's equity and requirements at `marks`, with the Exchange's rounding."""
    equity, mm, im, total = account.collateral, 0, 0, 0
    priced, is_open = True, False
    for market, size, cost in account.positions:
        if size == 0:
            equity -= cost  # a closed position keeps no cost on chain; tolerate it anyway
            continue
        is_open = True
        mark = marks.get(market, 0)
        info = markets.get(market)
        if mark <= 0 or info is None:
            priced = False
            continue
        equity += value(size, mark) - cost
        n = notional(size, mark)
        total += n
        if info.tiers is not None:  # the chain's tiered requirement (ledger._requirement)
            mm += info.tiers.requirement(n, False)
            im += info.tiers.requirement(n, True)
        else:
            mm += ceil_div(n * info.maintenance_margin_bps, BPS)
            im += ceil_div(n * info.initial_margin_bps, BPS)
    return Health(equity, mm, im, total, priced, is_open)


@dataclass(frozen=True, slots=True)
class LiquidationParams:
    max_step_bps: int = 2_000        # at most 20% of a large position per book step
    buffer_bps: int = 500            # close until equity >= maintenance * (1 + 5%)
    slippage_bps: int = 100          # the IOC's limit price: mark -/+ 1% (inside the band)
    backstop_bps: int = 6_667        # below 2/3 of maintenance the backstop takes over
    whole_below_notional: int = 100_000 * 10**6  # positions up to 100k USDC close in one step
    cooldown_s: float = 2.0          # between book steps of one account (chain must catch up)


class StepKind(enum.Enum):
    BOOK = "book"          # reduce-only IOC liquidation order through the book
    BACKSTOP = "backstop"  # the whole position moves to the backstop at mark


@dataclass(frozen=True, slots=True)
class Step:
    account: str
    market: int
    kind: StepKind
    size: int         # base units to close (> 0)
    is_buy: bool      # the closing side (True closes a short)
    limit_price: int  # worst acceptable price for a BOOK step (0 for BACKSTOP)


def round_up(x: int, lot: int) -> int:
    return ceil_div(x, lot) * lot


def step_size(size: int, mark: int, info: MarketRisk, h: Health, p: LiquidationParams) -> int:
    """Base units of `size` (signed position) to close in one book step.

    Closing q at a price `slippage_bps` worse than mark lowers equity by
    q*mark*slip and the requirement by q*mark*mm; solve
    equity' * BPS >= maintenance' * (BPS + buffer) for q (exact, rounded up), then cap,
    round to the lot and avoid leaving dust below min size."""
    whole = abs(size)
    if whole == 0 or mark <= 0:
        return 0
    if notional(size, mark) <= p.whole_below_notional:
        return whole
    deficit = h.maintenance * (BPS + p.buffer_bps) - h.equity * BPS  # scaled by BPS
    k = info.maintenance_margin_bps * (BPS + p.buffer_bps) - p.slippage_bps * BPS  # scaled by BPS^2
    if k <= 0:
        return whole
    q = ceil_div(max(deficit, 0) * BPS * ONE, mark * k) if deficit > 0 else 0
    cap = round_up(whole * p.max_step_bps // BPS, info.lot)  # the Exchange's `step` bound, to the unit
    q = min(max(q, info.min_size, info.lot), cap)
    q = round_up(q, info.lot)
    if q >= whole or whole - q < max(info.min_size, info.lot):
        return whole
    return q


def next_step(account: AccountRisk, marks: Mapping[int, int], markets: Mapping[int, MarketRisk],
              p: LiquidationParams = LiquidationParams(), backstop: bool = False) -> Step | None:
    """The next liquidation step for `account`, or None if it is not liquidatable (or a
    position has no mark: the keeper does not act on a view it cannot price).

    `backstop`: the account is the backstop itself. Nobody takes its position over
    (the Exchange refuses liquidate(backstop)) and a liquidation order of it would meet
    the pool's own quotes, so its step is always the whole position, deleveraged
    (docs/liquidation.md, "The backstop's own waterfall")."""
    h = health(account, marks, markets)
    if not h.priced or not h.liquidatable:
        return None
    # the position carrying the largest maintenance requirement goes first (ties: lowest id)
    ranked = sorted(((ceil_div(notional(s, marks[m]) * markets[m].maintenance_margin_bps, BPS), -m, m, s)
                     for m, s, _ in account.positions if s != 0), reverse=True)
    _, _, market, size = ranked[0]
    mark = marks[market]
    is_buy = size < 0
    if backstop or h.backstop_due(p.backstop_bps):
        return Step(account.account, market, StepKind.BACKSTOP, abs(size), is_buy, 0)
    q = step_size(size, mark, markets[market], h, p)
    return Step(account.account, market, StepKind.BOOK, q, is_buy, limit_price(mark, is_buy, markets[market], p))


def limit_price(mark: int, is_buy: bool, info: MarketRisk, p: LiquidationParams) -> int:
    """A book step's worst price: mark -/+ slippage_bps, no further than the band (the
    engine refuses an aggressive order beyond it), rounded to the tick toward the mark."""
    slip = min(p.slippage_bps, info.band_bps) if info.band_bps else p.slippage_bps
    if is_buy:
        raw = mark * (BPS + slip) // BPS
        return raw - raw % info.tick
    raw = ceil_div(mark * (BPS - slip), BPS)
    return round_up(raw, info.tick)


# ------------------------------------------------------------------------------------- ADL

@dataclass(frozen=True, slots=True)
class AdlCandidate:
    account: str
    market: int
    size: int      # signed position in the market
    cost: int
    equity: int    # the account's equity at mark
    score: Fraction

    @property
    def abs_size(self) -> int:
        return abs(self.size)


def adl_score(size: int, cost: int, mark: int, equity: int) -> Fraction | None:
    """Unrealised PnL % x leverage of one position, or None when it is not in profit.

    PnL % = upnl / |cost|; leverage = position notional / equity (an account in profit
    on this position with equity <= 0 counts as equity 1 unit: the most levered)."""
    upnl = value(size, mark) - cost
    if size == 0 or upnl <= 0:
        return None
    return Fraction(upnl * notional(size, mark), max(abs(cost), 1) * max(equity, 1))


def adl_rank(bankrupt_is_long: bool, market: int, accounts: Iterable[AccountRisk], marks: Mapping[int, int],
             markets: Mapping[int, MarketRisk], exclude: Iterable[str] = ()) -> list[AdlCandidate]:
    """The opposite side of a bankrupt position in `market`, in profit, highest score first."""
    mark = marks.get(market, 0)
    skip = {a.lower() for a in exclude}
    out: list[AdlCandidate] = []
    if mark <= 0:
        return out
    for acc in accounts:
        if acc.account.lower() in skip:
            continue
        size, cost = acc.position(market)
        if size == 0 or (size > 0) == bankrupt_is_long:
            continue
        h = health(acc, marks, markets)
        score = adl_score(size, cost, mark, h.equity)
        if score is not None:
            out.append(AdlCandidate(acc.account, market, size, cost, h.equity, score))
    out.sort(key=lambda c: (-c.score, c.account.lower()))
    return out


def adl_plan(size: int, ranked: Iterable[AdlCandidate], lot: int, price_gap: int = 0) -> list[tuple[str, int]]:
    """Take `size` (base units, > 0) from the ranked counterparties in order, each at most
    its whole position, in lots; [(account, size)]. Less than `size` if they run out.

    `price_gap` is |bankruptcy price - mark|: a counterparty closing at the bankruptcy
    price loses that much per unit against mark, and the Exchange refuses (`adl equity`)
    one it would leave below zero, so such a candidate is skipped (two units of margin
    for the chain's rounding)."""
    left, plan = size, []
    for c in ranked:
        if left <= 0:
            break
        if price_gap and ceil_div(min(left, c.abs_size) * price_gap, ONE) + 2 > c.equity:
            continue
        take = min(left, c.abs_size)
        take -= take % lot
        if take > 0:
            plan.append((c.account, take))
            left -= take
    return plan


def bankruptcy_price(size: int, cost: int, equity: int, mark: int) -> int:
    """The price at which closing the whole position (size, cost) leaves the account's
    equity at exactly zero (its other positions at `mark`); rounded so that the account
    does not end below zero (a long sells at the ceiling, a short buys at the floor)."""
    if size == 0:
        return 0
    other = equity - (value(size, mark) - cost)  # equity without this position
    num = (cost - other) * ONE
    price = ceil_div(num, size) if size > 0 else num // size
    return max(price, 0)


def adl_price(size: int, cost: int, equity: int, mark: int, fund: int, backstop: bool = False) -> int:
    """The price Exchange.adl closes (size, cost) at: the bankruptcy price when the
    account's deficit exceeds the insurance fund; the backstop itself, deleveraged
    whenever it is below maintenance, at mark while the fund covers its deficit."""
    if backstop and (equity >= 0 or -equity <= fund):
        return mark
    return bankruptcy_price(size, cost, equity, mark)


MAX_SOCIALISE = 32  # Exchange socialise takes DynArray[address, 32]


def socialise_list(bankrupt_is_long: bool, market: int, accounts: Iterable[AccountRisk],
                   backstop: str, bankrupt: str) -> list[str]:
    """The accounts for `socialise` (docs/exchange.md, "Loss socialisation"): the whole
    opposite side of the bankrupt position in `market` plus the backstop, largest
    positions first when there are more than the call takes (their sizes must cover the
    bankrupt position), in strictly increasing address order as the Exchange requires.
    The bankrupt account is never listed, so neither is the backstop when it is the
    bankrupt one (the opposite side alone shares its deficit)."""
    if backstop.lower() == bankrupt.lower():
        backstop = ""
    skip = {bankrupt.lower(), backstop.lower()}
    opposite = [(abs(acc.position(market)[0]), acc.account) for acc in accounts
                if acc.account.lower() not in skip and acc.position(market)[0] != 0
                and (acc.position(market)[0] > 0) != bankrupt_is_long]
    opposite.sort(key=lambda x: (-x[0], x[1].lower()))
    chosen = [a for _, a in opposite[:MAX_SOCIALISE - (1 if backstop else 0)]]
    if backstop:
        chosen.append(backstop)
    return sorted({a.lower(): a for a in chosen}.values(), key=lambda a: int(a, 16))
