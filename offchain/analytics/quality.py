"""Market quality per market: spread, depth by participant, quoting uptime, top of book,
maker share, fill rate and adverse selection (markouts).

Pure functions over two streams, so the keeper (or a backtest) can feed them as it goes:
- book samples: `summarize_book(ts, bids, asks)` turns one moment of the book, split by
  participant, into a small `BookSample` (best prices and depth within 10/50/100 bps of
  mid per participant); keep the samples, not the books.
- trades: `Trade(ts, price, size, maker, taker, maker_is_buy)` for every fill.
Then `market_quality(samples, trades, marks, ...)` aggregates them. Money and sizes stay
integers (depth in USDC units of notional); only shares, bps and times are floats.

Time weighting: each sample stands for the time until the next one (the last one for
the median gap), so an irregular sampler does not bias spread or uptime.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

WAD = 10**18
BANDS_BPS = (10, 50, 100)
OTHERS = "others"


@dataclass(frozen=True, slots=True)
class Quote:
    """One participant's resting orders at one moment, summarised."""

    best_bid: int | None
    best_ask: int | None
    bid_depth: tuple[int, ...]  # USDC notional resting within BANDS_BPS of mid (bids)
    ask_depth: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BookSample:
    ts: int  # ms
    best_bid: int | None
    best_ask: int | None
    quotes: Mapping[str, Quote]  # participant -> its part of the book

    @property
    def mid(self) -> int | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) // 2

    @property
    def spread_bps(self) -> float | None:
        mid = self.mid
        if mid is None or mid <= 0:
            return None
        return (self.best_ask - self.best_bid) * 10_000 / mid  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class Trade:
    ts: int  # ms
    price: int
    size: int  # base units
    maker: str  # participant names (the same names as the book samples use)
    taker: str
    maker_is_buy: bool

    @property
    def notional(self) -> int:
        return self.price * self.size // WAD


def _depth(levels: Sequence[tuple[int, int]], mid: int, is_bid: bool, bands: Sequence[int]) -> tuple[int, ...]:
    out = [0] * len(bands)
    for price, size in levels:
        distance = (mid - price) if is_bid else (price - mid)
        notional = price * size // WAD
        for j, band in enumerate(bands):
            if distance * 10_000 <= band * mid:  # within band bps of mid (a crossed level counts)
                out[j] += notional
    return tuple(out)


def summarize_book(ts: int, bids: Mapping[str, Sequence[tuple[int, int]]],
                   asks: Mapping[str, Sequence[tuple[int, int]]],
                   bands: Sequence[int] = BANDS_BPS) -> BookSample:
    """One moment of the book: `bids[participant]` / `asks[participant]` are that
    participant's (price, size) levels, best first or in any order."""
    best_bids = {p: max(pr for pr, _ in lv) for p, lv in bids.items() if lv}
    best_asks = {p: min(pr for pr, _ in lv) for p, lv in asks.items() if lv}
    best_bid = max(best_bids.values(), default=None)
    best_ask = min(best_asks.values(), default=None)
    mid = (best_bid + best_ask) // 2 if best_bid is not None and best_ask is not None else None
    quotes = {}
    for p in sorted(set(bids) | set(asks)):
        b, a = bids.get(p, ()), asks.get(p, ())
        if mid is None:
            zero = (0,) * len(bands)
            quotes[p] = Quote(best_bids.get(p), best_asks.get(p), zero, zero)
        else:
            quotes[p] = Quote(best_bids.get(p), best_asks.get(p), _depth(b, mid, True, bands),
                              _depth(a, mid, False, bands))
    return BookSample(ts, best_bid, best_ask, quotes)


