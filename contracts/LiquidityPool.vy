# pragma version ~=0.4.3
"""
@title MMX liquidity pool (HLP-style)
@notice ERC-4626 pool over USDC whose shares are the LP token. Its capital sits in
        its own Exchange account, quoted by the keeper's grid engine through an agent
        key the pool admin approves; its share of trading fees and the liquidation
        penalties it earns as the Exchange's backstop arrive in that account, so
        total assets = idle USDC + Exchange equity at mark, less profit still
        unlocking: every gain is released into the share price linearly over
        `profit_unlock_time` (default a day, Yearn V3 style; losses at once), so a
        just-in-time deposit earns only what unlocks after it arrives. The keeper
        calls distribute_fees on a schedule (anyone may). Deposits are refused while
        the pool's equity is negative, and only for the caller itself. Withdrawals
        keep a backstop reserve above the pool's margin requirement. Virtual shares (a
        decimals offset of 6) defeat the first-depositor inflation attack; every
        conversion rounds in the pool's favour. Deposits and withdrawals take
        slippage bounds; deposits start a lock-up (default 4 days); total assets are
        capped; withdrawals per UTC day are capped to a fraction of total assets.
        snekmate's erc4626 module is not used because its totalAssets is the token
        balance only; the LP token is snekmate's erc20. See docs/pool.md.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626
from snekmate.auth import ownable
from snekmate.tokens import erc20
from snekmate.utils import math

import constants
import exchange_account
from interfaces import IExchange
from interfaces import ILiquidityPool

implements: IERC20
implements: ILiquidityPool
# ERC-4626 ABI: the entry points add slippage arguments with defaults, so the
# plain ERC-4626 signatures are all exposed too (`implements:` cannot see them).

initializes: ownable
initializes: erc20[ownable := ownable]
initializes: exchange_account

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.approve,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    ownable.owner,
    ownable.transfer_ownership,
    exchange_account.exchange,
    exchange_account.asset,
    exchange_account.profit_unlock_time,
)


# ---------------------------------------------------------------- constants

DECIMALS_OFFSET: constant(uint8) = 6
DEFAULT_LOCKUP: constant(uint256) = 4 * constants.DAY
DEFAULT_UNLOCK_TIME: constant(uint256) = constants.DAY
DEFAULT_DAILY_WITHDRAW_BPS: constant(uint256) = 2_000
# withdrawals leave free collateral of at least this share of the pool's initial margin
DEFAULT_BACKSTOP_RESERVE_BPS: constant(uint256) = 10_000
MAX_BACKSTOP_RESERVE_BPS: constant(uint256) = 100_000
MASK96: constant(uint256) = 2**96 - 1
MAX_GRID_LEVELS: constant(uint256) = 100
MAX_GRID_MARKETS: constant(uint256) = 64


# ---------------------------------------------------------------- state

deposit_cap: public(uint256)
lockup: public(uint256)
daily_withdraw_bps: public(uint256)
lock_until: public(HashMap[address, uint256])
# backstop reserve: free collateral a withdrawal must leave (bps of the initial margin
# requirement, plus a fixed amount), so the pool can still absorb liquidations
backstop_reserve_bps: public(uint256)
min_backstop_reserve: public(uint256)
# fee income booked by distribute_fees (USDC units, cumulative)
fee_income: public(uint256)

# withdrawal window packed in one slot: UTC day << 192 | total assets when it opened << 96
# | assets withdrawn in it (amounts below 2**96 USDC units)
_window: uint256

_grids: HashMap[uint256, ILiquidityPool.GridParams]
_grid_known: HashMap[uint256, bool]
grid_markets: public(DynArray[uint256, MAX_GRID_MARKETS])


# ---------------------------------------------------------------- events


event GridSet:
    market: indexed(uint256)
    levels: uint256
    spacing_bps: uint256
    size_per_level: uint256
    active: bool

event AgentSet:
    agent: indexed(address)
    approved: bool

event DepositCapSet:
    cap: uint256

event LockupSet:
    lockup: uint256

event DailyWithdrawLimitSet:
    bps: uint256

event BackstopReserveSet:
    bps: uint256
    minimum: uint256

event FeesCollected:
    caller: indexed(address)
    amount: uint256
    locked: uint256
    unlock_end: uint256


@deploy
def __init__(asset_: address, exchange_: address, deposit_cap_: uint256):
    """
    @notice Deploy the pool; the deployer is its admin.
    @param asset_ USDC.
    @param exchange_ The Exchange the pool's capital lives in.
    @param deposit_cap_ Maximum total assets after a deposit (USDC units).
    """
    assert asset_ != empty(address), "pool: asset"
    assert exchange_ != empty(address), "pool: exchange"
    exchange_account.__init__(exchange_, asset_, DEFAULT_UNLOCK_TIME)
    ownable.__init__()
    erc20.__init__("MMX Liquidity Pool", "MLP", 6 + DECIMALS_OFFSET, "MMX Liquidity Pool", "1")
    self.deposit_cap = deposit_cap_
    self.lockup = DEFAULT_LOCKUP
    self.daily_withdraw_bps = DEFAULT_DAILY_WITHDRAW_BPS
    self.backstop_reserve_bps = DEFAULT_BACKSTOP_RESERVE_BPS
    log DepositCapSet(cap=deposit_cap_)
    log LockupSet(lockup=DEFAULT_LOCKUP)
    log DailyWithdrawLimitSet(bps=DEFAULT_DAILY_WITHDRAW_BPS)
    log BackstopReserveSet(bps=DEFAULT_BACKSTOP_RESERVE_BPS, minimum=0)


# ---------------------------------------------------------------- ERC-4626 views

@external
@view
def totalAssets() -> uint256:
    """
    @notice Idle USDC plus the pool's Exchange equity at mark (0 if negative), less
            profit still unlocking.
    @return USDC units.
    """
    return exchange_account._total_assets()


@external
@view
def convertToShares(assets: uint256) -> uint256:
    """
    @notice Shares for `assets` at the current price (rounded down).
    @param assets USDC units.
    @return LP shares.
    """
    return self._to_shares(assets, exchange_account._total_assets(), False)


@external
@view
def convertToAssets(shares: uint256) -> uint256:
    """
    @notice Assets for `shares` at the current price (rounded down).
    @param shares LP shares.
    @return USDC units.
    """
    return self._to_assets(shares, exchange_account._total_assets(), False)


@external
@view
def maxDeposit(receiver: address) -> uint256:
    """
    @notice Assets that can still be deposited under the cap (0 while equity is negative
            or the Exchange is paused).
    @param receiver Unused (deposits are only for the caller).
    @return USDC units.
    """
    return self._max_deposit()


@external
@view
def maxMint(receiver: address) -> uint256:
    """
    @notice Shares that can still be minted under the cap (0 while maxDeposit is).
    @param receiver Unused (deposits are only for the caller).
    @return LP shares.
    """
    return self._to_shares(self._max_deposit(), exchange_account._total_assets(), False)


@external
@view
def maxWithdraw(owner: address) -> uint256:
    """
    @notice Assets `owner` can withdraw now (lock-up, daily cap, free collateral above
            the backstop reserve).
    @param owner The holder.
    @return USDC units.
    """
    return self._max_withdraw(owner, exchange_account._total_assets())


@external
@view
def maxRedeem(owner: address) -> uint256:
    """
    @notice Shares `owner` can redeem now (lock-up, daily cap, free collateral above the
            backstop reserve); the whole balance when it fits.
    @param owner The holder.
    @return LP shares.
    """
    ta: uint256 = exchange_account._total_assets()
    room: uint256 = self._max_withdraw(owner, ta)
    bal: uint256 = erc20.balanceOf[owner]
    if room >= self._to_assets(bal, ta, False):
        # the whole balance fits (converting the room back would round a few shares off)
        return bal
    return min(bal, self._to_shares(room, ta, False))


@external
@view
def previewDeposit(assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `assets` mints (rounded down).
    @param assets USDC units.
    @return LP shares.
    """
    return self._to_shares(assets, exchange_account._total_assets(), False)


