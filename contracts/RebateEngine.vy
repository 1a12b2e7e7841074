# pragma version ~=0.4.3
"""
@title MMX RebateEngine
@notice Volume tiers: each account's trailing 30-day volume picks its tier, and
        the tier gives the taker fee and the maker rebate in bps.
        - Tiers are set by the admin: at most MAX_TIERS, volume thresholds
          strictly increasing from 0, fees at most MAX_FEE_BPS, and every tier's
          taker fee at least the largest maker rebate of any tier, so the net
          fee of any fill (taker fee - maker rebate) is never negative.
        - Trailing volume uses two fixed 30-day epochs per account (the current
          and the previous one, packed in one slot): trailing = current +
          previous * (unexpired fraction of the previous epoch). This assumes
          the previous epoch's volume was spread evenly; see docs/fees.md.
        - `record` is called by the Exchange (EXCHANGE_ROLE) once per fill. Its
          gas does not depend on the account's history. It logs no event: the
          Exchange's FillSettled event carries the fees.
@dev Roles (snekmate access_control): DEFAULT_ADMIN_ROLE (tiers, roles),
     EXCHANGE_ROLE (record).
"""
from snekmate.auth import access_control

initializes: access_control

exports: access_control.__interface__

import interfaces.IRebateEngine as IRebateEngine

implements: IRebateEngine


# ---------------------------------------------------------------- roles
EXCHANGE_ROLE: public(constant(bytes32)) = keccak256("EXCHANGE_ROLE")


# ---------------------------------------------------------------- bounds
# @dev Largest number of tiers.
MAX_TIERS: public(constant(uint256)) = 8
# @dev Largest taker fee or maker rebate of a tier (10%).
MAX_FEE_BPS: public(constant(uint256)) = 1_000
# @dev Largest tier threshold in USDC units (64 bits: 1.8e13 USDC).
MAX_VOLUME_THRESHOLD: public(constant(uint256)) = 2**64 - 1
# @dev Length of an epoch and of the trailing window (30 days).
EPOCH_LENGTH: public(constant(uint256)) = 30 * 86_400


# ---------------------------------------------------------------- packing
# Tier table, 3 slots:
#   _thresholds[0]: tiers 0..3, _thresholds[1]: tiers 4..7, 64 bits each
#     (tier i at bits [64 * (i % 4), 64 * (i % 4) + 64))
#   _fees: tier i at bits [24 * i, 24 * i + 24): taker fee in the low 12
#     bits, maker rebate in the high 12; tier count in bits [248, 256)
_MASK_64: constant(uint256) = 2**64 - 1
_MASK_12: constant(uint256) = 2**12 - 1
_COUNT_SHIFT: constant(uint256) = 248
_TIERS_PER_SLOT: constant(uint256) = 4

# Account volume, 1 slot: epoch [0, 32) | current [32, 144) | previous [144, 256)
_MASK_32: constant(uint256) = 2**32 - 1
_MASK_112: constant(uint256) = 2**112 - 1
_CURRENT_SHIFT: constant(uint256) = 32
_PREVIOUS_SHIFT: constant(uint256) = 144


struct Tier:
    min_volume: uint256
    taker_fee_bps: uint256
    maker_rebate_bps: uint256


_thresholds: uint256[2]
_fees: uint256
_volume: HashMap[address, uint256]


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
@external
def record(maker: address, taker: address, notional: uint256) -> (uint256, uint256):
    """
    @notice Record a fill's notional for both accounts' trailing volume and
            return the fee schedule of this fill (EXCHANGE_ROLE).
    @dev Tiers are looked up from the volume before this fill is added. Gas is
         bounded: one volume slot per account, at most 3 tier slots.
    @param maker The maker account.
    @param taker The taker account.
    @param notional The fill's notional in USDC units.
    @return (taker fee bps of the taker, maker rebate bps of the maker)
    """
    assert access_control.hasRole[EXCHANGE_ROLE][msg.sender], "rebate: not exchange"
    epoch: uint256 = block.timestamp // EPOCH_LENGTH
    elapsed: uint256 = block.timestamp % EPOCH_LENGTH
    fees: uint256 = self._fees
    maker_slot: uint256 = self._volume[maker]
    taker_slot: uint256 = self._volume[taker]
    taker_fee: uint256 = self._taker_fee(fees, self._tier_index(self._trailing(taker_slot, epoch, elapsed), fees))
    maker_rebate: uint256 = self._maker_rebate(fees, self._tier_index(self._trailing(maker_slot, epoch, elapsed), fees))
    self._volume[maker] = self._added(maker_slot, notional, epoch)
    if taker == maker:
        taker_slot = self._volume[taker]
    self._volume[taker] = self._added(taker_slot, notional, epoch)
    return taker_fee, maker_rebate


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
def fee_bps(maker: address, taker: address) -> (uint256, uint256):
    """
    @notice The (taker fee bps, maker rebate bps) a fill between them would pay now.
    @param maker The maker account.
    @param taker The taker account.
    """
    epoch: uint256 = block.timestamp // EPOCH_LENGTH
    elapsed: uint256 = block.timestamp % EPOCH_LENGTH
    fees: uint256 = self._fees
    taker_tier: uint256 = self._tier_index(self._trailing(self._volume[taker], epoch, elapsed), fees)
    maker_tier: uint256 = self._tier_index(self._trailing(self._volume[maker], epoch, elapsed), fees)
    return self._taker_fee(fees, taker_tier), self._maker_rebate(fees, maker_tier)