def split_book(bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]],
               own: Mapping[str, Iterable[tuple[bool, int, int]]]) -> tuple[dict, dict]:
    """An L2 book (price, size levels) split by participant: `own[name]` lists that
    participant's resting orders as (is_buy, price, open size); what is left of each
    level belongs to OTHERS. Returns (bids by participant, asks by participant)."""
    by_b: dict[str, list[tuple[int, int]]] = {}
    by_a: dict[str, list[tuple[int, int]]] = {}
    taken_b: dict[int, int] = {}
    taken_a: dict[int, int] = {}
    for name, orders in own.items():
        ob: dict[int, int] = {}
        oa: dict[int, int] = {}
        for is_buy, price, size in orders:
            side, taken = (ob, taken_b) if is_buy else (oa, taken_a)
            side[price] = side.get(price, 0) + size
            taken[price] = taken.get(price, 0) + size
        by_b[name], by_a[name] = list(ob.items()), list(oa.items())
    by_b[OTHERS] = [(p, s - taken_b.get(p, 0)) for p, s in bids if s > taken_b.get(p, 0)]
    by_a[OTHERS] = [(p, s - taken_a.get(p, 0)) for p, s in asks if s > taken_a.get(p, 0)]
    return by_b, by_a


@dataclass(frozen=True, slots=True)
class ParticipantQuality:
    name: str
    two_sided_uptime: float  # share of time with both a bid and an ask resting
    top_bid_share: float  # share of time its bid is the best bid (ties count)
    top_ask_share: float
    top_both_share: float  # share of time at the best bid and the best ask at once
    mean_bid_depth: tuple[float, ...]  # time-weighted USDC units within each band
    mean_ask_depth: tuple[float, ...]
    maker_volume: int  # USDC units
    taker_volume: int
    maker_share: float  # of all traded volume
    maker_fills: int
    placed_size: int | None  # base units it offered (None: not known)
    filled_size: int  # base units of its resting orders that traded
    fill_rate: float | None  # filled / placed
    markout_bps: float | None  # volume-weighted mark move N s after its maker fills, for it (+ = good)
    markout_usdc: int  # sum of (mark later - price) x signed size, USDC units

    @property
    def adverse_selection_bps(self) -> float | None:
        """The markout against the maker: positive when the price moved against its fills."""
        return None if self.markout_bps is None else -self.markout_bps


@dataclass(frozen=True, slots=True)
class MarketQuality:
    samples: int
    duration_s: float
    time_weighted_spread_bps: float | None  # over the time both sides existed
    two_sided_book_share: float  # share of time the book had both sides
    bands_bps: tuple[int, ...]
    volume: int  # USDC units, all trades
    trades: int
    horizon_s: float
    participants: dict[str, ParticipantQuality] = field(default_factory=dict)


def _weights(ts: np.ndarray) -> np.ndarray:
    if len(ts) == 0:
        return ts.astype(float)
    if len(ts) == 1:
        return np.ones(1)
    gaps = np.diff(ts).astype(float)
    return np.append(gaps, np.median(gaps))


def markouts(trades: Sequence[Trade], mark_ts: Sequence[int], mark_px: Sequence[int],
             horizon_ms: int) -> list[int | None]:
    """The mark `horizon_ms` after each trade (the last mark at or before ts + horizon;
    None when the marks end before that)."""
    if not len(mark_ts):
        return [None] * len(trades)
    target = np.fromiter((t.ts for t in trades), dtype=np.int64, count=len(trades)) + horizon_ms
    idx = np.searchsorted(np.asarray(mark_ts, dtype=np.int64), target, side="right") - 1
    last = mark_ts[-1]
    return [None if (tg > last or i < 0) else mark_px[i] for tg, i in zip(target.tolist(), idx.tolist())]


