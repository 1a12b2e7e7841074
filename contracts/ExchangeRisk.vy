# pragma version ~=0.4.3
"""
@title MMX Exchange risk engine (code run by the Exchange through DELEGATECALL)
@custom:contract-name ExchangeRisk
@license MIT
@notice Liquidation to the backstop, the insurance fund, auto-deleveraging and delisted
        markets. The Exchange forwards these calls (after its role and pause checks) by
        DELEGATECALL, so this code runs on the Exchange's storage (contracts/ledger.vy,
        initialised first in both contracts) and its events come from the Exchange.
        Calling it directly reverts: its own storage is meaningless.
@dev docs/exchange.md describes the rules; the ABI is the Exchange's (IExchange.vyi).
"""

from ethereum.ercs import IERC20

from snekmate.utils import pausable

from interfaces import IExchange
from interfaces import IExchangeAccounts
from interfaces import IOracle

import constants
import funding_math
import ledger
import loss_sharing
import margin_tiers

# Must stay the first declarations, in the Exchange's order: the same slots as in the
# Exchange (ledger, then snekmate access_control's two maps, then the pause flag that
# pause() / unpause() write; the Exchange checks the roles before forwarding).
initializes: ledger
_exchange_has_role: HashMap[bytes32, HashMap[address, bool]]
_exchange_role_admin: HashMap[bytes32, bytes32]
initializes: pausable

exports: (ledger.usdc, ledger.oracle)

# This deployment's own address: `self` differs from it only under DELEGATECALL.
_THIS: immutable(address)
# Sub-accounts and position transfers (ExchangeAccounts.vy): selectors this code does not
# know, forwarded again by DELEGATECALL (the Exchange forwards its unknown ones here).
accounts_logic: public(immutable(address))


@deploy
def __init__(usdc_: address, oracle_: address, accounts_logic_: address):
    """
    @notice Deploy the risk engine code for an Exchange over `usdc_` and `oracle_`.
    @param usdc_ The Exchange's collateral token.
    @param oracle_ The Exchange's oracle.
    @param accounts_logic_ An ExchangeAccounts deployment for the same usdc and oracle.
    """
    assert staticcall IExchangeAccounts(accounts_logic_).usdc() == usdc_, "exchange: accounts logic"
    assert staticcall IExchangeAccounts(accounts_logic_).oracle() == oracle_, "exchange: accounts logic"
    ledger.__init__(usdc_, oracle_)
    pausable.__init__()
    _THIS = self
    accounts_logic = accounts_logic_


@external
def __default__():
    """
    @notice Run a selector this code does not know (sub-accounts, position transfers) in
            ExchangeAccounts on the Exchange's storage; its reverts bubble up.
    """
    self._delegated()
    raw_call(accounts_logic, msg.data, is_delegate_call=True)


# ---------------------------------------------------------------- accounts
# (moved from the Exchange for EIP-170 room; the Exchange checks the pause first)

@external
def deposit(amount: uint256):
    """
    @notice Deposit `amount` USDC as collateral of msg.sender.
    @param amount USDC units.
    """
    self._delegated()
    self._deposit(msg.sender, amount)


@external
def deposit_for(account: address, amount: uint256):
    """
    @notice Deposit `amount` USDC from msg.sender as collateral of `account`.
    @param account The credited account.
    @param amount USDC units.
    """
    self._delegated()
    ledger._nonzero(account)
    self._deposit(account, amount)


@external
def approve_agent(agent: address, approved: bool):
    """
    @notice Approve or revoke `agent` as a signer of orders for msg.sender.
    @param agent The signer.
    @param approved True to approve, False to revoke.
    """
    self._delegated()
    ledger._nonzero(agent)
    assert agent != msg.sender, "exchange: self agent"
    ledger._agents[msg.sender][agent] = approved
    log IExchange.AgentSet(account=msg.sender, agent=agent, approved=approved)


@external
def pause():
    """
    @notice Emergency pause: the Exchange's pause() (it checks PAUSER_ROLE, then runs this
            on its storage; moved here for EIP-170 room).
    """
    self._delegated()
    assert not pausable.paused, "exchange: paused"
    pausable._pause()


