# pragma version ~=0.4.3
"""
@title MMX market-maker vault
@notice An isolated Exchange account run by a manager for its depositors.
        Deployed by VaultFactory from a blueprint. Depositors (the owner and, while
        deposits are open, followers) get non-transferable shares priced at the
        vault's equity at mark (idle USDC + Exchange equity). The manager trades the
        account through an agent key the vault approves on the Exchange; no function
        lets the manager move money out. The manager's profit share is charged per
        depositor, only on the profit above that depositor's own high-water mark
        (their cost basis), and is paid when they withdraw. A withdrawal the vault's
        free collateral cannot cover is queued; after a grace period anyone can put
        the vault into an unwind (close-only, manager agent revoked, protocol unwind
        agent approved) so no withdrawal can be blocked forever. See docs/vaults.md.
"""

from ethereum.ercs import IERC20
from snekmate.utils import math

from interfaces import IVault

implements: IVault


interface IExchange:
    def deposit(amount: uint256): nonpayable
    def withdraw(amount: uint256): nonpayable
    def approve_agent(agent: address, approved: bool): nonpayable
    def set_close_only(enabled: bool): nonpayable
    def set_leverage_cap(bps: uint256): nonpayable
    def set_position_cap(market: uint256, size: uint256): nonpayable
    def equity(account: address) -> int256: view
    def free_collateral(account: address) -> int256: view
    def collateral(account: address) -> int256: view


interface IVaultFactory:
    def unwind_agent() -> address: view


# ---------------------------------------------------------------- constants

BPS: constant(uint256) = 10_000
# Virtual shares (and one virtual asset unit) against the first-depositor attack.
VIRTUAL_SHARES: constant(uint256) = 10**6
PRICE_SCALE: constant(uint256) = 10**18
MAX_LOCKUP: constant(uint256) = 30 * 86400
# A queued withdrawal not claimable this long after its request lets anyone start an unwind.
UNWIND_GRACE: constant(uint256) = 86400
MAX_LEVELS: constant(uint256) = 200
MAX_CUSTOM: constant(uint256) = 256  # IVault.StrategyConfig.custom

STRATEGY_NONE: constant(uint8) = 0
STRATEGY_GRID: constant(uint8) = 1
STRATEGY_QUOTE: constant(uint8) = 2
STRATEGY_DELTA_NEUTRAL: constant(uint8) = 3
STRATEGY_CUSTOM: constant(uint8) = 4


# ---------------------------------------------------------------- types

struct WithdrawalRequest:
    depositor: address
    shares: uint256
    # the shares' value at request time: the payout is min(this, value at claim)
    value: uint256
    # the part of the depositor's high-water mark these shares carry
    basis: uint256
    requested_at: uint256


# ---------------------------------------------------------------- events

event Deposit:
    depositor: indexed(address)
    assets: uint256
    shares: uint256
    lock_until: uint256

event Withdraw:
    depositor: indexed(address)
    shares: uint256
    assets: uint256
    fee: uint256

event WithdrawalQueued:
    request_id: indexed(uint256)
    depositor: indexed(address)
    shares: uint256
    value: uint256
    basis: uint256

event WithdrawalClaimed:
    request_id: indexed(uint256)
    depositor: indexed(address)
    shares: uint256
    assets: uint256
    fee: uint256

event StrategyChanged:
    manager: indexed(address)
    kind: uint8
    market: uint256
    levels: uint256
    lower_price: uint256
    upper_price: uint256
    spacing_bps: uint256
    size_per_level: uint256
    spread_bps: uint256
    hedge_threshold: uint256
    custom: Bytes[MAX_CUSTOM]

event ManagerSet:
    old_manager: indexed(address)
    new_manager: indexed(address)

event AgentSet:
    old_agent: indexed(address)
    new_agent: indexed(address)

event ManagerPaused:
    by: indexed(address)

event ManagerResumed:
    by: indexed(address)

event DepositsOpenSet:
    open: bool

event LockupSet:
    lockup: uint256

event DrawdownLimitSet:
    bps: uint256

event LeverageCapSet:
    bps: uint256

event PositionCapSet:
    market: indexed(uint256)
    size: uint256

event Checkpoint:
    price: uint256
    peak: uint256