def market_quality(samples: Sequence[BookSample], trades: Sequence[Trade],
                   marks: Iterable[tuple[int, int]] = (), *, horizon_s: float = 10.0,
                   placed: Mapping[str, int] | None = None,
                   participants: Iterable[str] | None = None,
                   bands: Sequence[int] = BANDS_BPS) -> MarketQuality:
    """Aggregate samples and trades. `marks` are (ts ms, price) of the market, sorted;
    `placed` is the size each participant offered (for fill rate)."""
    samples = sorted(samples, key=lambda s: s.ts)
    ts = np.array([s.ts for s in samples], dtype=np.int64)
    w = _weights(ts)
    total_w = float(w.sum()) if len(w) else 0.0
    names = set(participants or ())
    for s in samples:
        names.update(s.quotes)

    spreads = np.array([s.spread_bps if s.spread_bps is not None else np.nan for s in samples], dtype=float)
    two_sided = ~np.isnan(spreads)
    tw_spread = float(np.sum(spreads[two_sided] * w[two_sided]) / np.sum(w[two_sided])) if two_sided.any() else None
    book_share = float(np.sum(w[two_sided]) / total_w) if total_w else 0.0

    marks = list(marks)
    mark_ts = [m[0] for m in marks]
    mark_px = [m[1] for m in marks]
    later = markouts(trades, mark_ts, mark_px, int(horizon_s * 1000))
    # One pass over the trades (a backtest day has ~10^6): per participant maker volume,
    # taker volume, maker fills, filled size, markout USDC and the notional it covers.
    acc: dict[str, list[int]] = {}
    volume = 0
    for t, m in zip(trades, later):
        notional = t.price * t.size // WAD
        volume += notional
        mk = acc.get(t.maker)
        if mk is None:
            mk = acc[t.maker] = [0, 0, 0, 0, 0, 0]
        mk[0] += notional
        mk[2] += 1
        mk[3] += t.size
        if m is not None:
            mk[4] += ((m - t.price) if t.maker_is_buy else (t.price - m)) * t.size // WAD
            mk[5] += notional
        tk = acc.get(t.taker)
        if tk is None:
            tk = acc[t.taker] = [0, 0, 0, 0, 0, 0]
        tk[1] += notional
    names.update(acc)

    out: dict[str, ParticipantQuality] = {}
    n_bands = len(bands)
    for name in sorted(names):
        up = np.zeros(len(samples), dtype=bool)
        tb = np.zeros(len(samples), dtype=bool)
        ta = np.zeros(len(samples), dtype=bool)
        bid_depth = np.zeros((len(samples), n_bands))
        ask_depth = np.zeros((len(samples), n_bands))
        for i, s in enumerate(samples):
            q = s.quotes.get(name)
            if q is None:
                continue
            up[i] = q.best_bid is not None and q.best_ask is not None
            tb[i] = q.best_bid is not None and q.best_bid == s.best_bid
            ta[i] = q.best_ask is not None and q.best_ask == s.best_ask
            if len(q.bid_depth) == n_bands:
                bid_depth[i] = q.bid_depth
                ask_depth[i] = q.ask_depth

        def share(mask: np.ndarray) -> float:
            return float(np.sum(w[mask]) / total_w) if total_w else 0.0

        maker_volume, taker_volume, maker_fills, filled, markout_usdc, marked_notional = acc.get(name, [0] * 6)
        markout_bps = (markout_usdc * 10_000 / marked_notional) if marked_notional else None
        offered = None if placed is None else placed.get(name)
        out[name] = ParticipantQuality(
            name=name, two_sided_uptime=share(up), top_bid_share=share(tb), top_ask_share=share(ta),
            top_both_share=share(tb & ta),
            mean_bid_depth=tuple(float(x) for x in (w @ bid_depth / total_w if total_w else np.zeros(n_bands))),
            mean_ask_depth=tuple(float(x) for x in (w @ ask_depth / total_w if total_w else np.zeros(n_bands))),
            maker_volume=maker_volume, taker_volume=taker_volume,
            maker_share=maker_volume / volume if volume else 0.0, maker_fills=maker_fills,
            placed_size=offered, filled_size=filled,
            fill_rate=(filled / offered) if offered else None,
            markout_bps=markout_bps, markout_usdc=markout_usdc,
        )
    duration = float((ts[-1] - ts[0]) / 1000 + (w[-1] / 1000 if len(w) else 0)) if len(ts) else 0.0
    return MarketQuality(len(samples), duration, tw_spread, book_share, tuple(bands), volume, len(trades),
                         horizon_s, out)


__all__ = ["BANDS_BPS", "OTHERS", "BookSample", "MarketQuality", "ParticipantQuality", "Quote", "Trade",
           "market_quality", "markouts", "split_book", "summarize_book"]
