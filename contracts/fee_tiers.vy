# pragma version ~=0.4.3
"""
@title MMX fee tier math (stateless module)
@notice The one definition of the tier table encoding, the tier lookup and the trailing
        30-day volume record, shared by the RebateEngine (which owns the tier table) and
        the Exchange (which owns each account's volume record and applies the tiers at
        settlement). docs/fees.md describes the model.
@dev Tier table (3 words, as `RebateEngine.tier_table()` returns them):
       fees: tier i at bits [24 i, 24 i + 24): taker fee bps in the low 12 bits, maker
             rebate bps in the high 12; tier count in bits [248, 256)
       thresholds_lo / thresholds_hi: min volumes of tiers 0..3 / 4..7, 64 bits each
     Volume record (128 bits, kept by the Exchange next to the account's collateral):
       epoch mod 2**16 [0, 16) | volume of that epoch [16, 72) | of the epoch before [72, 128)
     Volumes are USDC units and saturate at MAX_VOLUME (2**56 - 1 = 7.2e10 USDC per epoch);
     tier thresholds are at most MAX_VOLUME, so a saturated volume is still in the top tier.
"""

import constants

MAX_TIERS: constant(uint256) = constants.MAX_TIERS
TIERS_PER_WORD: constant(uint256) = 4
MAX_VOLUME: constant(uint256) = 2**56 - 1
EPOCH_LENGTH: constant(uint256) = 30 * 86_400

MASK_12: constant(uint256) = 2**12 - 1
MASK_16: constant(uint256) = 2**16 - 1
MASK_64: constant(uint256) = 2**64 - 1
COUNT_SHIFT: constant(uint256) = 248
TIER_BITS: constant(uint256) = 24
REBATE_SHIFT: constant(uint256) = 12
THRESHOLD_BITS: constant(uint256) = 64
CURRENT_SHIFT: constant(uint256) = 16
PREVIOUS_SHIFT: constant(uint256) = 72


@internal
@pure
def tier_index(volume: uint256, fees: uint256, thresholds_lo: uint256, thresholds_hi: uint256) -> uint256:
    """
    @dev The last tier whose min volume is <= volume (at most 7 comparisons).
    """
    count: uint256 = fees >> COUNT_SHIFT
    thresholds: uint256 = thresholds_lo
    index: uint256 = 0
    for i: uint256 in range(1, MAX_TIERS):
        if i >= count:
            break
        if i == TIERS_PER_WORD:
            thresholds = thresholds_hi
        if (thresholds >> (THRESHOLD_BITS * (i % TIERS_PER_WORD))) & MASK_64 > volume:
            break
        index = i
    return index


@internal
@pure
def taker_fee(fees: uint256, index: uint256) -> uint256:
    return (fees >> (TIER_BITS * index)) & MASK_12


@internal
@pure
def maker_rebate(fees: uint256, index: uint256) -> uint256:
    return (fees >> (TIER_BITS * index + REBATE_SHIFT)) & MASK_12


@internal
@pure
def tier_count(fees: uint256) -> uint256:
    return fees >> COUNT_SHIFT


@internal
@pure
def count_bits(count: uint256) -> uint256:
    """
    @dev A fee word holding only the tier count (tiers are OR-ed in with `tier_bits`).
    """
    return count << COUNT_SHIFT


@internal
@pure
def threshold(thresholds_lo: uint256, thresholds_hi: uint256, index: uint256) -> uint256:
    """
    @dev The min volume of tier `index`.
    """
    word: uint256 = thresholds_lo if index < TIERS_PER_WORD else thresholds_hi
    return (word >> (THRESHOLD_BITS * (index % TIERS_PER_WORD))) & MASK_64


@internal
@pure
def tier_bits(index: uint256, min_volume: uint256, taker_fee_bps: uint256, maker_rebate_bps: uint256) -> (uint256, uint256):
    """
    @dev Tier `index` as bits to OR into its threshold word (lo for tiers 0..3, hi for 4..7)
         and into the fee word. Fees must fit in 12 bits, min_volume in 64.
    """
    return (
        min_volume << (THRESHOLD_BITS * (index % TIERS_PER_WORD)),
        (taker_fee_bps | (maker_rebate_bps << REBATE_SHIFT)) << (TIER_BITS * index),
    )


@internal
@pure
def trailing(record: uint256, epoch: uint256, elapsed: uint256) -> uint256:
    """
    @dev current + previous * (EPOCH_LENGTH - elapsed) // EPOCH_LENGTH of a volume record,
         where `epoch` = now // EPOCH_LENGTH and `elapsed` = now % EPOCH_LENGTH.
    """
    last: uint256 = record & MASK_16
    current: uint256 = (record >> CURRENT_SHIFT) & MAX_VOLUME
    cur: uint256 = epoch & MASK_16
    if last == cur:
        previous: uint256 = (record >> PREVIOUS_SHIFT) & MAX_VOLUME
        return current + previous * (EPOCH_LENGTH - elapsed) // EPOCH_LENGTH
    if (last + 1) & MASK_16 == cur:
        # the stored current epoch is now the previous one
        return current * (EPOCH_LENGTH - elapsed) // EPOCH_LENGTH
    return 0


@internal
@pure
def added(record: uint256, notional: uint256, epoch: uint256) -> uint256:
    """
    @dev The volume record after adding `notional` in `epoch` (rolling epochs; saturating).
    """
    last: uint256 = record & MASK_16
    cur: uint256 = epoch & MASK_16
    current: uint256 = (record >> CURRENT_SHIFT) & MAX_VOLUME
    previous: uint256 = (record >> PREVIOUS_SHIFT) & MAX_VOLUME
    if last != cur:
        previous = current if (last + 1) & MASK_16 == cur else 0
        current = 0
    current = min(current + min(notional, MAX_VOLUME), MAX_VOLUME)
    return cur | (current << CURRENT_SHIFT) | (previous << PREVIOUS_SHIFT)
