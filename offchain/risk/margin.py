"""Margin tiers by position notional: the table the Exchange enforces and the keeper's
admission pre-check uses (docs/exchange.md, "Margin tiers").

A market has 1..8 tiers. Tier i covers position notional from `threshold[i]` up to the
next tier's threshold (the first threshold is 0, the last tier is open-ended) and charges
its own initial and maintenance bps on the part of the notional inside it, so the
requirement is continuous and piecewise linear in notional (Hyperliquid's and Binance's
"maintenance deduction" form): a position that grows by one unit never jumps in
requirement, and the average margin (1 / max leverage) steps up tier by tier.

    requirement(n) = ceil(sum_i bps_i * overlap(n, tier i) / 10_000)
                   = ceil((n * bps_k - deduction_k) / 10_000)   k = tier containing n
    deduction_k    = sum_{0 < j <= k} threshold_j * (bps_j - bps_{j-1})

Notional is |size| * mark // 1e18 per market (architecture.md units); rounding is up,
against the account, as for the flat requirement it replaces. A one-tier table equals the
flat (initial_margin_bps, maintenance_margin_bps) of the market registry exactly.

Validation (the chain's, same reasons): 1..MAX_TIERS tiers ("bad tiers"), first threshold
0 and thresholds strictly increasing, below 2**64 ("bad threshold"), 0 < maintenance < initial <=
10_000 in every tier and both non-decreasing from tier to tier ("bad margin").
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 10_000
ONE = 10**18
MAX_TIERS = 8  # contracts/constants.vy MAX_TIERS
MAX_THRESHOLD = 2**64 - 1  # thresholds are packed in 64 bits on chain (margin_tiers.vy)


class TierError(ValueError):
    """A tier table the chain would refuse; `reason` is the chain's revert reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MarginTier:
    threshold: int   # USDC units of position notional where the tier starts
    initial_bps: int
    maintenance_bps: int


@dataclass(frozen=True, slots=True)
class TierTable:
    tiers: tuple[MarginTier, ...]
    # per tier: sum_{0<j<=k} threshold_j * (bps_j - bps_{j-1}), initial and maintenance
    _im_deduction: tuple[int, ...] = ()
    _mm_deduction: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        validate(self.tiers)
        im, mm = [0], [0]
        for prev, tier in zip(self.tiers, self.tiers[1:]):
            im.append(im[-1] + tier.threshold * (tier.initial_bps - prev.initial_bps))
            mm.append(mm[-1] + tier.threshold * (tier.maintenance_bps - prev.maintenance_bps))
        object.__setattr__(self, "_im_deduction", tuple(im))
        object.__setattr__(self, "_mm_deduction", tuple(mm))

    @classmethod
    def flat(cls, initial_bps: int, maintenance_bps: int) -> "TierTable":
        return cls((MarginTier(0, initial_bps, maintenance_bps),))

    @classmethod
    def of(cls, rows: list[tuple[int, int, int]] | tuple[tuple[int, int, int], ...]) -> "TierTable":
        """From (threshold, initial_bps, maintenance_bps) rows."""
        return cls(tuple(MarginTier(*row) for row in rows))

    def tier_index(self, notional: int) -> int:
        """The tier containing `notional` (at a threshold: the tier that starts there)."""
        k = 0
        for i in range(1, len(self.tiers)):
            if notional >= self.tiers[i].threshold:
                k = i
            else:
                break
        return k

    def requirement(self, notional: int, initial: bool = True) -> int:
        """Margin in USDC units for one market's position notional (rounded up)."""
        if notional <= 0:
            return 0
        k = self.tier_index(notional)
        tier = self.tiers[k]
        if initial:
            scaled = notional * tier.initial_bps - self._im_deduction[k]
        else:
            scaled = notional * tier.maintenance_bps - self._mm_deduction[k]
        return -(-scaled // BPS)

    def position_requirement(self, size: int, mark: int, initial: bool = True) -> int:
        """requirement() of a signed size at a mark (notional = |size| * mark // 1e18)."""
        return self.requirement(abs(size) * mark // ONE, initial)

    def max_notional(self, equity: int, initial: bool = True) -> int:
        """The largest notional whose requirement does not exceed `equity` (0 if none):
        what a quoting engine may hold at most. Exact: the requirement is monotone."""
        if equity <= 0:
            return 0
        lo, hi = 0, 1
        while self.requirement(hi, initial) <= equity:
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.requirement(mid, initial) <= equity:
                lo = mid
            else:
                hi = mid
        return lo


def validate(tiers: tuple[MarginTier, ...]) -> None:
    """Raise TierError with the chain's reason if the table is not acceptable."""
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise TierError("bad tiers")
    prev: MarginTier | None = None
    for tier in tiers:
        if prev is None:
            if tier.threshold != 0:
                raise TierError("bad threshold")
        elif tier.threshold <= prev.threshold or tier.threshold > MAX_THRESHOLD:
            raise TierError("bad threshold")
        if not 0 < tier.maintenance_bps < tier.initial_bps <= BPS:
            raise TierError("bad margin")
        if prev is not None and (tier.initial_bps < prev.initial_bps or tier.maintenance_bps < prev.maintenance_bps):
            raise TierError("bad margin")
        prev = tier