@external
@view
def previewMint(shares: uint256) -> uint256:
    """
    @notice Assets a mint of `shares` costs (rounded up).
    @param shares LP shares.
    @return USDC units.
    """
    return self._to_assets(shares, exchange_account._total_assets(), True)


@external
@view
def previewWithdraw(assets: uint256) -> uint256:
    """
    @notice Shares a withdrawal of `assets` burns (rounded up).
    @param assets USDC units.
    @return LP shares.
    """
    return self._to_shares(assets, exchange_account._total_assets(), True)


@external
@view
def previewRedeem(shares: uint256) -> uint256:
    """
    @notice Assets a redemption of `shares` pays (rounded down).
    @param shares LP shares.
    @return USDC units.
    """
    return self._to_assets(shares, exchange_account._total_assets(), False)


@external
@view
def grid(market: uint256) -> ILiquidityPool.GridParams:
    """
    @notice The keeper's grid parameters for `market`.
    @param market The market id.
    @return (levels, spacing_bps, size_per_level, active).
    """
    return self._grids[market]


@external
@view
def withdraw_window() -> (uint256, uint256, uint256):
    """
    @notice The daily withdrawal window.
    @return (UTC day number, the day's base: total assets at its first withdrawal grown
            to total assets + withdrawn today, assets withdrawn in it).
    """
    w: uint256 = self._window
    return (w >> 192, (w >> 96) & MASK96, w & MASK96)