event DrawdownHalt:
    price: uint256
    peak: uint256

event HaltCleared:
    peak: uint256

event UnwindStarted:
    request_id: indexed(uint256)
    caller: indexed(address)
    unwind_agent: address

event UnwindEnded:
    by: indexed(address)


# ---------------------------------------------------------------- state

exchange: public(immutable(IExchange))
asset: public(immutable(IERC20))
factory: public(immutable(address))
owner: public(immutable(address))
profit_share_bps: public(immutable(uint256))
min_owner_stake_bps: public(immutable(uint256))

name: public(String[64])
manager: public(address)
agent: public(address)
manager_paused: public(bool)
deposits_open: public(bool)
lockup: public(uint256)
drawdown_limit_bps: public(uint256)
strategy: public(IVault.StrategyConfig)

# shares (non-transferable)
balanceOf: public(HashMap[address, uint256])
totalSupply: public(uint256)
# shares escrowed in queued withdrawals (still part of totalSupply until claimed)
pending_shares: public(uint256)
# per-depositor high-water mark: USDC cost basis of their remaining shares
hwm: public(HashMap[address, uint256])
lock_until: public(HashMap[address, uint256])

# FIFO withdrawal queue: ids in [queue_head, queue_tail)
requests: public(HashMap[uint256, WithdrawalRequest])
queue_head: public(uint256)
queue_tail: public(uint256)

# drawdown guard (share price scaled by PRICE_SCALE)
peak_price: public(uint256)
halted: public(bool)
# forced unwind after a queued withdrawal outlived the grace period
unwinding: public(bool)
unwind_agent: public(address)


@deploy
def __init__(
    exchange_: address,
    asset_: address,
    owner_: address,
    manager_: address,
    name_: String[64],
    profit_share_bps_: uint256,
    min_owner_stake_bps_: uint256,
    lockup_: uint256,
    drawdown_limit_bps_: uint256,
):
    """
    @notice Create a vault (normally through VaultFactory.create_vault).
    @param exchange_ The Exchange whose account this vault is.
    @param asset_ USDC.
    @param owner_ The leader; must keep min_owner_stake_bps of the shares.
    @param manager_ Trades the account; approved as its first agent.
    @param name_ Display name.
    @param profit_share_bps_ Manager's share of each depositor's profit (<= 10000).
    @param min_owner_stake_bps_ Minimum owner share of the active shares (<= 10000).
    @param lockup_ Seconds after each deposit before the depositor may withdraw.
    @param drawdown_limit_bps_ Drop of the share price below its peak that halts trading.
    """
    assert owner_ != empty(address), "vault: owner"
    assert manager_ != empty(address), "vault: manager"
    assert profit_share_bps_ <= BPS, "vault: profit share"
    assert min_owner_stake_bps_ <= BPS, "vault: min stake"
    assert lockup_ <= MAX_LOCKUP, "vault: lockup"
    assert drawdown_limit_bps_ > 0 and drawdown_limit_bps_ <= BPS, "vault: drawdown limit"
    exchange = IExchange(exchange_)
    asset = IERC20(asset_)
    factory = msg.sender
    owner = owner_
    profit_share_bps = profit_share_bps_
    min_owner_stake_bps = min_owner_stake_bps_
    self.name = name_
    self.manager = manager_
    self.lockup = lockup_
    self.drawdown_limit_bps = drawdown_limit_bps_
    self.deposits_open = True
    assert extcall asset.approve(exchange_, max_value(uint256), default_return_value=True)
    self.agent = manager_
    extcall exchange.approve_agent(manager_, True)
    log ManagerSet(old_manager=empty(address), new_manager=manager_)
    log AgentSet(old_agent=empty(address), new_agent=manager_)


# ---------------------------------------------------------------- views

@internal
@view
def _total_assets() -> uint256:
    eq: int256 = staticcall exchange.equity(self)
    idle: uint256 = staticcall asset.balanceOf(self)
    if eq > 0:
        return idle + convert(eq, uint256)
    return idle


@internal
@view
def _available() -> uint256:
    # Exchange.withdraw needs both: collateral >= amount and margin after it
    free: int256 = min(staticcall exchange.free_collateral(self), staticcall exchange.collateral(self))
    idle: uint256 = staticcall asset.balanceOf(self)
    if free > 0:
        return idle + convert(free, uint256)
    return idle