@external
def unpause():
    """
    @notice Lift the emergency pause: the Exchange's unpause() (PAUSER_ROLE checked there).
    """
    self._delegated()
    assert pausable.paused, "exchange: not paused"
    pausable._unpause()


@external
def cancel_all_below(nonce: uint256):
    """
    @notice Void all of msg.sender's orders with a nonce below `nonce`.
    @param nonce The new nonce floor; above the current one and below 2**64.
    """
    self._delegated()
    self._set_min_nonce(msg.sender, nonce)


@external
def cancel_all_below_for(account: address, nonce: uint256):
    """
    @notice Void all of `account`'s orders with a nonce below `nonce`; msg.sender must
            be the account or (for an EOA account only) its agent.
    @param account The account.
    @param nonce The new nonce floor; above the current one and below 2**64.
    """
    self._delegated()
    # the account, its agent, or (a sub-account) its owner's agent: the Exchange's _may_sign
    assert msg.sender == account or ledger._agents[account][msg.sender] or ledger._agents[ledger.subaccount_owner[account]][msg.sender], "exchange: not authorised"
    if msg.sender != account:
        assert not account.is_contract, "exchange: contract floor"
    self._set_min_nonce(account, nonce)


@internal
def _deposit(account: address, amount: uint256):
    assert amount > 0, "exchange: zero amount"
    assert amount <= convert(max_value(int128), uint256), "exchange: amount too large"
    ledger._credit(account, convert(amount, int256))
    assert extcall IERC20(ledger.usdc).transferFrom(msg.sender, self, amount, default_return_value=True), "exchange: transfer failed"
    log IExchange.Deposit(account=account, sender=msg.sender, amount=amount)


@internal
def _set_min_nonce(account: address, nonce: uint256):
    assert nonce <= ledger.NONCE_MASK, "exchange: nonce too large"
    cfg: uint256 = ledger._config[account]
    assert nonce > cfg & ledger.NONCE_MASK, "exchange: nonce not increasing"
    ledger._config[account] = (cfg & ~ledger.NONCE_MASK) | nonce
    log IExchange.MinNonceSet(account=account, min_nonce=nonce)


@external
def set_margin_tiers(
    market: uint256,
    thresholds: DynArray[uint256, constants.MAX_TIERS],
    initial_bps: DynArray[uint256, constants.MAX_TIERS],
    maintenance_bps: DynArray[uint256, constants.MAX_TIERS],
):
    """
    @notice Set a market's margin tiers (the Exchange checks DEFAULT_ADMIN_ROLE first).
    @dev Validation and encoding in margin_tiers.encode (docs/exchange.md, "Margin tiers").
    @param market The market.
    @param thresholds Position notional where each tier starts (the first is 0).
    @param initial_bps Initial margin bps per tier.
    @param maintenance_bps Maintenance margin bps per tier.
    """
    self._delegated()
    ledger._known_market(market)
    bps_word: uint256 = 0
    lo: uint256 = 0
    hi: uint256 = 0
    bps_word, lo, hi = margin_tiers.encode(thresholds, initial_bps, maintenance_bps)
    ledger._tiers[market] = bps_word
    ledger._tier_thresholds[market] = [lo, hi]
    log IExchange.MarginTiersSet(
        market=market, thresholds=thresholds, initial_bps=initial_bps, maintenance_bps=maintenance_bps
    )


@external
def set_funding(funding: address):
    """
    @notice Set the Funding contract positions settle against (the Exchange checks
            DEFAULT_ADMIN_ROLE). Once: a new index source would break every snapshot.
    @param funding The Funding contract (IFunding.index(market)).
    """
    self._delegated()
    ledger._nonzero(funding)
    assert ledger.funding == empty(address), "exchange: funding set"
    ledger.funding = funding
    log IExchange.FundingSet(funding=funding)


@external
def settle_funding(account: address):
    """
    @notice Realise the funding of every open position of `account` into its
            collateral (FundingSettled per non-zero amount). Anyone.
    @param account The account.
    """
    self._delegated()
    ledger._settle_all(account)