@external
@view
def grid_market_count() -> uint256:
    """
    @notice Number of markets that ever had grid parameters (see grid_markets(i)).
    @return The count.
    """
    return len(self.grid_markets)


# ---------------------------------------------------------------- entry points

@external
@nonreentrant
def deposit(assets: uint256, receiver: address = msg.sender, min_shares: uint256 = 0) -> uint256:
    """
    @notice Deposit `assets` USDC for LP shares (rounded down); starts the lock-up.
    @param assets USDC units.
    @param receiver Gets the shares; must be the caller ("pool: receiver").
    @param min_shares Revert with "pool: slippage" if fewer shares would be minted.
    @return Shares minted.
    """
    exchange_account._assert_solvent("pool: negative equity")
    ta: uint256 = exchange_account._sync()
    shares: uint256 = self._to_shares(assets, ta, False)
    assert shares >= min_shares, "pool: slippage"
    self._deposit(receiver, assets, shares, ta)
    return shares


@external
@nonreentrant
def mint(shares: uint256, receiver: address = msg.sender, max_assets: uint256 = max_value(uint256)) -> uint256:
    """
    @notice Mint exactly `shares` LP shares for USDC (rounded up); starts the lock-up.
    @param shares LP shares to mint.
    @param receiver Gets the shares; must be the caller ("pool: receiver").
    @param max_assets Revert with "pool: slippage" if more USDC would be taken.
    @return USDC taken.
    """
    exchange_account._assert_solvent("pool: negative equity")
    ta: uint256 = exchange_account._sync()
    assets: uint256 = self._to_assets(shares, ta, True)
    assert assets <= max_assets, "pool: slippage"
    self._deposit(receiver, assets, shares, ta)
    return assets


@external
@nonreentrant
def withdraw(
    assets: uint256, receiver: address = msg.sender, owner: address = msg.sender, max_shares: uint256 = max_value(uint256)
) -> uint256:
    """
    @notice Withdraw exactly `assets` USDC, burning shares (rounded up).
    @param assets USDC units to receive.
    @param receiver Gets the USDC.
    @param owner Whose shares are burned (an allowance is spent if not the caller).
    @param max_shares Revert with "pool: slippage" if more shares would be burned.
    @return Shares burned.
    """
    ta: uint256 = exchange_account._sync()
    shares: uint256 = self._to_shares(assets, ta, True)
    assert shares <= max_shares, "pool: slippage"
    self._withdraw(receiver, owner, assets, shares, ta)
    return shares


