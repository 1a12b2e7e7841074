# pragma version ~=0.4.3
# pragma optimize codesize
"""
@title MMX market-maker vault
@notice An isolated Exchange account run by a manager for its depositors.
        Deployed by VaultFactory from a blueprint. Depositors (the owner and, while
        deposits are open, followers) get non-transferable shares priced at the
        vault's equity at mark (idle USDC + Exchange equity, through the shared
        exchange_account module). The manager trades the account through an agent key
        the vault approves on the Exchange. The manager's profit share is charged per
        depositor, only on the profit above that depositor's own high-water mark, and
        is crystallised to the manager of record whenever the manager changes. A
        revoked agent key is retired for good and every revocation bumps the vault's
        nonce floor, so no old order of a manager revives. Payouts that cannot be
        delivered become claimable balances (pull payments), so one recipient never
        jams the FIFO withdrawal queue. A withdrawal the vault's free collateral cannot
        cover is queued; after a grace period anyone can put the vault into an unwind
        (close-only, manager agent revoked, protocol unwind agent approved) so no
        withdrawal can be blocked forever. See docs/vaults.md.
"""

from ethereum.ercs import IERC20
from snekmate.utils import math

import constants
import exchange_account
from interfaces import IExchange
from interfaces import IVault
from interfaces import IVaultFactory

implements: IVault

initializes: exchange_account

exports: (
    exchange_account.exchange,
    exchange_account.asset,
    exchange_account.profit_unlock_time,
    exchange_account.reserved,
)


# ---------------------------------------------------------------- constants

PRICE_SCALE: constant(uint256) = 10**18
# A queued withdrawal not claimable this long after its request lets anyone start an unwind.
UNWIND_GRACE: constant(uint256) = constants.DAY
MAX_LEVELS: constant(uint256) = 200
MAX_CUSTOM: constant(uint256) = 256  # IVault.StrategyConfig.custom
# Manager changes a vault may see in its life: each is an epoch the lazy fee
# crystallisation walks for a depositor who has not acted since.
MAX_EPOCHS: constant(uint256) = 64
# Keeper nonces are microseconds since the epoch (offchain/keeper/runners/signer.py).
NONCE_PER_SECOND: constant(uint256) = 10**6
# The vault's fills must be this close to the mark (Exchange trade guard): a manager who
# trades the vault against an accomplice moves at most this share of the volume to him.
DEFAULT_MARK_DISTANCE_BPS: constant(uint256) = 50
MAX_MARK_DISTANCE_BPS: constant(uint256) = 100

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
    # the manager of record at request time: the profit share on this request is his
    fee_to: address

struct Epoch:
    # the manager whose tenure ended at this change, and the share price then
    manager: address
    price: uint256


# ---------------------------------------------------------------- state

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
_shares: HashMap[address, uint256]
totalSupply: public(uint256)
# shares escrowed in queued withdrawals (still part of totalSupply until claimed)
pending_shares: public(uint256)
# per-depositor high-water mark: USDC cost basis of their remaining shares
_hwm: HashMap[address, uint256]
lock_until: public(HashMap[address, uint256])
# profit-share shares crystallised to past and present managers (no profit share on them)
fee_shares: public(HashMap[address, uint256])
# their sum: outside the owner-stake rule (a manager's pay, not a follower's stake)
total_fee_shares: public(uint256)
# manager changes: epochs[i] closed epoch i; a depositor is crystallised up to epoch_of
epochs: public(HashMap[uint256, Epoch])
epoch_count: public(uint256)
epoch_of: public(HashMap[address, uint256])
# payouts whose transfer failed, claimable by their recipient (pull payments)
owed: public(HashMap[address, uint256])
# agent keys once revoked are never approved again (their signed orders stay void)
retired_agent: public(HashMap[address, bool])
# the Exchange trade guard: max distance of a fill from the mark, and the equity floor
# (the drawdown limit as equity) last set
max_mark_distance_bps: public(uint256)
equity_floor: public(uint256)

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

event FeeCrystallised:
    depositor: indexed(address)
    manager: indexed(address)
    epoch: uint256
    shares: uint256
    fee: uint256

event PaymentOwed:
    recipient: indexed(address)
    amount: uint256

