# pragma version ~=0.4.3
"""
@title MMX margin tiers (stateless module)
@notice The tier-table encoding, its validation and the tiered margin requirement the
        Exchange applies per market (docs/exchange.md, "Margin tiers"); offchain/risk/margin.py
        is the keeper's copy of the same integers.
@dev A market's table is three words, kept by the Exchange:
       bps:  initial bps of tier i at bits [14 i, 14 i + 14), maintenance bps of tier i at
             [112 + 14 i, ...), tier count at [252, 256); 0 = no table (flat market bps)
       thresholds_lo / thresholds_hi: notional thresholds of tiers 1..4 / 5..7, 64 bits each
             (tier 0 starts at notional 0)
     Tier i charges its bps on the part of the notional inside it, so the requirement is
     continuous: ceil((n * bps_k - sum_{0<j<=k} threshold_j * (bps_j - bps_{j-1})) / BPS)
     with k the tier containing n. Gas: one loop over at most 7 thresholds.
"""

import constants

MASK_14: constant(uint256) = 2**14 - 1
MASK_64: constant(uint256) = 2**64 - 1
MM_SHIFT: constant(uint256) = 112
COUNT_SHIFT: constant(uint256) = 252
PER_WORD: constant(uint256) = 4


@internal
@pure
def requirement(notional: uint256, bps_word: uint256, thresholds_lo: uint256, thresholds_hi: uint256, initial: bool) -> uint256:
    """
    @dev Tiered margin of one market's position notional (rounded up). bps_word != 0.
    """
    offset: uint256 = 0
    if not initial:
        offset = MM_SHIFT
    count: uint256 = bps_word >> COUNT_SHIFT
    bps: uint256 = (bps_word >> offset) & MASK_14
    deduction: uint256 = 0
    thresholds: uint256 = thresholds_lo
    for i: uint256 in range(1, constants.MAX_TIERS):
        if i >= count:
            break
        if i == PER_WORD + 1:
            thresholds = thresholds_hi
        threshold: uint256 = (thresholds >> (64 * ((i - 1) % PER_WORD))) & MASK_64
        if notional < threshold:
            break
        tier_bps: uint256 = (bps_word >> (offset + 14 * i)) & MASK_14
        # bps never decrease from tier to tier (encode checks): no underflow, and
        # deduction <= notional * bps
        deduction += threshold * (tier_bps - bps)
        bps = tier_bps
    return (notional * bps - deduction + constants.BPS - 1) // constants.BPS


@internal
@pure
def encode(
    thresholds: DynArray[uint256, constants.MAX_TIERS],
    initial_bps: DynArray[uint256, constants.MAX_TIERS],
    maintenance_bps: DynArray[uint256, constants.MAX_TIERS],
) -> (uint256, uint256, uint256):
    """
    @dev Validate a table and pack it (bps word, thresholds lo, thresholds hi). Reverts
         `exchange: bad tiers` (count 0 or lengths differ), `exchange: bad threshold`
         (first not 0, not strictly increasing, or >= 2**64), `exchange: bad margin`
         (not 0 < maintenance < initial <= BPS, or a bps decreasing from tier to tier).
    """
    n: uint256 = len(thresholds)
    assert n > 0 and len(initial_bps) == n and len(maintenance_bps) == n, "exchange: bad tiers"
    assert thresholds[0] == 0, "exchange: bad threshold"
    bps_word: uint256 = n << COUNT_SHIFT
    lo: uint256 = 0
    hi: uint256 = 0
    for i: uint256 in range(constants.MAX_TIERS):
        if i >= n:
            break
        im: uint256 = initial_bps[i]
        mm: uint256 = maintenance_bps[i]
        assert mm > 0 and mm < im and im <= constants.BPS, "exchange: bad margin"
        if i > 0:
            assert thresholds[i] > thresholds[i - 1] and thresholds[i] <= MASK_64, "exchange: bad threshold"
            assert im >= initial_bps[i - 1] and mm >= maintenance_bps[i - 1], "exchange: bad margin"
            if i <= PER_WORD:
                lo = lo | (thresholds[i] << (64 * (i - 1)))
            else:
                hi = hi | (thresholds[i] << (64 * (i - 1 - PER_WORD)))
        bps_word = bps_word | (im << (14 * i)) | (mm << (MM_SHIFT + 14 * i))
    return bps_word, lo, hi


@internal
@pure
def tier_count(bps_word: uint256) -> uint256:
    return bps_word >> COUNT_SHIFT


@internal
@pure
def base_bps(bps_word: uint256) -> (uint256, uint256):
    """
    @dev Tier 0's (initial, maintenance) bps: the market registry's flat pair.
    """
    return bps_word & MASK_14, (bps_word >> MM_SHIFT) & MASK_14