@external
@nonreentrant
def redeem(
    shares: uint256, receiver: address = msg.sender, owner: address = msg.sender, min_assets: uint256 = 0
) -> uint256:
    """
    @notice Redeem `shares` for USDC (rounded down).
    @param shares LP shares to burn.
    @param receiver Gets the USDC.
    @param owner Whose shares are burned (an allowance is spent if not the caller).
    @param min_assets Revert with "pool: slippage" if less USDC would be paid.
    @return USDC paid.
    """
    ta: uint256 = exchange_account._sync()
    assets: uint256 = self._to_assets(shares, ta, False)
    assert assets >= min_assets, "pool: slippage"
    self._withdraw(receiver, owner, assets, shares, ta)
    return assets


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transfer of LP shares; reverts while the sender is locked.
    @param to The receiver.
    @param amount LP shares.
    @return True.
    """
    assert block.timestamp >= self.lock_until[msg.sender], "pool: locked"
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transferFrom of LP shares; reverts while `owner` is locked.
    @param owner Whose shares move (the caller's allowance is spent).
    @param to The receiver.
    @param amount LP shares.
    @return True.
    """
    assert block.timestamp >= self.lock_until[owner], "pool: locked"
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


# ---------------------------------------------------------------- admin

@external
def set_grid(market: uint256, levels: uint256, spacing_bps: uint256, size_per_level: uint256, active: bool):
    """
    @notice Admin sets the keeper's grid for `market`.
    @param market The market id.
    @param levels Levels per side (1..100 when active).
    @param spacing_bps Spacing between levels in bps of mark (0 < x < 10000).
    @param size_per_level Size per level in base units.
    @param active Whether the keeper quotes it.
    """
    ownable._check_owner()
    if active:
        assert levels > 0 and levels <= MAX_GRID_LEVELS, "pool: levels"
        assert spacing_bps > 0 and spacing_bps < constants.BPS, "pool: spacing"
        assert size_per_level > 0, "pool: size"
    if not self._grid_known[market]:
        self._grid_known[market] = True
        self.grid_markets.append(market)
    self._grids[market] = ILiquidityPool.GridParams(levels=levels, spacing_bps=spacing_bps, size_per_level=size_per_level, active=active)
    log GridSet(market=market, levels=levels, spacing_bps=spacing_bps, size_per_level=size_per_level, active=active)


@external
def set_agent(agent: address, approved: bool):
    """
    @notice Admin approves or revokes the keeper's agent key on the Exchange.
    @param agent The key.
    @param approved True to approve, False to revoke.
    """
    ownable._check_owner()
    extcall exchange_account.exchange.approve_agent(agent, approved)
    log AgentSet(agent=agent, approved=approved)


@external
def set_deposit_cap(cap: uint256):
    """
    @notice Admin sets the cap on total assets after a deposit.
    @param cap USDC units.
    """
    ownable._check_owner()
    self.deposit_cap = cap
    log DepositCapSet(cap=cap)


@external
def set_lockup(seconds: uint256):
    """
    @notice Admin sets the lock-up applied to later deposits.
    @param seconds At most 30 days.
    """
    ownable._check_owner()
    assert seconds <= constants.MAX_LOCKUP, "pool: lockup"
    self.lockup = seconds
    log LockupSet(lockup=seconds)


@external
def set_daily_withdraw_limit(bps: uint256):
    """
    @notice Admin sets the fraction of the day's base withdrawable per UTC day.
    @param bps 1..10000.
    """
    ownable._check_owner()
    assert bps > 0 and bps <= constants.BPS, "pool: daily limit"
    self.daily_withdraw_bps = bps
    log DailyWithdrawLimitSet(bps=bps)