@view
@external
def trailing_volume(account: address) -> uint256:
    """
    @notice The account's trailing 30-day volume in USDC units (approximation:
            current epoch + previous epoch scaled by its unexpired fraction).
    @param account The account.
    """
    return self._trailing(self._volume[account], block.timestamp // EPOCH_LENGTH, block.timestamp % EPOCH_LENGTH)


@view
@external
def tier_of(account: address) -> uint256:
    """
    @notice The index of the account's current tier.
    @param account The account.
    """
    volume: uint256 = self._trailing(self._volume[account], block.timestamp // EPOCH_LENGTH, block.timestamp % EPOCH_LENGTH)
    return self._tier_index(volume, self._fees)


@view
@external
def tier_for_volume(volume: uint256) -> uint256:
    """
    @notice The index of the tier a trailing volume of `volume` falls in.
    @param volume USDC units.
    """
    return self._tier_index(volume, self._fees)


@view
@external
def volume_state(account: address) -> (uint256, uint256, uint256):
    """
    @notice The raw volume record of `account`.
    @param account The account.
    @return (epoch of the last fill, volume in that epoch, volume in the epoch before)
    """
    slot: uint256 = self._volume[account]
    return slot & _MASK_32, (slot >> _CURRENT_SHIFT) & _MASK_112, slot >> _PREVIOUS_SHIFT


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
def _tier_index(volume: uint256, fees: uint256) -> uint256:
    """
    @dev The last tier whose threshold is <= volume. Reads the second threshold
         slot only when the volume reaches tier 4.
    """
    count: uint256 = fees >> _COUNT_SHIFT
    thresholds: uint256 = self._thresholds[0]
    index: uint256 = 0
    for i: uint256 in range(1, MAX_TIERS):
        if i >= count:
            break
        if i == _TIERS_PER_SLOT:
            thresholds = self._thresholds[1]
        if (thresholds >> (64 * (i % _TIERS_PER_SLOT))) & _MASK_64 > volume:
            break
        index = i
    return index


@pure
@internal
def _taker_fee(fees: uint256, index: uint256) -> uint256:
    return (fees >> (24 * index)) & _MASK_12


@pure
@internal
def _maker_rebate(fees: uint256, index: uint256) -> uint256:
    return (fees >> (24 * index + 12)) & _MASK_12


@view
@internal
def _tier(index: uint256, fees: uint256) -> Tier:
    threshold: uint256 = (self._thresholds[index // _TIERS_PER_SLOT] >> (64 * (index % _TIERS_PER_SLOT))) & _MASK_64
    return Tier(
        min_volume=threshold,
        taker_fee_bps=self._taker_fee(fees, index),
        maker_rebate_bps=self._maker_rebate(fees, index),
    )


@pure
@internal
def _trailing(slot: uint256, epoch: uint256, elapsed: uint256) -> uint256:
    """
    @dev current + previous * (EPOCH_LENGTH - elapsed) / EPOCH_LENGTH, where
         `elapsed` is the time since the current epoch began.
    """
    last_epoch: uint256 = slot & _MASK_32
    current: uint256 = (slot >> _CURRENT_SHIFT) & _MASK_112
    previous: uint256 = slot >> _PREVIOUS_SHIFT
    if last_epoch == epoch:
        return current + previous * (EPOCH_LENGTH - elapsed) // EPOCH_LENGTH
    if last_epoch + 1 == epoch:
        # The stored current epoch is now the previous one.
        return current * (EPOCH_LENGTH - elapsed) // EPOCH_LENGTH
    return 0


@pure
@internal
def _added(slot: uint256, notional: uint256, epoch: uint256) -> uint256:
    """
    @dev The volume slot after adding `notional` in `epoch`, rolling epochs.
         Volumes saturate at 2**112 - 1 (5e27 USDC) instead of reverting.
    """
    last_epoch: uint256 = slot & _MASK_32
    current: uint256 = (slot >> _CURRENT_SHIFT) & _MASK_112
    previous: uint256 = slot >> _PREVIOUS_SHIFT
    if last_epoch != epoch:
        previous = current if last_epoch + 1 == epoch else 0
        current = 0
    current = min(current + min(notional, _MASK_112), _MASK_112)
    return epoch | (current << _CURRENT_SHIFT) | (previous << _PREVIOUS_SHIFT)
