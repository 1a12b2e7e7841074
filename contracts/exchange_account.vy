# pragma version ~=0.4.3
"""
@title Exchange-account share accounting (module of Vault and LiquidityPool)
@notice What a pool and a vault both are: holders of one Exchange account whose
        depositors own it through shares. This module keeps the account's address,
        the USDC it is denominated in, the valuation (idle USDC + Exchange equity at
        mark, minus USDC held for claimants, minus profit still unlocking), the share
        conversions with virtual shares, and pulling collateral out of the account.
        Profit unlocking (as Yearn V3): every gain the account makes between two
        syncs (fees, penalties, trading gains) is locked and released into the share
        price linearly over `profit_unlock_time`; a loss is taken at once, first from
        the still-locked profit. A deposit made just before a lumpy gain therefore
        earns only its share of what unlocks after it arrived. See docs/pool.md.
"""

from ethereum.ercs import IERC20
from snekmate.utils import math

import constants
from interfaces import IExchange


# ---------------------------------------------------------------- constants

# Longest profit-unlocking window a pool or vault may set.
MAX_UNLOCK_TIME: constant(uint256) = 30 * constants.DAY


# ---------------------------------------------------------------- events

event ProfitLocked:
    gain: uint256
    loss: uint256
    locked: uint256
    unlock_end: uint256

event ProfitUnlockTimeSet:
    seconds: uint256


# ---------------------------------------------------------------- state

exchange: public(immutable(IExchange))
asset: public(immutable(address))
_ASSET: immutable(IERC20)

# seconds over which a gain is released into the share price (0 = at once)
profit_unlock_time: public(uint256)
# idle USDC that belongs to claimants (failed payments), not to the share holders
reserved: public(uint256)
# valuation at the last sync: gross assets (idle + equity - reserved) then
_recorded: uint256
# profit still locked at the last sync, released linearly from the sync until the end, in
# one slot (every deposit and payout reads and writes it): locked << 64 | synced_at << 32 |
# unlock_end (times below 2**32)
_lock: uint256


@deploy
def __init__(exchange_: address, asset_: address, profit_unlock_time_: uint256):
    """
    @notice Bind the module to its Exchange account and approve the Exchange for USDC.
    @param exchange_ The Exchange holding the account.
    @param asset_ USDC.
    @param profit_unlock_time_ Seconds a gain takes to unlock (<= 30 days).
    """
    assert profit_unlock_time_ <= MAX_UNLOCK_TIME, "account: unlock time"
    exchange = IExchange(exchange_)
    asset = asset_
    _ASSET = IERC20(asset_)
    self.profit_unlock_time = profit_unlock_time_
    self._lock = (block.timestamp << 32) | block.timestamp
    assert extcall _ASSET.approve(exchange_, max_value(uint256), default_return_value=True), "account: approve"
    log ProfitUnlockTimeSet(seconds=profit_unlock_time_)


# ---------------------------------------------------------------- views

@internal
@view
def _idle() -> uint256:
    # USDC held by the contract that is the share holders' (not claimants')
    bal: uint256 = staticcall _ASSET.balanceOf(self)
    res: uint256 = self.reserved
    if bal > res:
        return bal - res
    return 0


@internal
@view
def _equity() -> int256:
    return staticcall exchange.equity(self)


@internal
@view
def _gross_assets() -> uint256:
    # idle USDC plus Exchange equity at mark; negative equity counts as 0 here, and
    # deposits are refused while it lasts (see _assert_solvent)
    eq: int256 = staticcall exchange.equity(self)
    idle: uint256 = self._idle()
    if eq > 0:
        return idle + convert(eq, uint256)
    return idle


@internal
@view
def _locked_now() -> uint256:
    # profit locked at the last sync, linearly released; rounded up (in the holders' favour
    # against a depositor, and it never releases before its time)
    w: uint256 = self._lock
    end: uint256 = w & 2**32 - 1
    if block.timestamp >= end:
        return 0
    start: uint256 = (w >> 32) & 2**32 - 1
    return math._mul_div(w >> 64, end - block.timestamp, end - start, True)