@external
def set_backstop_reserve(bps: uint256, minimum: uint256):
    """
    @notice Admin sets the backstop reserve withdrawals must leave as free collateral.
    @param bps Share of the pool's initial margin requirement (0..100000).
    @param minimum A fixed amount on top (USDC units).
    """
    ownable._check_owner()
    assert bps <= MAX_BACKSTOP_RESERVE_BPS, "pool: reserve"
    self.backstop_reserve_bps = bps
    self.min_backstop_reserve = minimum
    log BackstopReserveSet(bps=bps, minimum=minimum)


@external
def set_profit_unlock_time(seconds: uint256):
    """
    @notice Admin sets the window over which later gains unlock into the share price.
    @param seconds 0 (at once) .. 30 days.
    """
    ownable._check_owner()
    exchange_account._set_profit_unlock_time(seconds)


# ---------------------------------------------------------------- fees and profit

@external
@nonreentrant
def distribute_fees() -> uint256:
    """
    @notice Anyone (the keeper on a schedule): pull the Exchange's accrued fees (the
            pool's share is credited to its account) and book every gain since the
            last sync as locked profit, released over profit_unlock_time.
    @return Profit still locked after the call (USDC units).
    """
    before: int256 = exchange_account._equity()
    if staticcall exchange_account.exchange.fees_accrued() > 0:
        extcall exchange_account.exchange.distribute_fees()
    income: uint256 = convert(max(exchange_account._equity() - before, 0), uint256)
    self.fee_income += income
    exchange_account._sync()
    locked: uint256 = 0
    end: uint256 = 0
    locked, end = exchange_account._unlock_schedule()
    log FeesCollected(caller=msg.sender, amount=income, locked=locked, unlock_end=end)
    return locked


@external
@view
def profit_unlock_schedule() -> (uint256, uint256):
    """
    @notice Profit not yet in the share price, and when it is fully unlocked.
    @return (USDC still locked, unix time of full unlock).
    """
    return exchange_account._unlock_schedule()


@external
@view
def available_liquidity() -> uint256:
    """
    @notice USDC LP withdrawals can take now (idle plus free collateral above the
            backstop reserve), before the daily limit.
    @return USDC units.
    """
    return self._available()


@external
@view
def backstop_reserve() -> uint256:
    """
    @notice Free collateral the pool keeps for its backstop role now.
    @return USDC units.
    """
    return self._reserve()


# ---------------------------------------------------------------- internals: conversions and limits

@internal
@view
def _to_shares(assets: uint256, ta: uint256, roundup: bool) -> uint256:
    return exchange_account._to_shares(assets, erc20.totalSupply, ta, roundup)


@internal
@view
def _to_assets(shares: uint256, ta: uint256, roundup: bool) -> uint256:
    return exchange_account._to_assets(shares, erc20.totalSupply, ta, roundup)


@internal
@view
def _reserve() -> uint256:
    # free collateral the pool keeps for its backstop role: it scales with the pool's open
    # exposure only (the initial margin of its positions, grid inventory and taken-over
    # liquidations alike), and the fixed minimum applies only while there is any, so a
    # pool with nothing at risk lets every LP (the last one too) take everything out
    im: uint256 = staticcall exchange_account.exchange.margin_requirement(self, True)
    if im == 0:
        return 0
    return im * self.backstop_reserve_bps // constants.BPS + self.min_backstop_reserve


@internal
@view
def _available() -> uint256:
    # what LPs can take now: idle USDC plus free collateral above the backstop reserve
    idle: uint256 = exchange_account._idle()
    free: int256 = min(
        staticcall exchange_account.exchange.free_collateral(self),
        staticcall exchange_account.exchange.collateral(self),
    )
    room: int256 = free - convert(self._reserve(), int256)
    if room > 0:
        return idle + convert(room, uint256)
    return idle


