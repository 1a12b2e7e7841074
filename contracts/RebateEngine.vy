# pragma version ~=0.4.3
"""
@title MMX RebateEngine
@notice The fee tier table: each account's trailing 30-day volume picks its tier, and
        the tier gives the taker fee and the maker rebate in bps.
        - Tiers are set by the admin: at most MAX_TIERS, volume thresholds
          strictly increasing from 0 and at most MAX_VOLUME_THRESHOLD, fees at most
          MAX_FEE_BPS, and every tier's taker fee at least the largest maker rebate of
          any tier, so the net fee of any fill (taker fee - maker rebate) is never negative.
        - The Exchange keeps each account's trailing-volume record itself (packed next to
          the account's collateral, a slot it writes on every fill anyway) and reads the
          table once per settled batch through `tier_table()`. The math (tier lookup,
          trailing volume) is the shared module `fee_tiers`; see docs/fees.md.
@dev Roles (snekmate access_control): DEFAULT_ADMIN_ROLE (tiers, roles). The Exchange
     needs no role: it only reads the table (each account's volume is its own storage).
     The bit layout of the table is fee_tiers' alone; this contract only calls it.
"""
from snekmate.auth import access_control

initializes: access_control

exports: access_control.__interface__

import constants
import fee_tiers
import interfaces.IRebateEngine as IRebateEngine

implements: IRebateEngine


# ---------------------------------------------------------------- bounds
# @dev Largest number of tiers.
MAX_TIERS: public(constant(uint256)) = constants.MAX_TIERS
# @dev Largest taker fee or maker rebate of a tier (10%).
MAX_FEE_BPS: public(constant(uint256)) = 1_000
# @dev Largest tier threshold in USDC units (= the volume record's saturation, 7.2e10 USDC).
MAX_VOLUME_THRESHOLD: public(constant(uint256)) = fee_tiers.MAX_VOLUME
# @dev Length of an epoch and of the trailing window (30 days).
EPOCH_LENGTH: public(constant(uint256)) = fee_tiers.EPOCH_LENGTH


# ---------------------------------------------------------------- state
struct Tier:
    min_volume: uint256
    taker_fee_bps: uint256
    maker_rebate_bps: uint256


# The tier table, in fee_tiers' encoding: thresholds of tiers 0..3 and 4..7, and the fee word.
_thresholds: uint256[2]
_fees: uint256


# ---------------------------------------------------------------- events
event TiersSet:
    tiers: DynArray[Tier, MAX_TIERS]


# ---------------------------------------------------------------- deploy
@deploy
def __init__(tiers: DynArray[Tier, MAX_TIERS]):
    """
    @notice Deploy with an initial tier table; the deployer gets
            DEFAULT_ADMIN_ROLE.
    @param tiers The tier table (validated as in `set_tiers`).
    """
    access_control.__init__()
    self._set_tiers(tiers)


# ---------------------------------------------------------------- exchange
@external
@view
def tier_table() -> (uint256, uint256, uint256):
    """
    @notice The packed tier table the Exchange applies (encoding in fee_tiers).
    @dev The Exchange calls it once per settled batch. The second threshold word is
         read only when there are more than four tiers.
    @return (fees, thresholds of tiers 0..3, thresholds of tiers 4..7)
    """
    fees: uint256 = self._fees
    hi: uint256 = 0
    if fee_tiers.tier_count(fees) > fee_tiers.TIERS_PER_WORD:
        hi = self._thresholds[1]
    return fees, self._thresholds[0], hi


# ---------------------------------------------------------------- admin
@external
def set_tiers(tiers: DynArray[Tier, MAX_TIERS]):
    """
    @notice Replace the tier table (DEFAULT_ADMIN_ROLE).
    @dev Reverts "rebate: no tiers", "rebate: first tier not zero",
         "rebate: volume not increasing", "rebate: volume too large",
         "rebate: fee too large", "rebate: negative net fee".
    @param tiers Tiers by increasing `min_volume` (USDC units), the first at 0.
    """
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "rebate: not admin"
    self._set_tiers(tiers)


# ---------------------------------------------------------------- views
@external
@view
def tier_for_volume(volume: uint256) -> uint256:
    """
    @notice The index of the tier a trailing volume of `volume` falls in.
    @param volume USDC units.
    @return The tier index.
    """
    fees: uint256 = self._fees
    return fee_tiers.tier_index(volume, fees, self._thresholds[0], self._thresholds[1])


@external
@view
def tier_count() -> uint256:
    """
    @notice The number of tiers.
    @return The count, 1..MAX_TIERS.
    """
    return fee_tiers.tier_count(self._fees)


@external
@view
def tiers() -> DynArray[Tier, MAX_TIERS]:
    """
    @notice The tier table.
    @return The tiers by increasing min volume.
    """
    fees: uint256 = self._fees
    out: DynArray[Tier, MAX_TIERS] = []
    for i: uint256 in range(fee_tiers.tier_count(fees), bound=MAX_TIERS):
        out.append(self._tier(i, fees))
    return out


@external
@view
def tier(index: uint256) -> Tier:
    """
    @notice One tier.
    @param index The tier index, below `tier_count()`.
    @return The tier.
    """
    fees: uint256 = self._fees
    assert index < fee_tiers.tier_count(fees), "rebate: no such tier"
    return self._tier(index, fees)


# ---------------------------------------------------------------- internal
@internal
def _set_tiers(tiers: DynArray[Tier, MAX_TIERS]):
    count: uint256 = len(tiers)
    assert count != 0, "rebate: no tiers"
    assert tiers[0].min_volume == 0, "rebate: first tier not zero"
    min_taker: uint256 = max_value(uint256)
    max_rebate: uint256 = 0
    thresholds: uint256[2] = empty(uint256[2])
    fees: uint256 = fee_tiers.count_bits(count)
    for i: uint256 in range(count, bound=MAX_TIERS):
        t: Tier = tiers[i]
        if i != 0:
            assert t.min_volume > tiers[i - 1].min_volume, "rebate: volume not increasing"
        assert t.min_volume <= MAX_VOLUME_THRESHOLD, "rebate: volume too large"
        assert t.taker_fee_bps <= MAX_FEE_BPS and t.maker_rebate_bps <= MAX_FEE_BPS, "rebate: fee too large"
        min_taker = min(min_taker, t.taker_fee_bps)
        max_rebate = max(max_rebate, t.maker_rebate_bps)
        threshold_bits: uint256 = 0
        fee_bits: uint256 = 0
        threshold_bits, fee_bits = fee_tiers.tier_bits(i, t.min_volume, t.taker_fee_bps, t.maker_rebate_bps)
        thresholds[i // fee_tiers.TIERS_PER_WORD] |= threshold_bits
        fees |= fee_bits
    assert min_taker >= max_rebate, "rebate: negative net fee"
    self._thresholds = thresholds
    self._fees = fees
    log TiersSet(tiers=tiers)


@internal
@view
def _tier(index: uint256, fees: uint256) -> Tier:
    return Tier(
        min_volume=fee_tiers.threshold(self._thresholds[0], self._thresholds[1], index),
        taker_fee_bps=fee_tiers.taker_fee(fees, index),
        maker_rebate_bps=fee_tiers.maker_rebate(fees, index),
    )
