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
@dev Roles (snekmate access_control): DEFAULT_ADMIN_ROLE (tiers, roles). EXCHANGE_ROLE
     is kept so deployments can mark the Exchange the engine serves; no function
     requires it (only the Exchange records volume: it is the Exchange's own storage).
"""
from snekmate.auth import access_control

initializes: access_control

exports: access_control.__interface__

import interfaces.IRebateEngine as IRebateEngine
import fee_tiers

implements: IRebateEngine


# ---------------------------------------------------------------- roles
EXCHANGE_ROLE: public(constant(bytes32)) = keccak256("EXCHANGE_ROLE")


# ---------------------------------------------------------------- bounds
# @dev Largest number of tiers.
MAX_TIERS: public(constant(uint256)) = 8
# @dev Largest taker fee or maker rebate of a tier (10%).
MAX_FEE_BPS: public(constant(uint256)) = 1_000
# @dev Largest tier threshold in USDC units (= the volume record's saturation, 7.2e10 USDC).
MAX_VOLUME_THRESHOLD: public(constant(uint256)) = fee_tiers.MAX_VOLUME
# @dev Length of an epoch and of the trailing window (30 days).
EPOCH_LENGTH: public(constant(uint256)) = fee_tiers.EPOCH_LENGTH


# ---------------------------------------------------------------- packing
# Tier table, 3 slots:
#   _thresholds[0]: tiers 0..3, _thresholds[1]: tiers 4..7, 64 bits each
#     (tier i at bits [64 * (i % 4), 64 * (i % 4) + 64))
#   _fees: tier i at bits [24 * i, 24 * i + 24): taker fee in the low 12
#     bits, maker rebate in the high 12; tier count in bits [248, 256)
_MASK_64: constant(uint256) = 2**64 - 1
_COUNT_SHIFT: constant(uint256) = 248
_TIERS_PER_SLOT: constant(uint256) = 4


struct Tier:
    min_volume: uint256
    taker_fee_bps: uint256
    maker_rebate_bps: uint256


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
            DEFAULT_ADMIN_ROLE. Grant EXCHANGE_ROLE to the Exchange afterwards.
    @param tiers The tier table (validated as in `set_tiers`).
    """
    access_control.__init__()
    self._set_tiers(tiers)


# ---------------------------------------------------------------- exchange
@view
@external
def tier_table() -> (uint256, uint256, uint256):
    """
    @notice The packed tier table the Exchange applies (encoding in fee_tiers).
    @dev The Exchange calls it once per settled batch. The second threshold word is
         read only when there are more than four tiers.
    @return (fees, thresholds of tiers 0..3, thresholds of tiers 4..7)
    """
    fees: uint256 = self._fees
    hi: uint256 = 0
    if fees >> _COUNT_SHIFT > _TIERS_PER_SLOT:
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
@view
@external
def tier_for_volume(volume: uint256) -> uint256:
    """
    @notice The index of the tier a trailing volume of `volume` falls in.
    @param volume USDC units.
    """
    fees: uint256 = self._fees
    return fee_tiers.tier_index(volume, fees, self._thresholds[0], self._thresholds[1])


@view
@external
def tier_count() -> uint256:
    """
    @notice The number of tiers.
    """
    return self._fees >> _COUNT_SHIFT


@view
@external
def tiers() -> DynArray[Tier, MAX_TIERS]:
    """
    @notice The tier table.
    """
    fees: uint256 = self._fees
    out: DynArray[Tier, MAX_TIERS] = []
    for i: uint256 in range(fees >> _COUNT_SHIFT, bound=MAX_TIERS):
        out.append(self._tier(i, fees))
    return out


@view
@external
def tier(index: uint256) -> Tier:
    """
    @notice One tier.
    @param index The tier index, below `tier_count()`.
    """
    fees: uint256 = self._fees
    assert index < fees >> _COUNT_SHIFT, "rebate: no such tier"
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
    fees: uint256 = count << _COUNT_SHIFT
    for i: uint256 in range(count, bound=MAX_TIERS):
        t: Tier = tiers[i]
        if i != 0:
            assert t.min_volume > tiers[i - 1].min_volume, "rebate: volume not increasing"
        assert t.min_volume <= MAX_VOLUME_THRESHOLD, "rebate: volume too large"
        assert t.taker_fee_bps <= MAX_FEE_BPS and t.maker_rebate_bps <= MAX_FEE_BPS, "rebate: fee too large"
        min_taker = min(min_taker, t.taker_fee_bps)
        max_rebate = max(max_rebate, t.maker_rebate_bps)
        thresholds[i // _TIERS_PER_SLOT] |= t.min_volume << (64 * (i % _TIERS_PER_SLOT))
        fees |= (t.taker_fee_bps | (t.maker_rebate_bps << 12)) << (24 * i)
    assert min_taker >= max_rebate, "rebate: negative net fee"
    self._thresholds = thresholds
    self._fees = fees
    log TiersSet(tiers=tiers)


@view
@internal
def _tier(index: uint256, fees: uint256) -> Tier:
    threshold: uint256 = (self._thresholds[index // _TIERS_PER_SLOT] >> (64 * (index % _TIERS_PER_SLOT))) & _MASK_64
    return Tier(
        min_volume=threshold,
        taker_fee_bps=fee_tiers.taker_fee(fees, index),
        maker_rebate_bps=fee_tiers.maker_rebate(fees, index),
    )