@external
def liquidate(account: address, market: uint256):
    """
    @notice Move `account`'s whole position in `market` to the backstop at the mark
            price when the account's equity is below its maintenance requirement.
    @dev Anyone may call (the Exchange checks the pause). Other markets, if halted or
         stale, are valued with a haircut; the moving position needs a fresh mark. A
         penalty of liquidation_penalty_bps of the moved notional, capped at the
         account's positive equity, is split: liquidation_reward_bps of it to the
         caller's collateral, the rest to the insurance fund. If the account then has no
         position left and negative collateral, the fund covers it; if the fund cannot
         cover the account's negative equity the call reverts "exchange: insurance
         short" (ADL applies). Reverts "exchange: backstop margin" if the backstop ends
         below its initial requirement.
    @param account The account to liquidate.
    @param market The market whose position moves.
    """
    self._delegated()
    bs: address = ledger.backstop
    assert bs != empty(address), "exchange: no backstop"
    assert account != bs, "exchange: backstop"
    ledger._known_market(market)
    size: int256 = 0
    cost: int256 = 0
    size, cost = ledger._unpack(ledger._positions[account][market])
    assert size != 0, "exchange: no position"

    cfg: uint256 = ledger._config[account]
    coll: int256 = ledger._coll(ledger._accounts[account])
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = ledger._health(account, cfg, 0, 0, 0, 0, coll, False)
    assert equity < convert(req, int256), "exchange: not liquidatable"
    mark: uint256 = 0
    mark, status = ledger._price(market, staticcall IOracle(ledger.oracle).max_age())
    ledger._fresh(status)
    notional: uint256 = convert(abs(size), uint256) * mark // constants.ONE

    # the move at mark changes no equity: the account realises its PnL, the backstop
    # opens or adds at mark
    ledger._move(account, bs, market, size, notional, mark)

    penalty: uint256 = 0
    if equity > 0:
        penalty = min(notional * ledger.liquidation_penalty_bps // constants.BPS, convert(equity, uint256))
    self._charge_penalty(account, penalty)
    self._cover(account, equity - convert(penalty, int256))

    bs_equity: int256 = 0
    bs_req: uint256 = 0
    bs_equity, bs_req, total, status = ledger._health(bs, ledger._config[bs], 0, 0, 0, 0, ledger._coll(ledger._accounts[bs]), True)
    assert bs_equity >= convert(bs_req, int256), "exchange: backstop margin"

    log IExchange.Liquidation(
        account=account, market=market, backstop=bs, size=size, price=mark, penalty=penalty, caller=msg.sender
    )


@external
def adl(account: address, market: uint256, counterparties: DynArray[address, 32]):
    """
    @notice Auto-deleverage: close `account`'s position in `market` against the given
            opposite, profitable positions at the account's bankruptcy price.
    @dev OPERATOR_ROLE (checked by the Exchange). Only when the account's negative
         equity exceeds the insurance fund -- or, for the backstop itself (which
         liquidate refuses: nobody takes its position over), whenever it is below
         maintenance: at mark while the fund covers its deficit (InsuranceCover once it
         is flat), at its bankruptcy price when the fund is short; it is never its own
         counterparty ("exchange: adl counterparty"). The bankruptcy price values the position so
         that the account's equity (other markets at mark, haircut if stale) is zero.
         Each counterparty must hold the opposite side in `market` with unrealised PnL
         at mark minus its unsettled funding in `market` > 0 (so the receivers of a
         funding-only bankruptcy qualify), else "exchange: adl counterparty" -- except
         the backstop (the
         pool): listed (last, by the keeper) it takes all that is left at the bankruptcy
         price whatever its position, so a bankrupt position with no profitable opposite
         account is still closed; its loss is the deficit, and it must stay at or above
         its maintenance requirement ("exchange: backstop margin"). One Adl event per
         counterparty (the backstop's has counterparty = backstop).
    @param account The bankrupt account.
    @param market The market whose position is closed.
    @param counterparties Opposite accounts in the keeper's ADL rank order, optionally
           ending with the backstop.
    """
    self._delegated()
    ledger._known_market(market)
    size: int256 = 0
    cost: int256 = 0
    size, cost = ledger._unpack(ledger._positions[account][market])
    assert size != 0, "exchange: no position"
    mark: uint256 = 0
    status: uint256 = 0
    mark, status = ledger._price(market, staticcall IOracle(ledger.oracle).max_age())
    ledger._fresh(status)
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    equity, req, total, status = ledger._health(
        account, ledger._config[account], 0, 0, 0, 0, ledger._coll(ledger._accounts[account]), False
    )
    short: bool = equity < 0 and convert(-equity, uint256) > ledger.insurance_fund
    bs: address = ledger.backstop
    price: uint256 = mark
    if account == bs:
        # the backstop has no one to hand its position to (liquidate refuses it): below
        # maintenance it is deleveraged, at mark while the fund covers what is left
        assert equity < convert(req, int256), "exchange: no adl"
    else:
        assert short, "exchange: no adl"
    if short:
        price = loss_sharing._bankruptcy_price(size, cost, equity, mark)

    absorbed: bool = False
    left: int256 = abs(size)
    index: int256 = ledger._index(market)
    for cp: address in counterparties:
        if left == 0:
            break
        assert cp != account, "exchange: adl counterparty"
        q: int256 = left
        if cp == bs and bs != empty(address):
            # no profitable opposite account covers the rest: the backstop absorbs it
            absorbed = True
        else:
            c_size: int256 = 0
            c_cost: int256 = 0
            snap: uint256 = 0
            c_size, c_cost, snap = funding_math.unpack(ledger._positions[cp][market])
            assert (c_size > 0) != (size > 0) and c_size != 0, "exchange: adl counterparty"
            # PnL including the funding it has not settled yet (offchain/risk adl_score)
            pnl: int256 = c_size * convert(mark, int256) // constants.ONE_I - c_cost
            assert pnl - funding_math.owed(c_size, index, snap) > 0, "exchange: adl counterparty"
            q = min(abs(c_size), left)
        signed: int256 = q
        if size < 0:
            signed = -q
        # account's side trades -signed, the counterparty's +signed (both reduce)
        n: uint256 = convert(q, uint256) * price // constants.ONE
        if size > 0 and convert(q, uint256) * price % constants.ONE != 0:
            n += 1
        ledger._move(account, cp, market, signed, n, price)
        if cp != bs:
            # closing at the bankruptcy price never makes a counterparty bankrupt in turn
            # (a deficit moved onto an account with no position left could not be shared)
            e_c: int256 = 0
            e_c, req = ledger._health_of(cp, False)
            assert e_c >= 0, "exchange: adl equity"
        left -= q
        log IExchange.Adl(account=account, counterparty=cp, market=market, size=signed, price=price)
    if absorbed:
        b_eq: int256 = 0
        b_req: uint256 = 0
        b_eq, b_req, total, status = ledger._health(bs, ledger._config[bs], 0, 0, 0, 0, ledger._coll(ledger._accounts[bs]), False)
        assert b_eq >= convert(b_req, int256), "exchange: backstop margin"
    if left == 0:
        # closed at its bankruptcy price: at most rounding dust is left to the fund; a
        # partial ADL (too few counterparties) leaves the rest for the next call
        e2: int256 = 0
        e2, req, total, status = ledger._health(
            account, ledger._config[account], 0, 0, 0, 0, ledger._coll(ledger._accounts[account]), False
        )
        self._cover(account, e2)


@external
def delist(market: uint256, settlement_price: uint256):
    """
    @notice Delist `market` at `settlement_price` (final settlement).
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange).
    @param market The market id.
    @param settlement_price The final price, a multiple of tick, in (0, 2**96].
    """
    self._delegated()
    ledger._known_market(market)
    assert ledger.settlement_price[market] == 0, "exchange: delisted"
    mkt: IExchange.Market = ledger._markets[market]
    assert settlement_price > 0 and settlement_price <= ledger.MAX_PRICE and settlement_price % mkt.tick == 0, "exchange: bad price"
    # the index stops here: funding ends with the market (ledger._index)
    ledger._funding_frozen[market] = ledger._index(market)
    ledger.settlement_price[market] = settlement_price
    mkt.active = False
    ledger._markets[market] = mkt
    log IExchange.MarketSet(
        market=market,
        tick=mkt.tick,
        lot=mkt.lot,
        min_size=mkt.min_size,
        initial_margin_bps=mkt.initial_margin_bps,
        maintenance_margin_bps=mkt.maintenance_margin_bps,
        band_bps=mkt.band_bps,
        active=False,
    )
    log IExchange.MarketDelisted(market=market, settlement_price=settlement_price)


@external
def close_delisted(account: address, market: uint256):
    """
    @notice Close `account`'s position in a delisted market at the settlement price.
    @dev Anyone. The realised PnL is rounded down (toward the Exchange), so closing every
         holder never pays out more than the market's positions were worth. A negative
         equity afterwards is handled as in liquidate (fund, else "insurance short":
         liquidate / adl at the settlement price first).
    @param account The holder.
    @param market The delisted market.
    """
    self._delegated()
    price: uint256 = ledger.settlement_price[market]
    assert price != 0, "exchange: not delisted"
    size: int256 = 0
    cost: int256 = 0
    size, cost = ledger._unpack(ledger._positions[account][market])
    assert size != 0, "exchange: no position"
    value: int256 = size * convert(price, int256)
    pnl: int256 = value // constants.ONE_I - cost
    if value < 0 and value % constants.ONE_I != 0:
        pnl -= 1  # floor toward -inf for shorts, as for longs
    ledger._write_position(account, ledger._config[account], market, size, 0, 0)
    ledger._credit(account, pnl)
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = ledger._health(
        account, ledger._config[account], 0, 0, 0, 0, ledger._coll(ledger._accounts[account]), False
    )
    self._cover(account, equity)
    log IExchange.DelistedClosed(account=account, market=market, size=size, price=price, pnl=pnl)


@external
def deposit_insurance(amount: uint256):
    """
    @notice Add `amount` USDC from msg.sender to the insurance fund (seeding, top-ups).
    @dev Anyone; the Exchange checks the pause.
    @param amount USDC units.
    """
    self._delegated()
    assert amount > 0, "exchange: zero amount"
    ledger._fund_in(amount)
    assert extcall IERC20(ledger.usdc).transferFrom(msg.sender, self, amount, default_return_value=True), "exchange: transfer failed"


@external
def set_insurance_config(fee_share_bps: uint256, reward_bps: uint256):
    """
    @notice Set the insurance fund's share of net fees and the caller's share of each
            liquidation penalty (the fund gets the rest of it).
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange).
    @param fee_share_bps Share of net fees to the fund at distribute_fees, <= 10_000.
    @param reward_bps Share of the penalty to the caller, <= 10_000.
    """
    self._delegated()
    assert fee_share_bps <= constants.BPS and reward_bps <= constants.BPS, "exchange: bad share"
    ledger.insurance_fee_share_bps = fee_share_bps
    ledger.liquidation_reward_bps = reward_bps
    log IExchange.InsuranceConfigSet(fee_share_bps=fee_share_bps, reward_bps=reward_bps)


@external
def distribute_fees():
    """
    @notice Pay out accrued net fees: insurance_fee_share_bps of them to the insurance
            fund, fee_share_bps of the rest credited to the fee recipient's collateral
            (the liquidity pool), the remainder transferred to the treasury. Anyone.
    """
    self._delegated()
    amount: uint256 = ledger.fees_accrued
    assert amount > 0, "exchange: no fees"
    ledger.fees_accrued = 0
    ins: uint256 = amount * ledger.insurance_fee_share_bps // constants.BPS
    if ins != 0:
        ledger._fund_in(ins)
    amount -= ins
    recipient: address = ledger.fee_recipient
    share: uint256 = 0
    if recipient != empty(address):
        share = amount * ledger.fee_share_bps // constants.BPS
    rest: uint256 = amount - share
    if share != 0:
        ledger._credit(recipient, convert(share, int256))
    tre: address = ledger.treasury
    if rest != 0:
        ledger._pay(tre, rest)
    log IExchange.FeesDistributed(recipient=recipient, recipient_amount=share, treasury=tre, treasury_amount=rest)


@external
def add_market(
    tick: uint256,
    lot: uint256,
    min_size: uint256,
    initial_margin_bps: uint256,
    maintenance_margin_bps: uint256,
    band_bps: uint256,
) -> uint256:
    """
    @notice Register a market (active); its id is market_count after the call.
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange). The Oracle must publish a price under the same id.
    @param tick Price increment (USDC units).
    @param lot Size increment (base units).
    @param min_size Minimum fill size, a multiple of lot (smaller final remainders allowed).
    @param initial_margin_bps Initial margin (0 < maintenance <= initial <= 10_000).
    @param maintenance_margin_bps Maintenance margin.
    @param band_bps Maximum distance of a fill price from the mark (0 < band <= 10_000).
    @return The new market id.
    """
    self._delegated()
    market: uint256 = ledger.market_count + 1
    assert market <= ledger.MAX_MARKET_ID, "exchange: too many markets"
    ledger.market_count = market
    self._set_market(market, tick, lot, min_size, initial_margin_bps, maintenance_margin_bps, band_bps, True)
    return market


@external
def update_market(
    market: uint256,
    tick: uint256,
    lot: uint256,
    min_size: uint256,
    initial_margin_bps: uint256,
    maintenance_margin_bps: uint256,
    band_bps: uint256,
    active: bool,
):
    """
    @notice Change a market's parameters or (de)activate it.
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange). An inactive market settles no fills (reason "inactive");
         its positions still count for margin and can be liquidated.
    @param market The market id.
    @param tick Price increment.
    @param lot Size increment.
    @param min_size Minimum fill size.
    @param initial_margin_bps Initial margin.
    @param maintenance_margin_bps Maintenance margin.
    @param band_bps Price band around the mark.
    @param active Whether fills settle.
    """
    self._delegated()
    ledger._known_market(market)
    self._set_market(market, tick, lot, min_size, initial_margin_bps, maintenance_margin_bps, band_bps, active)


@external
def set_fee_config(recipient: address, share_bps: uint256, treasury_: address):
    """
    @notice Set who receives net fees: `share_bps` to `recipient` (credited as Exchange
            collateral, e.g. the liquidity pool), the rest to `treasury_`.
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange).
    @param recipient Fee recipient account (may be empty when share_bps is 0).
    @param share_bps Recipient share of net fees, at most 10_000.
    @param treasury_ Treasury address.
    """
    self._delegated()
    assert share_bps <= constants.BPS, "exchange: bad share"
    ledger._nonzero(treasury_)
    if share_bps != 0:
        ledger._nonzero(recipient)
    ledger.fee_recipient = recipient
    ledger.fee_share_bps = share_bps
    ledger.treasury = treasury_
    log IExchange.FeeConfigSet(recipient=recipient, share_bps=share_bps, treasury=treasury_)


@external
def set_backstop(backstop_: address):
    """
    @notice Set the account that takes over liquidated positions (the liquidity pool).
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange).
    @param backstop_ The backstop account (empty disables liquidation).
    """
    self._delegated()
    ledger.backstop = backstop_
    log IExchange.BackstopSet(backstop=backstop_)


@external
def set_liquidation_penalty(penalty_bps: uint256):
    """
    @notice Set the liquidation penalty in bps of the moved notional.
    @dev DEFAULT_ADMIN_ROLE (checked by the Exchange); at most 2_000.
    @param penalty_bps The penalty.
    """
    self._delegated()
    assert penalty_bps <= ledger.MAX_PENALTY_BPS, "exchange: bad penalty"
    ledger.liquidation_penalty_bps = penalty_bps
    log IExchange.LiquidationPenaltySet(penalty_bps=penalty_bps)


@internal
def _set_market(
    market: uint256, tick: uint256, lot: uint256, min_size: uint256, im: uint256, mm: uint256, band: uint256, active: bool
):
    assert tick > 0 and tick <= ledger.MAX_PRICE, "exchange: bad tick"
    assert lot > 0 and lot <= ledger.MAX_SIZE, "exchange: bad lot"
    assert min_size >= lot and min_size % lot == 0 and min_size <= ledger.MAX_SIZE, "exchange: bad min size"
    # every lot x tick step is a whole number of USDC units (no zero-notional fills)
    assert tick * lot % constants.ONE == 0, "exchange: bad tick lot"
    assert mm > 0 and mm <= im and im <= constants.BPS, "exchange: bad margin"
    assert band > 0 and band <= constants.BPS, "exchange: bad band"
    ledger._markets[market] = IExchange.Market(
        tick=tick,
        lot=lot,
        min_size=min_size,
        initial_margin_bps=im,
        maintenance_margin_bps=mm,
        band_bps=band,
        active=active,
    )
    log IExchange.MarketSet(
        market=market,
        tick=tick,
        lot=lot,
        min_size=min_size,
        initial_margin_bps=im,
        maintenance_margin_bps=mm,
        band_bps=band,
        active=active,
    )


@external
def set_close_only(enabled: bool):
    """
    @notice While enabled, only fills that reduce msg.sender's position settle for it
            (skip reason "close only").
    @param enabled The new state.
    """
    self._delegated()
    cfg: uint256 = ledger._config[msg.sender]
    if enabled:
        cfg = cfg | ledger.CLOSE_ONLY_BIT
    else:
        cfg = cfg & ~ledger.CLOSE_ONLY_BIT
    ledger._config[msg.sender] = cfg
    log IExchange.CloseOnlySet(account=msg.sender, enabled=enabled)


@external
def set_leverage_cap(cap_bps: uint256):
    """
    @notice Cap msg.sender's leverage: total notional at mark * 10_000 must not exceed
            cap_bps * equity after a fill that adds risk (skip reason "leverage").
    @param cap_bps Leverage in bps (30_000 = 3x); 0 removes the cap.
    """
    self._delegated()
    assert cap_bps <= ledger.LEVERAGE_MASK, "exchange: cap too large"
    cfg: uint256 = ledger._config[msg.sender] & ~(ledger.LEVERAGE_MASK << ledger.LEVERAGE_SHIFT)
    ledger._config[msg.sender] = cfg | (cap_bps << ledger.LEVERAGE_SHIFT)
    log IExchange.LeverageCapSet(account=msg.sender, cap_bps=cap_bps)


@external
def set_trade_guard(max_mark_distance_bps: uint256, equity_floor: uint256):
    """
    @notice Guard every fill of msg.sender (vaults): a fill priced farther than
            `max_mark_distance_bps` from the mark is skipped "mark distance" (reducing
            fills included), and a fill that does not reduce the position and leaves
            equity at mark below `equity_floor` is skipped "drawdown".
    @param max_mark_distance_bps Distance in bps (0 = none), below 2**32.
    @param equity_floor USDC units (0 = none), below 2**224.
    """
    self._delegated()
    assert max_mark_distance_bps <= ledger.GUARD_DIST_MASK, "exchange: bad guard"
    assert equity_floor < 2**224, "exchange: bad guard"
    ledger._guard[msg.sender] = max_mark_distance_bps | (equity_floor << ledger.GUARD_FLOOR_SHIFT)
    cfg: uint256 = ledger._config[msg.sender]
    if max_mark_distance_bps == 0 and equity_floor == 0:
        cfg = cfg & ~ledger.GUARD_BIT
    else:
        cfg = cfg | ledger.GUARD_BIT
    ledger._config[msg.sender] = cfg
    log IExchange.TradeGuardSet(account=msg.sender, max_mark_distance_bps=max_mark_distance_bps, equity_floor=equity_floor)


@external
def set_forbidden_counterparty(counterparty: address, forbidden: bool):
    """
    @notice Forbid (or allow again) `counterparty` as the other side of msg.sender's
            fills: a fill whose other account or recovered signer is forbidden is
            skipped "counterparty".
    @param counterparty An account or signer key (owner, manager, agent, sibling vault).
    @param forbidden True to forbid, False to allow.
    """
    self._delegated()
    ledger._nonzero(counterparty)
    ledger.forbidden_counterparty[msg.sender][counterparty] = forbidden
    if forbidden:
        ledger._config[msg.sender] = ledger._config[msg.sender] | ledger.FORBID_BIT
    log IExchange.ForbiddenCounterpartySet(account=msg.sender, counterparty=counterparty, forbidden=forbidden)


@external
def set_position_cap(market: uint256, size: uint256):
    """
    @notice Cap msg.sender's absolute position in `market` after a fill that grows it
            (skip reason "position cap").
    @param market The market id.
    @param size Base units; 0 removes the cap.
    """
    self._delegated()
    ledger._known_market(market)
    ledger.position_cap[msg.sender][market] = size
    if size != 0:
        ledger._config[msg.sender] = ledger._config[msg.sender] | ledger.HAS_CAPS_BIT
    log IExchange.PositionCapSet(account=msg.sender, market=market, size=size)


@external
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` USDC of msg.sender's collateral.
    @dev Allowed while paused. The amount must not exceed collateral, and equity after
         the withdrawal must stay at or above the initial margin requirement valued at
         fresh, non-halted marks.
    @param amount USDC units.
    """
    self._delegated()
    assert amount > 0, "exchange: zero amount"
    # realise funding first: an account never withdraws what it owes (nor less than it
    # is owed, once settled)
    ledger._settle_all(msg.sender)
    word: uint256 = ledger._accounts[msg.sender]
    coll: int256 = ledger._coll(word) - convert(amount, int256)
    assert coll >= 0, "exchange: insufficient collateral"
    cfg: uint256 = ledger._config[msg.sender]
    if (cfg >> ledger.MARKETS_SHIFT) & ledger.MARKETS_MASK != 0:
        equity: int256 = 0
        req: uint256 = 0
        notional: uint256 = 0
        status: uint256 = 0
        # halted or stale markets are valued with a haircut: they never block a withdrawal
        equity, req, notional, status = ledger._health(msg.sender, cfg, 0, 0, 0, 0, coll, True)
        assert equity >= convert(req, int256), "exchange: margin"
    ledger._accounts[msg.sender] = ledger._account_word(coll, word >> ledger.VOLUME_SHIFT)
    ledger._pay(msg.sender, amount)
    log IExchange.Withdraw(account=msg.sender, amount=amount)


@internal
def _charge_penalty(account: address, penalty: uint256):
    if penalty == 0:
        return
    ledger._credit(account, -convert(penalty, int256))
    reward: uint256 = penalty * ledger.liquidation_reward_bps // constants.BPS
    if reward != 0:
        ledger._credit(msg.sender, convert(reward, int256))
    if penalty != reward:
        ledger._fund_in(penalty - reward)


@internal
def _cover(account: address, equity: int256):
    """
    @dev Solvency: an account whose equity is negative must be coverable by the fund
         (else ADL applies: "exchange: insurance short"); once it has no position left
         its negative collateral is paid from the fund.
    """
    if equity >= 0:
        return
    fund: uint256 = ledger.insurance_fund
    assert convert(-equity, uint256) <= fund, "exchange: insurance short"
    if (ledger._config[account] >> ledger.MARKETS_SHIFT) & ledger.MARKETS_MASK != 0:
        return
    coll: int256 = ledger._coll(ledger._accounts[account])
    if coll >= 0:
        return
    amount: uint256 = convert(-coll, uint256)
    ledger.insurance_fund = fund - amount
    ledger.bad_debt_covered += amount
    ledger._credit(account, coll * -1)
    log IExchange.InsuranceCover(account=account, amount=amount, balance=fund - amount)


@internal
@view
def _delegated():
    assert self != _THIS, "exchange: delegatecall only"
