"""Delta-neutral hedger: keeps an account's net delta inside a band around a target.

Pure (no I/O, no clock: `now` is ms passed in), exact integers. The vault's on-chain
strategy gives one number, `hedge_threshold` (base units): while |net delta - target| is
within it nothing happens; once it is exceeded the engine emits one taker order (the
runner sends it IOC) that brings the delta back to `target` (or, with
`rebalance_to_bps`, to that fraction of the threshold, so a delta wandering around the
edge does not trade on every tick).

    engine = DeltaNeutralEngine(DeltaNeutralConfig(market=1, hedge_threshold=10**18))
    orders = engine.update(market_state, account_state, now_ms, external_delta=0)

- net delta = the position in `market` + `external_delta` (exposure held elsewhere, in
  the same base units: e.g. the vault's quoting inventory on another venue).
- The order is limit-priced at the *mark* moved `slippage_bps` against us (sell: mark *
  (1 - s) rounded up to the tick, buy: mark * (1 + s) rounded down): an IOC at that limit
  takes whatever liquidity is within the slippage bound and never worse. The mark, not
  the book, anchors it: a thin or spoofed book cannot drag the hedge's limit.
- reduce_only is set when the hedge only shrinks the position in `market` (never flips
  it), so it still settles when the account is close-only (vault drawdown halt).
- `max_hedge_size` caps one order (big deltas are worked down over several updates);
  `cooldown_ms` spaces hedges: the keeper sees a matched IOC fill at once, but a hedge
  that found no liquidity should not be retried on every tick.
- Halted market or a mark older than `max_mark_age_ms`: no hedge.
"""

from __future__ import annotations

from dataclasses import dataclass

from offchain.strategies.market import AccountState, MarketState
from offchain.strategies.orders import Applied, DesiredOrder, Fill
from offchain.strategies.rounding import BPS, round_ask, round_bid


@dataclass(frozen=True, slots=True)
class DeltaNeutralConfig:
    market: int
    hedge_threshold: int  # base units; |net delta - target| above this triggers a hedge
    target: int = 0  # desired net delta (signed base units)
    rebalance_to_bps: int = 0  # hedge down to threshold * bps / 10_000 (0: all the way to target)
    max_hedge_size: int = 0  # per order, base units (0: no cap)
    slippage_bps: int = 50  # limit price distance from the mark
    cooldown_ms: int = 0
    max_mark_age_ms: int = 0  # 0: no staleness check

    def __post_init__(self) -> None:
        if self.hedge_threshold <= 0:
            raise ValueError("hedge_threshold must be > 0")
        if not 0 <= self.rebalance_to_bps < BPS:
            raise ValueError("rebalance_to_bps must be in [0, 10000)")
        if not 0 <= self.slippage_bps < BPS:
            raise ValueError("slippage_bps must be in [0, 10000)")
        if self.max_hedge_size < 0 or self.cooldown_ms < 0 or self.max_mark_age_ms < 0:
            raise ValueError("max_hedge_size, cooldown_ms and max_mark_age_ms must be >= 0")


def hedge_size(delta_excess: int, config: DeltaNeutralConfig, lot: int) -> int:
    """Size to trade (>= 0, on the lot) for a signed excess delta over the target."""
    excess = abs(delta_excess)
    if excess <= config.hedge_threshold:
        return 0
    residual = config.hedge_threshold * config.rebalance_to_bps // BPS
    size = excess - residual
    if config.max_hedge_size:
        size = min(size, config.max_hedge_size)
    return size // lot * lot


class DeltaNeutralEngine:
    __slots__ = ("config", "last_hedge_ms")

    def __init__(self, config: DeltaNeutralConfig) -> None:
        self.config = config
        self.last_hedge_ms: int | None = None

    paused = False

    def desired(self, market: MarketState, account: AccountState, now: int) -> list[DesiredOrder]:
        """The `Engine` entry point (strategies.step): `update` with no external delta. Its
        orders are takers: the host sends them IOC rather than reconciling them."""
        return self.update(market, account, now)

    def on_fill(self, fill: Fill, now: int = 0) -> Applied | None:
        """Hedge fills move the position, which the next update reads: no state of its own."""
        return None

    def undo_fill(self, fill: Fill, taken: int | None = None) -> bool:
        return False

    def net_delta(self, account: AccountState, external_delta: int = 0) -> int:
        return account.position + external_delta

    def update(self, market: MarketState, account: AccountState, now: int,
               external_delta: int = 0) -> list[DesiredOrder]:
        """At most one taker order that moves the net delta back toward the target."""
        cfg = self.config
        if market.market != cfg.market or market.halted:
            return []
        if cfg.max_mark_age_ms and now - market.mark_ts > cfg.max_mark_age_ms:
            return []
        if self.last_hedge_ms is not None and now - self.last_hedge_ms < cfg.cooldown_ms:
            return []
        excess = self.net_delta(account, external_delta) - cfg.target
        size = hedge_size(excess, cfg, market.lot)
        if size == 0 or size < market.min_size:
            return []
        is_buy = excess < 0  # too short -> buy
        mark = market.mark_price
        if is_buy:
            price = round_bid(mark * (BPS + cfg.slippage_bps) // BPS, market.tick)
        else:
            price = round_ask(-(-mark * (BPS - cfg.slippage_bps) // BPS), market.tick)
        if price <= 0:
            return []
        position = account.position
        reduce_only = (position > 0 and not is_buy and size <= position) or (
            position < 0 and is_buy and size <= -position)
        self.last_hedge_ms = now
        return [DesiredOrder(cfg.market, is_buy, price, size, post_only=False, reduce_only=reduce_only)]