event OwedClaimed:
    recipient: indexed(address)
    to: indexed(address)
    amount: uint256

event OrdersCancelled:
    min_nonce: uint256

event CounterpartyForbidden:
    counterparty: indexed(address)

event MarkDistanceSet:
    bps: uint256

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
    assert profit_share_bps_ <= constants.BPS, "vault: profit share"
    assert min_owner_stake_bps_ <= constants.BPS, "vault: min stake"
    assert lockup_ <= constants.MAX_LOCKUP, "vault: lockup"
    assert drawdown_limit_bps_ > 0 and drawdown_limit_bps_ <= constants.BPS, "vault: drawdown limit"
    # vault gains are trading PnL at mark, not lumpy: they count at once by default
    exchange_account.__init__(exchange_, asset_, 0)
    factory = msg.sender
    owner = owner_
    profit_share_bps = profit_share_bps_
    min_owner_stake_bps = min_owner_stake_bps_
    self.name = name_
    self.manager = manager_
    self.lockup = lockup_
    self.drawdown_limit_bps = drawdown_limit_bps_
    self.deposits_open = True
    self.agent = manager_
    extcall exchange_account.exchange.approve_agent(manager_, True)
    # no shares yet: the guard starts with the distance only; owner and manager forbidden
    # (direct calls: internal helpers used here would be copied into the blueprint's initcode)
    self.max_mark_distance_bps = DEFAULT_MARK_DISTANCE_BPS
    extcall exchange_account.exchange.set_trade_guard(DEFAULT_MARK_DISTANCE_BPS, 0)
    extcall exchange_account.exchange.set_forbidden_counterparty(owner_, True)
    extcall exchange_account.exchange.set_forbidden_counterparty(manager_, True)
    log CounterpartyForbidden(counterparty=owner_)
    log CounterpartyForbidden(counterparty=manager_)
    log ManagerSet(old_manager=empty(address), new_manager=manager_)
    log AgentSet(old_agent=empty(address), new_agent=manager_)
    log MarkDistanceSet(bps=DEFAULT_MARK_DISTANCE_BPS)


# ---------------------------------------------------------------- views

@external
@view
def total_assets() -> uint256:
    """
    @notice Idle USDC plus the vault's Exchange equity at mark (0 if negative), less
            USDC owed to claimants and profit still unlocking.
    @return USDC units.
    """
    return exchange_account._total_assets()


@external
@view
def available_liquidity() -> uint256:
    """
    @notice USDC a withdrawal can take now: idle USDC plus Exchange free collateral.
    @return USDC units.
    """
    return exchange_account._available()


@external
@view
def share_price() -> uint256:
    """
    @notice Value of one share in USDC units, scaled by 1e18 (virtual shares included).
    @return The share price.
    """
    return self._price(exchange_account._total_assets())