@internal
@view
def _preview_sync() -> (uint256, uint256, uint256, uint256, uint256):
    # (total assets, gain, loss, locked after the sync, unlock end after the sync)
    gross: uint256 = self._gross_assets()
    recorded: uint256 = self._recorded
    locked: uint256 = self._locked_now()
    end: uint256 = self._lock & 2**32 - 1
    gain: uint256 = 0
    loss: uint256 = 0
    if gross >= recorded:
        gain = gross - recorded
        window: uint256 = self.profit_unlock_time
        if gain > 0 and window > 0:
            # the new gain unlocks over a full window; what was locked keeps its pace:
            # the end is the gain-weighted average of both (Yearn V3)
            remaining: uint256 = 0
            if end > block.timestamp:
                remaining = end - block.timestamp
            end = block.timestamp + (locked * remaining + gain * window) // (locked + gain)
            locked += gain
    else:
        # a loss is taken at once, first out of the profit still locked
        loss = recorded - gross
        locked -= min(loss, locked)
    if locked > gross:
        locked = gross
    return (gross - locked, gain, loss, locked, end)


@internal
@view
def _total_assets() -> uint256:
    # what the share holders own now: as a sync would see it, so an unreported gain is
    # already locked in a view
    ta: uint256 = 0
    gain: uint256 = 0
    loss: uint256 = 0
    locked: uint256 = 0
    end: uint256 = 0
    ta, gain, loss, locked, end = self._preview_sync()
    return ta


@internal
@view
def _locked_profit() -> uint256:
    ta: uint256 = 0
    gain: uint256 = 0
    loss: uint256 = 0
    locked: uint256 = 0
    end: uint256 = 0
    ta, gain, loss, locked, end = self._preview_sync()
    return locked


@internal
@view
def _unlock_schedule() -> (uint256, uint256):
    # (profit still locked, time it is fully unlocked) as a sync would set them now
    ta: uint256 = 0
    gain: uint256 = 0
    loss: uint256 = 0
    locked: uint256 = 0
    end: uint256 = 0
    ta, gain, loss, locked, end = self._preview_sync()
    if locked == 0:
        end = block.timestamp
    return (locked, end)


@internal
@view
def _available() -> uint256:
    # USDC a payout can take now: Exchange.withdraw needs both collateral >= amount and
    # margin after it
    free: int256 = min(staticcall exchange.free_collateral(self), staticcall exchange.collateral(self))
    idle: uint256 = self._idle()
    if free > 0:
        return idle + convert(free, uint256)
    return idle


@internal
@pure
def _to_shares(assets: uint256, supply: uint256, total_assets: uint256, roundup: bool) -> uint256:
    return math._mul_div(assets, supply + constants.VIRTUAL_SHARES, total_assets + 1, roundup)


@internal
@pure
def _to_assets(shares: uint256, supply: uint256, total_assets: uint256, roundup: bool) -> uint256:
    return math._mul_div(shares, total_assets + 1, supply + constants.VIRTUAL_SHARES, roundup)


# ---------------------------------------------------------------- mutations

@internal
def _sync() -> uint256:
    """
    @dev Book the gain or loss since the last sync (gains locked, losses at once) and
         return the share holders' total assets. Every deposit and payout syncs first,
         so its price is the one a view showed.
    """
    ta: uint256 = 0
    gain: uint256 = 0
    loss: uint256 = 0
    locked: uint256 = 0
    end: uint256 = 0
    ta, gain, loss, locked, end = self._preview_sync()
    self._recorded = ta + locked
    self._lock = (locked << 64) | (block.timestamp << 32) | end
    if gain > 0 or loss > 0:
        log ProfitLocked(gain=gain, loss=loss, locked=locked, unlock_end=end)
    return ta


@internal
def _assert_solvent(reason: String[32]):
    # a deposit into an account with negative equity would pay its deficit
    assert staticcall exchange.equity(self) >= 0, reason


@internal
def _deposit_in(assets: uint256):
    # USDC already held by the contract goes into the Exchange account (after a sync)
    extcall exchange.deposit(assets)
    self._recorded += assets


@internal
def _pull(amount: uint256):
    # make `amount` USDC idle, taking the shortfall from the Exchange account
    idle: uint256 = self._idle()
    if idle < amount:
        extcall exchange.withdraw(amount - idle)


@internal
def _paid_out(amount: uint256):
    # `amount` left the share holders (paid, or set aside for a claimant)
    self._recorded -= min(amount, self._recorded)


@internal
def _reserve(amount: uint256):
    # keep `amount` of idle USDC for a claimant whose payment failed
    self.reserved += amount


@internal
def _release(amount: uint256):
    self.reserved -= amount


@internal
def _set_profit_unlock_time(seconds: uint256):
    assert seconds <= MAX_UNLOCK_TIME, "account: unlock time"
    self._sync()
    self.profit_unlock_time = seconds
    log ProfitUnlockTimeSet(seconds=seconds)