@internal
@view
def _day_window(ta: uint256) -> (uint256, uint256):
    # (base, withdrawn today) of the daily withdrawal limit, `ta` the total assets now.
    # The base is the pool at the day's first withdrawal, grown to the pool as it stands
    # plus what left today: profit unlocking (and trading gains) raise the share price
    # during the day, and a base frozen at the first withdrawal would then refuse the
    # last LP of a 100 % day (a redeem that passed eth_call reverted when mined a second
    # later). Price moves never shrink the room; withdrawals do.
    w: uint256 = self._window
    if block.timestamp // constants.DAY != w >> 192:
        return (min(ta, MASK96), 0)
    used: uint256 = w & MASK96
    return (max((w >> 96) & MASK96, min(ta + used, MASK96)), used)


@internal
@view
def _daily_room(ta: uint256) -> uint256:
    base: uint256 = 0
    used: uint256 = 0
    base, used = self._day_window(ta)
    limit: uint256 = base * self.daily_withdraw_bps // constants.BPS
    if used >= limit:
        return 0
    return limit - used


@internal
@view
def _max_deposit() -> uint256:
    # a deposit goes on into the Exchange account, which refuses deposits while the
    # Exchange is paused: maxDeposit / maxMint say 0 then (ERC-4626: a limit that stops a
    # deposit, even for a while, is in the max views)
    if exchange_account._equity() < 0 or staticcall exchange_account.exchange.paused():
        return 0
    ta: uint256 = exchange_account._total_assets()
    cap: uint256 = self.deposit_cap
    if ta >= cap:
        return 0
    return cap - ta


@internal
@view
def _max_withdraw(owner: address, ta: uint256) -> uint256:
    if block.timestamp < self.lock_until[owner]:
        return 0
    return min(
        min(self._to_assets(erc20.balanceOf[owner], ta, False), self._daily_room(ta)),
        self._available(),
    )


# ---------------------------------------------------------------- internals: deposit and withdrawal

@internal
def _deposit(receiver: address, assets: uint256, shares: uint256, ta: uint256):
    assert assets > 0 and shares > 0, "pool: zero"
    assert ta + assets <= self.deposit_cap, "pool: cap"
    # only for oneself: a deposit starts the receiver's lock-up, so a third party could
    # otherwise lock any address (and shares later moved there)
    assert receiver == msg.sender, "pool: receiver"
    assert extcall IERC20(exchange_account.asset).transferFrom(msg.sender, self, assets, default_return_value=True), "pool: transfer in"
    exchange_account._deposit_in(assets)
    erc20._mint(receiver, shares)
    self.lock_until[receiver] = block.timestamp + self.lockup
    log IERC4626.Deposit(sender=msg.sender, owner=receiver, assets=assets, shares=shares)


@internal
def _withdraw(receiver: address, owner: address, assets: uint256, shares: uint256, ta: uint256):
    assert assets > 0 and shares > 0, "pool: zero"
    assert block.timestamp >= self.lock_until[owner], "pool: locked"
    base: uint256 = 0
    used: uint256 = 0
    base, used = self._day_window(ta)
    used += assets
    assert used <= base * self.daily_withdraw_bps // constants.BPS, "pool: daily limit"
    self._window = ((block.timestamp // constants.DAY) << 192) | (base << 96) | used
    if msg.sender != owner:
        erc20._spend_allowance(owner, msg.sender, shares)
    erc20._burn(owner, shares)
    if exchange_account._idle() < assets:
        assert exchange_account._available() >= assets, "pool: liquidity"
        assert self._available() >= assets, "pool: backstop reserve"
        exchange_account._pull(assets)
    exchange_account._paid_out(assets)
    assert extcall IERC20(exchange_account.asset).transfer(receiver, assets, default_return_value=True), "pool: transfer out"
    log IERC4626.Withdraw(sender=msg.sender, receiver=receiver, owner=owner, assets=assets, shares=shares)