@external
@view
def convert_to_shares(assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `assets` would mint now (rounded down).
    @param assets USDC units.
    @return Shares.
    """
    return exchange_account._to_shares(assets, self.totalSupply, exchange_account._total_assets(), False)


@external
@view
def convert_to_assets(shares: uint256) -> uint256:
    """
    @notice Value of `shares` now, before the profit share (rounded down).
    @param shares Shares.
    @return USDC units.
    """
    return exchange_account._to_assets(shares, self.totalSupply, exchange_account._total_assets(), False)


@external
@view
def preview_withdraw(depositor: address, shares: uint256) -> (uint256, uint256):
    """
    @notice (payout, profit share) an instant withdrawal of `shares` by `depositor`
            would give now, after crystallising earlier managers' profit share.
    @param depositor The holder.
    @param shares Shares to redeem (at most the balance after crystallisation).
    @return (USDC to the depositor, USDC to the manager).
    """
    bal: uint256 = 0
    basis: uint256 = 0
    bal, basis = self._crystallised(depositor)
    assert shares <= bal, "vault: balance"
    value: uint256 = exchange_account._to_assets(shares, self.totalSupply, exchange_account._total_assets(), False)
    part: uint256 = math._mul_div(basis, shares, bal, False) if bal > 0 else 0
    fee: uint256 = self._fee(depositor, self.manager, value, part)
    return (value - fee, fee)


@external
@view
def balanceOf(depositor: address) -> uint256:
    """
    @notice The depositor's shares, after crystallising the profit share of every
            manager change since their last action (what withdraw can take).
    @param depositor The holder.
    @return Shares.
    """
    bal: uint256 = 0
    basis: uint256 = 0
    bal, basis = self._crystallised(depositor)
    return bal


@external
@view
def hwm(depositor: address) -> uint256:
    """
    @notice The depositor's high-water mark: USDC cost basis of their shares, after
            crystallisation (the profit share is charged only above it).
    @param depositor The holder.
    @return USDC units.
    """
    bal: uint256 = 0
    basis: uint256 = 0
    bal, basis = self._crystallised(depositor)
    return basis


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
def queue_length() -> uint256:
    """
    @notice Number of queued withdrawals not yet claimed.
    @return The count.
    """
    return self.queue_tail - self.queue_head


@external
@view
def unwind_due() -> bool:
    """
    @notice True when the oldest queued withdrawal has outlived the grace period.
    @return Whether start_unwind may be called.
    """
    head: uint256 = self.queue_head
    if head == self.queue_tail:
        return False
    return block.timestamp >= self.requests[head].requested_at + UNWIND_GRACE


# ---------------------------------------------------------------- depositors

@external
@nonreentrant
def deposit(assets: uint256, min_shares: uint256 = 0) -> uint256:
    """
    @notice Deposit USDC for shares priced at the vault's equity. The owner may
            always deposit; followers only while deposits are open and while the
            owner keeps the minimum stake. Refused while the vault's Exchange equity
            is negative (the depositor would pay the deficit). Starts the caller's
            lock-up; only the caller can deposit for itself.
    @param assets USDC units.
    @param min_shares Revert if fewer shares would be minted (slippage bound).
    @return Shares minted.
    """
    assert assets > 0, "vault: zero assets"
    assert not self.halted and not self.unwinding, "vault: halted"
    exchange_account._assert_solvent("vault: negative equity")
    ta: uint256 = exchange_account._sync()
    supply_before: uint256 = self.totalSupply
    shares: uint256 = exchange_account._to_shares(assets, supply_before, ta, False)
    assert shares > 0, "vault: zero shares"
    assert shares >= min_shares, "vault: slippage"
    if msg.sender != owner:
        assert self.deposits_open, "vault: deposits closed"
        self._check_owner_stake(self._shares[owner], supply_before - self.pending_shares - self.total_fee_shares + shares)
    self._crystallise(msg.sender)

    assert extcall IERC20(exchange_account.asset).transferFrom(msg.sender, self, assets, default_return_value=True), "vault: transfer in"
    exchange_account._deposit_in(assets)

    self._shares[msg.sender] += shares
    self.totalSupply = supply_before + shares
    self._hwm[msg.sender] += assets
    until: uint256 = block.timestamp + self.lockup
    self.lock_until[msg.sender] = until
    if supply_before == 0:
        # a fresh start (first deposit, or after everyone left): the peak restarts
        self.peak_price = self._price(ta + assets)
    self._update_guard()
    log Deposit(depositor=msg.sender, assets=assets, shares=shares, lock_until=until)
    return shares


@external
@nonreentrant
def withdraw(shares: uint256, min_assets: uint256 = 0) -> uint256:
    """
    @notice Redeem `shares`. Paid at once if the queue is empty and idle USDC plus
            free collateral cover the value; otherwise queued (see claim). The
            manager's profit share is taken from the part above the caller's
            high-water mark (earlier managers' part was crystallised to them).
    @param shares Shares to redeem (after the lock-up).
    @param min_assets Slippage bound on an instant payout (not applied when queued).
    @return USDC paid to the caller now (0 when queued).
    """
    assert shares > 0, "vault: zero shares"
    assert block.timestamp >= self.lock_until[msg.sender], "vault: locked"
    self._crystallise(msg.sender)
    bal: uint256 = self._shares[msg.sender]
    assert shares <= bal, "vault: balance"
    if msg.sender == owner:
        active: uint256 = self.totalSupply - self.pending_shares - self.total_fee_shares
        self._check_owner_stake(bal - shares, active - shares)
    basis: uint256 = math._mul_div(self._hwm[msg.sender], shares, bal, False)
    self._hwm[msg.sender] -= basis
    self._shares[msg.sender] = bal - shares
    return self._redeem(msg.sender, shares, basis, self.manager, min_assets)


@external
@nonreentrant
def withdraw_fee_shares(shares: uint256, min_assets: uint256 = 0) -> uint256:
    """
    @notice A manager (past or present) redeems profit-share shares crystallised to
            it; no lock-up and no profit share on them. Paid or queued as withdraw.
    @param shares Fee shares to redeem.
    @param min_assets Slippage bound on an instant payout.
    @return USDC paid now (0 when queued).
    """
    assert shares > 0, "vault: zero shares"
    assert shares <= self.fee_shares[msg.sender], "vault: balance"
    self.fee_shares[msg.sender] -= shares
    self.total_fee_shares -= shares
    return self._redeem(msg.sender, shares, max_value(uint256), empty(address), min_assets)


@external
@nonreentrant
def claim(request_id: uint256) -> uint256:
    """
    @notice Pay the oldest queued withdrawal once liquidity covers it. Anyone may
            call. Payout = min(value at request, value at claim) minus the profit
            share (to the manager of record at request time) on the part above the
            basis. A transfer that fails leaves the amount claimable by its
            recipient (claim_owed) and never blocks the queue.
    @param request_id Must be queue_head (FIFO).
    @return USDC paid or owed to the depositor.
    """
    assert request_id < self.queue_tail, "vault: no request"
    assert request_id == self.queue_head, "vault: not head"
    req: WithdrawalRequest = self.requests[request_id]
    ta: uint256 = exchange_account._sync()
    value: uint256 = min(req.value, exchange_account._to_assets(req.shares, self.totalSupply, ta, False))
    assert exchange_account._available() >= value, "vault: insufficient liquidity"
    fee: uint256 = self._fee(req.depositor, req.fee_to, value, req.basis)
    self.totalSupply -= req.shares
    self.pending_shares -= req.shares
    self.queue_head = request_id + 1
    self.requests[request_id] = empty(WithdrawalRequest)
    self._pay(req.depositor, req.fee_to, value, fee)
    self._update_guard()
    log WithdrawalClaimed(request_id=request_id, depositor=req.depositor, shares=req.shares, assets=value - fee, fee=fee)
    return value - fee


@external
@nonreentrant
def claim_owed(to: address) -> uint256:
    """
    @notice Collect the caller's payouts whose transfer failed, to any address.
    @param to Receives the USDC (e.g. another address when the caller is blacklisted).
    @return USDC sent.
    """
    amount: uint256 = self.owed[msg.sender]
    assert amount > 0, "vault: nothing owed"
    assert to != empty(address), "vault: receiver"
    self.owed[msg.sender] = 0
    exchange_account._release(amount)
    assert extcall IERC20(exchange_account.asset).transfer(to, amount, default_return_value=True), "vault: transfer out"
    log OwedClaimed(recipient=msg.sender, to=to, amount=amount)
    return amount


@external
def start_unwind():
    """
    @notice Anyone may call once the oldest queued withdrawal has waited
            UNWIND_GRACE: the vault goes close-only, the manager's agent is revoked
            and retired (none of its orders can settle again) and the factory's
            unwind agent (the protocol keeper) is approved to close positions in steps.
    """
    head: uint256 = self.queue_head
    assert head < self.queue_tail, "vault: no queue"
    assert block.timestamp >= self.requests[head].requested_at + UNWIND_GRACE, "vault: grace"
    assert not self.unwinding, "vault: unwinding"
    self.unwinding = True
    extcall exchange_account.exchange.set_close_only(True)
    old: address = self._retire_agent()
    if old != empty(address):
        log AgentSet(old_agent=old, new_agent=empty(address))
    ua: address = staticcall IVaultFactory(factory).unwind_agent()
    if ua != empty(address):
        extcall exchange_account.exchange.approve_agent(ua, True)
    self.unwind_agent = ua
    log UnwindStarted(request_id=head, caller=msg.sender, unwind_agent=ua)


@external
def end_unwind():
    """
    @notice Owner ends an unwind once the queue is empty: the unwind agent is
            revoked and close-only lifted (unless the drawdown halt holds). The
            manager, unless paused, then sets a fresh agent key (set_agent).
    """
    assert msg.sender == owner, "vault: not owner"
    assert self.unwinding, "vault: not unwinding"
    assert self.queue_head == self.queue_tail, "vault: queue"
    self.unwinding = False
    ua: address = self.unwind_agent
    if ua != empty(address):
        extcall exchange_account.exchange.approve_agent(ua, False)
    self.unwind_agent = empty(address)
    if not self.halted:
        extcall exchange_account.exchange.set_close_only(False)
    self._approve_agent_if_live()
    log UnwindEnded(by=msg.sender)


# ---------------------------------------------------------------- risk

@external
def checkpoint() -> bool:
    """
    @notice Anyone may call. Books gains and losses, raises the share-price peak,
            or, when the share price has fallen more than drawdown_limit_bps below
            it, halts the vault: close-only on the Exchange.
    @return Whether the vault is halted.
    """
    ta: uint256 = exchange_account._sync()
    if self.totalSupply == 0:
        return self.halted
    price: uint256 = self._price(ta)
    peak: uint256 = self.peak_price
    if price > peak:
        self.peak_price = price
        self._update_guard()
        log Checkpoint(price=price, peak=price)
    elif not self.halted and price * constants.BPS < peak * (constants.BPS - self.drawdown_limit_bps):
        self.halted = True
        extcall exchange_account.exchange.set_close_only(True)
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
    peak: uint256 = self._price(exchange_account._sync())
    self.peak_price = peak
    self._update_guard()
    if not self.unwinding:
        extcall exchange_account.exchange.set_close_only(False)
    log HaltCleared(peak=peak)


@external
def set_leverage_cap(bps: uint256):
    """
    @notice Owner sets the Exchange leverage cap for the vault account.
    @param bps Total notional at mark over equity, in bps (0 = none).
    """
    assert msg.sender == owner, "vault: not owner"
    extcall exchange_account.exchange.set_leverage_cap(bps)
    log LeverageCapSet(bps=bps)


@external
def set_position_cap(market: uint256, size: uint256):
    """
    @notice Owner sets the Exchange position cap for a market.
    @param market The market id.
    @param size Largest absolute position in base units (0 = none).
    """
    assert msg.sender == owner, "vault: not owner"
    extcall exchange_account.exchange.set_position_cap(market, size)
    log PositionCapSet(market=market, size=size)


@external
def set_drawdown_limit(bps: uint256):
    """
    @notice Owner sets the drawdown limit.
    @param bps Drop below the peak share price that halts trading (1..10000).
    """
    assert msg.sender == owner, "vault: not owner"
    assert bps > 0 and bps <= constants.BPS, "vault: drawdown limit"
    self.drawdown_limit_bps = bps
    self._update_guard()
    log DrawdownLimitSet(bps=bps)


@external
def set_mark_distance(bps: uint256):
    """
    @notice Owner sets how far from the mark the vault's fills may be (every fill,
            closing ones included; enforced by the Exchange at settlement).
    @param bps 1..100 (default 50).
    """
    assert msg.sender == owner, "vault: not owner"
    assert bps > 0 and bps <= MAX_MARK_DISTANCE_BPS, "vault: mark distance"
    self.max_mark_distance_bps = bps
    self._update_guard(True)
    log MarkDistanceSet(bps=bps)


@external
def forbid_counterparty(counterparty: address):
    """
    @notice Owner or the factory adds an account (or signer key) the vault never
            trades against. Owner, managers and agents are added automatically and,
            like every entry, can never be removed.
    @param counterparty The account or key.
    """
    assert msg.sender == owner or msg.sender == factory, "vault: not owner"
    self._forbid(counterparty)


@external
def set_profit_unlock_time(seconds: uint256):
    """
    @notice Owner sets the window over which later gains unlock into the share price.
    @param seconds 0 (gains count at once) .. 30 days.
    """
    assert msg.sender == owner, "vault: not owner"
    exchange_account._set_profit_unlock_time(seconds)


# ---------------------------------------------------------------- owner / manager

@external
def set_deposits_open(open: bool):
    """
    @notice Owner opens or closes deposits by followers.
    @param open Whether followers may deposit.
    """
    assert msg.sender == owner, "vault: not owner"
    self.deposits_open = open
    log DepositsOpenSet(open=open)


@external
def set_lockup(seconds: uint256):
    """
    @notice Owner sets the lock-up applied to later deposits.
    @param seconds At most 30 days.
    """
    assert msg.sender == owner, "vault: not owner"
    assert seconds <= constants.MAX_LOCKUP, "vault: lockup"
    self.lockup = seconds
    log LockupSet(lockup=seconds)


@external
def set_manager(new_manager: address):
    """
    @notice Owner replaces the manager. The outgoing manager's profit share on every
            depositor's gain so far is crystallised to him (at today's share price,
            lazily per depositor); his agent is revoked and retired. The new manager
            becomes the agent (approved unless paused or unwinding, and unless that
            key was retired before).
    @param new_manager The new manager.
    """
    assert msg.sender == owner, "vault: not owner"
    assert new_manager != empty(address), "vault: manager"
    n: uint256 = self.epoch_count
    assert n < MAX_EPOCHS, "vault: manager changes"
    old: address = self.manager
    self.epochs[n] = Epoch(manager=old, price=self._price(exchange_account._sync()))
    self.epoch_count = n + 1
    self.manager = new_manager
    self._forbid(new_manager)
    log ManagerSet(old_manager=old, new_manager=new_manager)
    old_agent: address = self._retire_agent()
    new_agent: address = empty(address)
    if not self.retired_agent[new_manager]:
        new_agent = new_manager
    self.agent = new_agent
    log AgentSet(old_agent=old_agent, new_agent=new_agent)
    self._approve_agent_if_live()


@external
def pause_manager():
    """
    @notice Owner stops the manager: its agent is revoked and retired on the
            Exchange (its signed orders can never settle again) and it can no longer
            change the agent or the strategy until resumed.
    """
    assert msg.sender == owner, "vault: not owner"
    assert not self.manager_paused, "vault: paused"
    self.manager_paused = True
    old: address = self._retire_agent()
    if old != empty(address):
        log AgentSet(old_agent=old, new_agent=empty(address))
    log ManagerPaused(by=msg.sender)


@external
def resume_manager():
    """
    @notice Owner resumes the manager, who then sets a fresh agent key (set_agent);
            an agent set while paused is approved now.
    """
    assert msg.sender == owner, "vault: not owner"
    assert self.manager_paused, "vault: not paused"
    self.manager_paused = False
    self._approve_agent_if_live()
    log ManagerResumed(by=msg.sender)


@external
def set_agent(new_agent: address):
    """
    @notice Manager replaces its signing agent key on the Exchange; the old key is
            revoked and retired. A retired key cannot be set again.
    @param new_agent A key never used as this vault's agent before (or empty).
    """
    assert msg.sender == self.manager, "vault: not manager"
    assert self._agent_live(), "vault: manager paused"
    assert not self.retired_agent[new_agent] or new_agent == empty(address), "vault: agent retired"
    old: address = self._retire_agent()
    self.agent = new_agent
    if new_agent != empty(address):
        self._forbid(new_agent)
    log AgentSet(old_agent=old, new_agent=new_agent)
    self._approve_agent_if_live()


@external
def cancel_all(nonce: uint256):
    """
    @notice Owner or manager voids every order of the vault with a nonce below
            `nonce` (the vault's own nonce floor on the Exchange). Not during an
            unwind, and never beyond a day of time-based nonces ahead of now, so the
            floor cannot be pushed where the protocol's unwind orders would be void.
    @param nonce The new floor: above the current one, at most (now + 1 day) in
           microseconds (keeper nonces are microseconds since the epoch).
    """
    assert msg.sender == owner or msg.sender == self.manager, "vault: not owner"
    assert not self.unwinding, "vault: unwinding"
    assert nonce <= (block.timestamp + constants.DAY) * NONCE_PER_SECOND, "vault: nonce"
    extcall exchange_account.exchange.cancel_all_below(nonce)
    log OrdersCancelled(min_nonce=nonce)


@external
def set_strategy(config: IVault.StrategyConfig):
    """
    @notice Manager publishes the strategy config the keeper runs for this vault.
    @param config The strategy (kind and its parameters; see docs/vaults.md).
    """
    assert msg.sender == self.manager, "vault: not manager"
    assert not self.manager_paused, "vault: manager paused"
    kind: uint8 = config.kind
    if kind == STRATEGY_GRID:
        assert config.levels > 0 and config.levels <= MAX_LEVELS, "vault: levels"
        assert config.size_per_level > 0, "vault: size"
        if config.upper_price == 0 and config.lower_price == 0:
            assert config.spacing_bps > 0 and config.spacing_bps < constants.BPS, "vault: spacing"
        else:
            assert config.lower_price > 0 and config.lower_price < config.upper_price, "vault: range"
    elif kind == STRATEGY_QUOTE:
        assert config.levels > 0 and config.levels <= MAX_LEVELS, "vault: levels"
        assert config.size_per_level > 0, "vault: size"
        assert config.spread_bps > 0 and config.spread_bps < constants.BPS, "vault: spread"
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


# ---------------------------------------------------------------- internals

@internal
@view
def _price(total_assets: uint256) -> uint256:
    # share price in USDC units scaled by 1e18, virtual shares included
    return math._mul_div(total_assets + 1, PRICE_SCALE, self.totalSupply + constants.VIRTUAL_SHARES, False)


@internal
@view
def _fee(depositor: address, fee_to: address, gross: uint256, basis: uint256) -> uint256:
    # the profit share of `fee_to` on a payout of `gross` against `basis`; none to oneself
    if gross <= basis or fee_to == depositor or fee_to == empty(address):
        return 0
    return (gross - basis) * profit_share_bps // constants.BPS


@internal
@view
def _crystallised(depositor: address) -> (uint256, uint256):
    # (shares, basis) of `depositor` after crystallising each manager change since their
    # last action: at each change the outgoing manager's share of the profit above the
    # basis moves to him as shares at that day's price; the basis becomes the net value
    bal: uint256 = self._shares[depositor]
    basis: uint256 = self._hwm[depositor]
    for i: uint256 in range(self.epoch_of[depositor], self.epoch_count, bound=MAX_EPOCHS):
        moved: uint256 = 0
        fee: uint256 = 0
        bal, basis, moved, fee = self._epoch_step(depositor, i, bal, basis)
    return (bal, basis)


@internal
@view
def _epoch_step(depositor: address, i: uint256, bal: uint256, basis: uint256) -> (uint256, uint256, uint256, uint256):
    # one manager change applied to (shares, basis): (shares, basis, shares moved to the
    # outgoing manager, their USDC value)
    ep: Epoch = self.epochs[i]
    if ep.manager == depositor or bal == 0:
        return (bal, basis, 0, 0)
    value: uint256 = math._mul_div(bal, ep.price, PRICE_SCALE, False)
    if value <= basis:
        return (bal, basis, 0, 0)
    fee: uint256 = (value - basis) * profit_share_bps // constants.BPS
    moved: uint256 = math._mul_div(fee, bal, value, False)
    if moved == 0:
        return (bal, basis, 0, 0)
    return (bal - moved, value - fee, moved, fee)


@internal
def _crystallise(depositor: address):
    # the mutating twin of _crystallised: credits each outgoing manager's fee shares
    bal: uint256 = self._shares[depositor]
    basis: uint256 = self._hwm[depositor]
    for i: uint256 in range(self.epoch_of[depositor], self.epoch_count, bound=MAX_EPOCHS):
        moved: uint256 = 0
        fee: uint256 = 0
        bal, basis, moved, fee = self._epoch_step(depositor, i, bal, basis)
        if moved > 0:
            m: address = self.epochs[i].manager
            self.fee_shares[m] += moved
            self.total_fee_shares += moved
            log FeeCrystallised(depositor=depositor, manager=m, epoch=i, shares=moved, fee=fee)
    self.epoch_of[depositor] = self.epoch_count
    self._shares[depositor] = bal
    self._hwm[depositor] = basis


@internal
def _redeem(who: address, shares: uint256, basis: uint256, fee_to: address, min_assets: uint256) -> uint256:
    # `shares` already left `who`'s balance: pay them now or queue them
    ta: uint256 = exchange_account._sync()
    value: uint256 = exchange_account._to_assets(shares, self.totalSupply, ta, False)
    part: uint256 = min(basis, value) if fee_to == empty(address) else basis
    if self.queue_head == self.queue_tail and exchange_account._available() >= value:
        fee: uint256 = self._fee(who, fee_to, value, part)
        assert value - fee >= min_assets, "vault: slippage"
        self.totalSupply -= shares
        self._pay(who, fee_to, value, fee)
        self._update_guard()
        log Withdraw(depositor=who, shares=shares, assets=value - fee, fee=fee)
        return value - fee

    request_id: uint256 = self.queue_tail
    self.requests[request_id] = WithdrawalRequest(
        depositor=who, shares=shares, value=value, basis=part, requested_at=block.timestamp, fee_to=fee_to
    )
    self.queue_tail = request_id + 1
    self.pending_shares += shares
    log WithdrawalQueued(request_id=request_id, depositor=who, shares=shares, value=value, basis=part)
    return 0


@internal
def _pay(depositor: address, fee_to: address, gross: uint256, fee: uint256):
    # pull payments: a transfer that fails (e.g. a blacklisted recipient) leaves the
    # amount claimable by its recipient instead of reverting the withdrawal or the queue
    exchange_account._pull(gross)
    exchange_account._paid_out(gross)
    if gross > fee:
        self._send(depositor, gross - fee)
    if fee > 0:
        self._send(fee_to, fee)


@internal
def _send(to: address, amount: uint256):
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        exchange_account.asset,
        abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    if ok and len(response) > 0:
        ok = convert(response, bool)
    if not ok:
        exchange_account._reserve(amount)
        self.owed[to] += amount
        log PaymentOwed(recipient=to, amount=amount)


@internal
def _retire_agent() -> address:
    # revoke the current agent on the Exchange (if approved) and never approve it again
    old: address = self.agent
    if old == empty(address):
        return old
    if staticcall exchange_account.exchange.is_agent(self, old):
        extcall exchange_account.exchange.approve_agent(old, False)
    self.retired_agent[old] = True
    self.agent = empty(address)
    return old


@internal
def _approve_agent_if_live():
    a: address = self.agent
    if a != empty(address) and self._agent_live() and not staticcall exchange_account.exchange.is_agent(self, a):
        extcall exchange_account.exchange.approve_agent(a, True)


@internal
@view
def _agent_live() -> bool:
    return not self.manager_paused and not self.unwinding


@internal
@view
def _check_owner_stake(owner_shares: uint256, active_shares: uint256):
    assert owner_shares * constants.BPS >= min_owner_stake_bps * active_shares, "vault: owner stake"


@internal
def _forbid(counterparty: address):
    # the Exchange skips any fill whose other side's account or signer is forbidden
    if not staticcall exchange_account.exchange.forbidden_counterparty(self, counterparty):
        extcall exchange_account.exchange.set_forbidden_counterparty(counterparty, True)
        log CounterpartyForbidden(counterparty=counterparty)


@internal
def _update_guard(distance_changed: bool = False):
    # the drawdown limit as an Exchange equity floor, so a fill that would take the vault
    # past it is skipped inside settlement ("drawdown"); with the mark distance
    eq_floor: uint256 = 0
    supply: uint256 = self.totalSupply
    if supply > 0:
        # share price >= peak * (1 - limit)  <=>  total assets >= this
        need: uint256 = math._mul_div(
            self.peak_price * (constants.BPS - self.drawdown_limit_bps),
            supply + constants.VIRTUAL_SHARES,
            constants.BPS * PRICE_SCALE,
            True,
        )
        # total assets = idle + equity - reserved - locked profit
        need += exchange_account.reserved + exchange_account._locked_profit()
        idle: uint256 = staticcall IERC20(exchange_account.asset).balanceOf(self)
        if need > idle:
            eq_floor = need - idle
    if eq_floor == self.equity_floor and not distance_changed:
        return  # the Exchange already holds this guard: no call, no write
    self.equity_floor = eq_floor
    extcall exchange_account.exchange.set_trade_guard(self.max_mark_distance_bps, eq_floor)