@internal
@view
def _to_shares(assets: uint256, total_assets: uint256) -> uint256:
    # rounds down: the depositor gets no more shares than paid for
    return math._mul_div(assets, self.totalSupply + VIRTUAL_SHARES, total_assets + 1, False)


@internal
@view
def _to_assets(shares: uint256, total_assets: uint256) -> uint256:
    # rounds down: the withdrawer gets no more than the shares are worth
    return math._mul_div(shares, total_assets + 1, self.totalSupply + VIRTUAL_SHARES, False)


@internal
@view
def _fee(depositor: address, gross: uint256, basis: uint256) -> uint256:
    if gross <= basis or depositor == self.manager:
        return 0
    return (gross - basis) * profit_share_bps // BPS


@external
@view
def total_assets() -> uint256:
    """
    @notice Idle USDC plus the vault's Exchange equity at mark (0 if negative).
    """
    return self._total_assets()


@external
@view
def available_liquidity() -> uint256:
    """
    @notice USDC a withdrawal can take now: idle USDC plus Exchange free collateral.
    """
    return self._available()


@external
@view
def share_price() -> uint256:
    """
    @notice Value of one share in USDC units, scaled by 1e18 (virtual shares included).
    """
    return math._mul_div(self._total_assets() + 1, PRICE_SCALE, self.totalSupply + VIRTUAL_SHARES, False)


