"""Perpetual funding: rate maths (rate), lazy settlement model (ledger), premium sampling
and the keeper's funding runner. See docs/funding.md."""

from .ledger import FundingLedger, Position
from .rate import (
    CAP_PER_HOUR,
    CLAMP_8H,
    EIGHT_HOURS,
    INDEX_DIV,
    INTEREST_8H,
    PAY_SCALE,
    RATE_ONE,
    FundingParams,
    average_premium,
    default_cap,
    funding_owed,
    funding_rate,
    impact_price,
    index_delta,
    interval_of,
    premium,
    sample_book,
)

__all__ = ["CAP_PER_HOUR", "CLAMP_8H", "EIGHT_HOURS", "INDEX_DIV", "INTEREST_8H", "PAY_SCALE", "RATE_ONE", "FundingLedger",
           "FundingParams", "Position", "average_premium", "default_cap", "funding_owed", "funding_rate",
           "impact_price", "index_delta", "interval_of", "premium", "sample_book"]