@external
@view
def convert_to_shares(assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `assets` would mint now (rounded down).
    """
    return self._to_shares(assets, self._total_assets())


@external
@view
def convert_to_assets(shares: uint256) -> uint256:
    """
    @notice Value of `shares` now, before the profit share (rounded down).
    """
    return self._to_assets(shares, self._total_assets())


@external
@view
def preview_withdraw(depositor: address, shares: uint256) -> (uint256, uint256):
    """
    @notice (payout, profit share) an instant withdrawal of `shares` by `depositor`
            would give now.
    """
    bal: uint256 = self.balanceOf[depositor]
    assert shares <= bal, "vault: balance"
    value: uint256 = self._to_assets(shares, self._total_assets())
    basis: uint256 = math._mul_div(self.hwm[depositor], shares, bal, False) if bal > 0 else 0
    fee: uint256 = self._fee(depositor, value, basis)
    return (value - fee, fee)


@external
@view
def queue_length() -> uint256:
    """
    @notice Number of queued withdrawals not yet claimed.
    """
    return self.queue_tail - self.queue_head


@external
@view
def unwind_due() -> bool:
    """
    @notice True when the oldest queued withdrawal has outlived the grace period.
    """
    head: uint256 = self.queue_head
    if head == self.queue_tail:
        return False
    return block.timestamp >= self.requests[head].requested_at + UNWIND_GRACE


# ---------------------------------------------------------------- internals

@internal
def _pull(amount: uint256):
    # make `amount` USDC idle, taking the shortfall from the Exchange account
    idle: uint256 = staticcall asset.balanceOf(self)
    if idle < amount:
        extcall exchange.withdraw(amount - idle)


@internal
def _pay(depositor: address, gross: uint256, fee: uint256):
    self._pull(gross)
    if gross > fee:
        assert extcall asset.transfer(depositor, gross - fee, default_return_value=True)
    if fee > 0:
        assert extcall asset.transfer(self.manager, fee, default_return_value=True)


@internal
def _set_agent(new_agent: address):
    old: address = self.agent
    if old != empty(address):
        extcall exchange.approve_agent(old, False)
    if new_agent != empty(address):
        extcall exchange.approve_agent(new_agent, True)
    self.agent = new_agent
    log AgentSet(old_agent=old, new_agent=new_agent)


@internal
def _agent_live() -> bool:
    return not self.manager_paused and not self.unwinding


@internal
def _check_owner_stake(owner_shares: uint256, active_shares: uint256):
    assert owner_shares * BPS >= min_owner_stake_bps * active_shares, "vault: owner stake"


# ---------------------------------------------------------------- depositors

@external
@nonreentrant
def deposit(assets: uint256, min_shares: uint256 = 0) -> uint256:
    """
    @notice Deposit USDC for shares priced at the vault's equity. The owner may
            always deposit; followers only while deposits are open and while the
            owner keeps the minimum stake. Starts the caller's lock-up.
    @param assets USDC units.
    @param min_shares Revert if fewer shares would be minted (slippage bound).
    @return Shares minted.
    """
    assert assets > 0, "vault: zero assets"
    assert not self.halted and not self.unwinding, "vault: halted"
    supply_before: uint256 = self.totalSupply
    shares: uint256 = self._to_shares(assets, self._total_assets())
    assert shares > 0, "vault: zero shares"
    assert shares >= min_shares, "vault: slippage"
    if msg.sender != owner:
        assert self.deposits_open, "vault: deposits closed"
        self._check_owner_stake(self.balanceOf[owner], self.totalSupply - self.pending_shares + shares)

    assert extcall asset.transferFrom(msg.sender, self, assets, default_return_value=True)
    extcall exchange.deposit(assets)

    self.balanceOf[msg.sender] += shares
    self.totalSupply += shares
    self.hwm[msg.sender] += assets
    until: uint256 = block.timestamp + self.lockup
    self.lock_until[msg.sender] = until
    if supply_before == 0:
        # a fresh start (first deposit, or after everyone left): the peak restarts
        self.peak_price = math._mul_div(self._total_assets() + 1, PRICE_SCALE, self.totalSupply + VIRTUAL_SHARES, False)
    log Deposit(depositor=msg.sender, assets=assets, shares=shares, lock_until=until)
    return shares


@external
@nonreentrant
def withdraw(shares: uint256, min_assets: uint256 = 0) -> uint256:
    """
    @notice Redeem `shares`. Paid at once if the queue is empty and idle USDC plus
            free collateral cover the value; otherwise queued (see claim). The
            manager's profit share is taken from the part above the caller's
            high-water mark.
    @param shares Shares to redeem (after the lock-up).
    @param min_assets Slippage bound on an instant payout (not applied when queued).
    @return USDC paid to the caller now (0 when queued).
    """
    assert shares > 0, "vault: zero shares"
    bal: uint256 = self.balanceOf[msg.sender]
    assert shares <= bal, "vault: balance"
    assert block.timestamp >= self.lock_until[msg.sender], "vault: locked"
    active: uint256 = self.totalSupply - self.pending_shares
    if msg.sender == owner:
        self._check_owner_stake(bal - shares, active - shares)

    value: uint256 = self._to_assets(shares, self._total_assets())
    basis: uint256 = math._mul_div(self.hwm[msg.sender], shares, bal, False)
    self.hwm[msg.sender] -= basis
    self.balanceOf[msg.sender] = bal - shares

    if self.queue_head == self.queue_tail and self._available() >= value:
        fee: uint256 = self._fee(msg.sender, value, basis)
        assert value - fee >= min_assets, "vault: slippage"
        self.totalSupply -= shares
        self._pay(msg.sender, value, fee)
        log Withdraw(depositor=msg.sender, shares=shares, assets=value - fee, fee=fee)
        return value - fee

    request_id: uint256 = self.queue_tail
    self.requests[request_id] = WithdrawalRequest(
        depositor=msg.sender, shares=shares, value=value, basis=basis, requested_at=block.timestamp
    )
    self.queue_tail = request_id + 1
    self.pending_shares += shares
    log WithdrawalQueued(request_id=request_id, depositor=msg.sender, shares=shares, value=value, basis=basis)
    return 0


@external
@nonreentrant
def claim(request_id: uint256) -> uint256:
    """
    @notice Pay the oldest queued withdrawal once liquidity covers it. Anyone may
            call; the USDC goes to the depositor. Payout = min(value at request,
            value at claim) minus the profit share on the part above the basis.
    @param request_id Must be queue_head (FIFO).
    @return USDC paid to the depositor.
    """
    assert request_id < self.queue_tail, "vault: no request"
    assert request_id == self.queue_head, "vault: not head"
    req: WithdrawalRequest = self.requests[request_id]
    value: uint256 = min(req.value, self._to_assets(req.shares, self._total_assets()))
    assert self._available() >= value, "vault: insufficient liquidity"
    fee: uint256 = self._fee(req.depositor, value, req.basis)
    self.totalSupply -= req.shares
    self.pending_shares -= req.shares
    self.queue_head = request_id + 1
    self.requests[request_id] = empty(WithdrawalRequest)
    self._pay(req.depositor, value, fee)
    log WithdrawalClaimed(request_id=request_id, depositor=req.depositor, shares=req.shares, assets=value - fee, fee=fee)
    return value - fee


@external
def start_unwind():
    """
    @notice Anyone may call once the oldest queued withdrawal has waited
            UNWIND_GRACE: the vault goes close-only, the manager's agent is revoked
            and the factory's unwind agent (the protocol keeper) is approved to
            close positions in steps.
    """
    head: uint256 = self.queue_head
    assert head < self.queue_tail, "vault: no queue"
    assert block.timestamp >= self.requests[head].requested_at + UNWIND_GRACE, "vault: grace"
    assert not self.unwinding, "vault: unwinding"
    self.unwinding = True
    extcall exchange.set_close_only(True)
    old: address = self.agent
    if old != empty(address):
        extcall exchange.approve_agent(old, False)
    ua: address = staticcall IVaultFactory(factory).unwind_agent()
    if ua != empty(address):
        extcall exchange.approve_agent(ua, True)
    self.unwind_agent = ua
    log UnwindStarted(request_id=head, caller=msg.sender, unwind_agent=ua)


@external
def end_unwind():
    """
    @notice Owner ends an unwind once the queue is empty: the unwind agent is
            revoked, close-only lifted (unless the drawdown halt holds) and the
            manager's agent restored (unless paused).
    """
    assert msg.sender == owner, "vault: not owner"
    assert self.unwinding, "vault: not unwinding"
    assert self.queue_head == self.queue_tail, "vault: queue"
    self.unwinding = False
    ua: address = self.unwind_agent
    if ua != empty(address):
        extcall exchange.approve_agent(ua, False)
    self.unwind_agent = empty(address)
    if not self.halted:
        extcall exchange.set_close_only(False)
    if not self.manager_paused and self.agent != empty(address):
        extcall exchange.approve_agent(self.agent, True)
    log UnwindEnded(by=msg.sender)


# ---------------------------------------------------------------- risk

@external
def checkpoint() -> bool:
    """
    @notice Anyone may call. Raises the share-price peak, or, when the share price
            has fallen more than drawdown_limit_bps below it, halts the vault:
            close-only on the Exchange (only reduce-only fills settle).
    @return Whether the vault is halted.
    """
    if self.totalSupply == 0:
        return self.halted
    price: uint256 = math._mul_div(self._total_assets() + 1, PRICE_SCALE, self.totalSupply + VIRTUAL_SHARES, False)
    peak: uint256 = self.peak_price
    if price > peak:
        self.peak_price = price
        log Checkpoint(price=price, peak=price)
    elif not self.halted and price * BPS < peak * (BPS - self.drawdown_limit_bps):
        self.halted = True
        extcall exchange.set_close_only(True)
        log DrawdownHalt(price=price, peak=peak)
    else:
        log Checkpoint(price=price, peak=peak)
    return self.halted


@external
def clear_halt():
    """
    @notice Owner lifts a drawdown halt; the peak restarts at the current price.
    """
    assert msg.sender == owner, "vault: not owner"
    assert self.halted, "vault: not halted"
    self.halted = False
    peak: uint256 = math._mul_div(self._total_assets() + 1, PRICE_SCALE, self.totalSupply + VIRTUAL_SHARES, False)
    self.peak_price = peak
    if not self.unwinding:
        extcall exchange.set_close_only(False)
    log HaltCleared(peak=peak)


@external
def set_leverage_cap(bps: uint256):
    """
    @notice Owner sets the Exchange leverage cap for the vault account (0 = none).
    """
    assert msg.sender == owner, "vault: not owner"
    extcall exchange.set_leverage_cap(bps)
    log LeverageCapSet(bps=bps)


@external
def set_position_cap(market: uint256, size: uint256):
    """
    @notice Owner sets the Exchange position cap (base units) for a market (0 = none).
    """
    assert msg.sender == owner, "vault: not owner"
    extcall exchange.set_position_cap(market, size)
    log PositionCapSet(market=market, size=size)


@external
def set_drawdown_limit(bps: uint256):
    """
    @notice Owner sets the drawdown limit in bps of the peak share price.
    """
    assert msg.sender == owner, "vault: not owner"
    assert bps > 0 and bps <= BPS, "vault: drawdown limit"
    self.drawdown_limit_bps = bps
    log DrawdownLimitSet(bps=bps)


# ---------------------------------------------------------------- owner / manager

@external
def set_deposits_open(open: bool):
    """
    @notice Owner opens or closes deposits by followers.
    """
    assert msg.sender == owner, "vault: not owner"
    self.deposits_open = open
    log DepositsOpenSet(open=open)


@external
def set_lockup(seconds: uint256):
    """
    @notice Owner sets the lock-up applied to later deposits (<= 30 days).
    """
    assert msg.sender == owner, "vault: not owner"
    assert seconds <= MAX_LOCKUP, "vault: lockup"
    self.lockup = seconds
    log LockupSet(lockup=seconds)


@external
def set_manager(new_manager: address):
    """
    @notice Owner replaces the manager; the old agent is revoked and the new
            manager becomes the agent (approved unless paused or unwinding).
    """
    assert msg.sender == owner, "vault: not owner"
    assert new_manager != empty(address), "vault: manager"
    old: address = self.manager
    self.manager = new_manager
    log ManagerSet(old_manager=old, new_manager=new_manager)
    if self._agent_live():
        self._set_agent(new_manager)
    else:
        self.agent = new_manager
        log AgentSet(old_agent=empty(address), new_agent=new_manager)


@external
def pause_manager():
    """
    @notice Owner stops the manager: its agent is revoked on the Exchange and it
            can no longer change the agent or the strategy.
    """
    assert msg.sender == owner, "vault: not owner"
    assert not self.manager_paused, "vault: paused"
    self.manager_paused = True
    if not self.unwinding and self.agent != empty(address):
        extcall exchange.approve_agent(self.agent, False)
    log ManagerPaused(by=msg.sender)


@external
def resume_manager():
    """
    @notice Owner resumes the manager; its agent is approved again.
    """
    assert msg.sender == owner, "vault: not owner"
    assert self.manager_paused, "vault: not paused"
    self.manager_paused = False
    if not self.unwinding and self.agent != empty(address):
        extcall exchange.approve_agent(self.agent, True)
    log ManagerResumed(by=msg.sender)


@external
def set_agent(new_agent: address):
    """
    @notice Manager replaces its signing agent key on the Exchange.
    """
    assert msg.sender == self.manager, "vault: not manager"
    assert self._agent_live(), "vault: manager paused"
    self._set_agent(new_agent)


@external
def set_strategy(config: IVault.StrategyConfig):
    """
    @notice Manager publishes the strategy config the keeper runs for this vault.
    """
    assert msg.sender == self.manager, "vault: not manager"
    assert not self.manager_paused, "vault: manager paused"
    kind: uint8 = config.kind
    if kind == STRATEGY_GRID:
        assert config.levels > 0 and config.levels <= MAX_LEVELS, "vault: levels"
        assert config.size_per_level > 0, "vault: size"
        if config.upper_price == 0 and config.lower_price == 0:
            assert config.spacing_bps > 0 and config.spacing_bps < BPS, "vault: spacing"
        else:
            assert config.lower_price > 0 and config.lower_price < config.upper_price, "vault: range"
    elif kind == STRATEGY_QUOTE:
        assert config.levels > 0 and config.levels <= MAX_LEVELS, "vault: levels"
        assert config.size_per_level > 0, "vault: size"
        assert config.spread_bps > 0 and config.spread_bps < BPS, "vault: spread"
    elif kind == STRATEGY_DELTA_NEUTRAL:
        assert config.hedge_threshold > 0, "vault: hedge threshold"
    else:
        assert kind == STRATEGY_NONE or kind == STRATEGY_CUSTOM, "vault: kind"
    self.strategy = config
    log StrategyChanged(
        manager=msg.sender,
        kind=kind,
        market=config.market,
        levels=config.levels,
        lower_price=config.lower_price,
        upper_price=config.upper_price,
        spacing_bps=config.spacing_bps,
        size_per_level=config.size_per_level,
        spread_bps=config.spread_bps,
        hedge_threshold=config.hedge_threshold,
        custom=config.custom,
    )
