# pragma version ~=0.4.3
"""
@title MMX Exchange
@custom:contract-name Exchange
@license MIT
@notice Settlement ledger (clearinghouse) of the MMX hybrid perpetuals exchange.
        Accounts deposit USDC collateral; per account and market the Exchange keeps a
        signed position and its cost basis (entry notional); realised PnL goes into
        collateral; equity is valued at the oracle's mark. The keeper (OPERATOR_ROLE)
        settles batches of matched fills between two EIP-712 signed orders; a bad fill
        is skipped with `FillSkipped(reason)` and the rest of the batch settles.
        docs/exchange.md describes the margin model, fee flow, pause and liquidation.
@dev Units: USDC 6 decimals; price = USDC units per 1e18 base units;
     notional = price * size // 10**18. All arithmetic is on exact integers.
     Storage layout for gas: a position is one slot (int128 size | int128 cost, two's
     complement), and one `_config` word per account packs the nonce floor, the bitmap of
     markets with an open position, the leverage cap and the close-only / position-cap
     flags, so a fill touches per account: config, position, collateral, filled[hash].
"""

from ethereum.ercs import IERC20

from snekmate.auth import access_control
from snekmate.utils import pausable

from interfaces import IExchange
from interfaces import IExchangeRisk
from interfaces import IOracle
from interfaces import IRebateEngine

import constants
import fee_tiers
import funding_math
import ledger

implements: IExchange

# ledger first: ExchangeRisk runs on these slots by DELEGATECALL (contracts/ledger.vy).
initializes: ledger
initializes: access_control
initializes: pausable

exports: access_control.__interface__
exports: pausable.paused
exports: (
    ledger.usdc,
    ledger.oracle,
    ledger.position_cap,
    ledger.forbidden_counterparty,
    ledger.market_count,
    ledger.fees_accrued,
    ledger.fee_recipient,
    ledger.fee_share_bps,
    ledger.treasury,
    ledger.backstop,
    ledger.liquidation_penalty_bps,
    ledger.insurance_fund,
    ledger.insurance_inflows,
    ledger.bad_debt_covered,
    ledger.insurance_fee_share_bps,
    ledger.liquidation_reward_bps,
    ledger.liq_next,
    ledger.settlement_price,
    ledger.funding,
    ledger.funding_balance,
    ledger.funding_dust,
)

# ---------------------------------------------------------------- constants

OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")

MAX_FILLS: constant(uint256) = 64
# _settle_fill returns a fill's funding as owed * 2**RES_BITS + its rounding residue (one
# int the batch sums; a batch's residue < 2 * MAX_FILLS * PAY_SCALE < 2**88), so the
# residue costs no new return value: settle splits the sum once per batch.
RES_BITS: constant(uint256) = 88

# secp256k1 n // 2: signatures with a larger s are the malleable twin.
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("MMX Exchange")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")

# ---------------------------------------------------------------- storage
# (every storage variable is in contracts/ledger.vy)

rebate_engine: public(immutable(address))
# The risk engine's code (liquidation, insurance fund, ADL, delisting), run by DELEGATECALL.
risk_logic: public(immutable(address))

_CACHED_DOMAIN_SEPARATOR: immutable(bytes32)
_CACHED_CHAIN_ID: immutable(uint256)


# Per-batch context of settle (memory only).
struct Batch:
    mark: uint256
    status: uint256
    fees: uint256
    thresholds_lo: uint256
    thresholds_hi: uint256
    epoch: uint256
    elapsed: uint256
    index: int256


@deploy
def __init__(usdc_: address, oracle_: address, rebate_engine_: address, treasury_: address, risk_logic_: address):
    """
    @notice Deploy the Exchange; msg.sender gets DEFAULT_ADMIN_ROLE.
    @param usdc_ The 6-decimal collateral token.
    @param oracle_ The mark price oracle (IOracle).
    @param rebate_engine_ The fee tier engine (IRebateEngine).
    @param treasury_ Receiver of the treasury share of net fees.
    @param risk_logic_ An ExchangeRisk deployment (code only; it runs on this storage).
    """
    assert usdc_ != empty(address), "exchange: zero address"
    assert oracle_ != empty(address), "exchange: zero address"
    assert rebate_engine_ != empty(address), "exchange: zero address"
    assert treasury_ != empty(address), "exchange: zero address"
    assert staticcall IExchangeRisk(risk_logic_).usdc() == usdc_, "exchange: risk logic"
    assert staticcall IExchangeRisk(risk_logic_).oracle() == oracle_, "exchange: risk logic"
    ledger.__init__(usdc_, oracle_)
    access_control.__init__()
    pausable.__init__()
    rebate_engine = rebate_engine_
    risk_logic = risk_logic_
    ledger.treasury = treasury_
    ledger.liquidation_penalty_bps = ledger.DEFAULT_PENALTY_BPS
    _CACHED_CHAIN_ID = chain.id
    _CACHED_DOMAIN_SEPARATOR = self._build_domain_separator()
    log IExchange.FeeConfigSet(recipient=empty(address), share_bps=0, treasury=treasury_)
    log IExchange.LiquidationPenaltySet(penalty_bps=ledger.DEFAULT_PENALTY_BPS)
    if chain.id == 0:
        # never runs (init code only): lists the events ExchangeRisk emits from this
        # address in the Exchange's ABI.
        self._risk_events()


# ================================================================ accounts

@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Deposit `amount` USDC as collateral of msg.sender.
    @dev Reverts while paused. Needs an USDC allowance for the Exchange. Runs
         ExchangeRisk.deposit on this storage (EIP-170 room for settle).
    @param amount USDC units.
    """
    self._not_paused()
    self._delegate()


@external
@nonreentrant
def deposit_for(account: address, amount: uint256):
    """
    @notice Deposit `amount` USDC from msg.sender as collateral of `account`.
    @dev Vaults and the pool use it; reverts while paused. Runs ExchangeRisk.deposit_for.
    @param account The credited account.
    @param amount USDC units.
    """
    self._not_paused()
    self._delegate()


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` USDC of msg.sender's collateral.
    @dev Allowed while paused. The amount must not exceed collateral, and equity after
         the withdrawal must stay at or above the initial margin requirement valued at
         fresh, non-halted marks.
    @dev Runs ExchangeRisk.withdraw on this storage (EIP-170 room for settle).
    @param amount USDC units.
    """
    self._delegate()


@external
def approve_agent(agent: address, approved: bool):
    """
    @notice Approve or revoke `agent` as a signer of orders for msg.sender.
    @dev Contracts (vaults, pool) use it for their manager's key. Runs
         ExchangeRisk.approve_agent.
    @param agent The signer.
    @param approved True to approve, False to revoke.
    """
    self._delegate()


@external
def cancel_order(order: IExchange.Order):
    """
    @notice Cancel `order` on chain so no further fill of it settles.
    @param order The signed order; msg.sender must be order.account or its agent.
    @dev Runs ExchangeAccounts.cancel_order (through ExchangeRisk's fallback; a ONE_FILL
         order: its nonce bit, else filled[hash]).
    """
    self._delegate()


@external
def cancel_all_below(nonce: uint256):
    """
    @notice Void all of msg.sender's orders with a nonce below `nonce`.
    @param nonce The new nonce floor; must be above the current one and below 2**64.
    @dev Runs ExchangeRisk.cancel_all_below.
    """
    self._delegate()


@external
def cancel_all_below_for(account: address, nonce: uint256):
    """
    @notice Void all of `account`'s orders with a nonce below `nonce`.
    @dev An agent may raise the floor of an EOA account only: a contract account (vault,
         pool) owns its floor, so a hostile agent can never void the orders (e.g. a
         forced unwind) the contract or its keeper signs above the current floor.
    @param account The account; msg.sender must be it or (for an EOA) its agent.
    @param nonce The new nonce floor; must be above the current one and below 2**64.
    @dev Runs ExchangeRisk.cancel_all_below_for.
    """
    self._delegate()


@external
def set_close_only(enabled: bool):
    """
    @notice While enabled, only fills that reduce msg.sender's position settle for it
            (skip reason "close only").
    @param enabled The new state.
    """
    self._delegate()


@external
def set_leverage_cap(cap_bps: uint256):
    """
    @notice Cap msg.sender's leverage: total notional at mark * 10_000 must not exceed
            cap_bps * equity after a fill that adds risk (skip reason "leverage").
    @param cap_bps Leverage in bps (30_000 = 3x); 0 removes the cap.
    """
    self._delegate()


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
    self._delegate()


@external
def set_forbidden_counterparty(counterparty: address, forbidden: bool):
    """
    @notice Forbid (or allow again) `counterparty` as the other side of msg.sender's
            fills: a fill whose other account or recovered signer is forbidden is
            skipped "counterparty".
    @param counterparty An account or signer key (owner, manager, agent, sibling vault).
    @param forbidden True to forbid, False to allow.
    """
    self._delegate()


@external
def set_position_cap(market: uint256, size: uint256):
    """
    @notice Cap msg.sender's absolute position in `market` after a fill that grows it
            (skip reason "position cap").
    @param market The market id.
    @param size Base units; 0 removes the cap.
    """
    self._delegate()


# ================================================================ settlement

@external
@nonreentrant
def settle(fills: DynArray[IExchange.Fill, MAX_FILLS]) -> uint256:
    """
    @notice Settle a batch of matched fills at the maker's price.
    @dev OPERATOR_ROLE only; reverts while paused. A fill failing any check is skipped
         with FillSkipped(maker_hash, taker_hash, reason) and changes no state.
    @param fills The fills: two signed orders and a size each.
    @return The number of fills settled.
    """
    assert access_control.hasRole[OPERATOR_ROLE][msg.sender], "exchange: not operator"
    self._not_paused()

    settled: uint256 = 0
    fees: uint256 = 0
    funding: int256 = 0
    max_age: uint256 = staticcall IOracle(ledger.oracle).max_age()
    cur_market: uint256 = 0
    mkt: IExchange.Market = empty(IExchange.Market)
    b: Batch = empty(Batch)
    b.fees, b.thresholds_lo, b.thresholds_hi = staticcall IRebateEngine(rebate_engine).tier_table()
    b.epoch = block.timestamp // fee_tiers.EPOCH_LENGTH
    b.elapsed = block.timestamp % fee_tiers.EPOCH_LENGTH
    domain: bytes32 = self._domain_separator()

    for f: IExchange.Fill in fills:
        hm: bytes32 = self._hash_with(f.maker, domain)
        ht: bytes32 = self._hash_with(f.taker, domain)
        market: uint256 = f.maker.market
        if market != cur_market and market == f.taker.market:
            # market parameters and mark: read once per run of fills in one market.
            # Unknown ids (0, > market_count) read as an empty, inactive market.
            mkt = ledger._markets[market]
            if mkt.tick != 0:
                b.mark, b.status = ledger._price(market, max_age)
                b.index = ledger._index(market)
            cur_market = market
        reason: String[32] = ""
        net_fee: uint256 = 0
        paid: int256 = 0
        reason, net_fee, paid = self._settle_fill(f, hm, ht, mkt, b)
        if len(reason) == 0:
            settled += 1
            fees += net_fee
            funding += paid
        else:
            log IExchange.FillSkipped(maker_hash=hm, taker_hash=ht, reason=reason)

    if fees != 0:
        ledger.fees_accrued += fees
    if funding != 0:
        # low RES_BITS: the residue (the sum mod 2**88); the rest: the net amount paid
        res: uint256 = convert(convert(funding, bytes32), uint256) & (2**RES_BITS - 1)
        ledger._book_funding(unsafe_sub(funding, convert(res, int256)) >> RES_BITS, res)
    return settled


@internal
def _settle_fill(f: IExchange.Fill, hm: bytes32, ht: bytes32, mkt: IExchange.Market, b: Batch) -> (String[32], uint256, int256):
    """
    @dev Checks one fill (all reads first) and applies it. Returns ("", net fee, funding
         paid by both sides * 2**RES_BITS + its rounding residue) when settled, or
         (reason, 0, 0) with no state written.
         Reads per account: config, position, account word (collateral | volume); writes
         position (funding snapshot = the batch's index), account word and (on open /
         close) config. Both sides' funding since their snapshots is realised first,
         so every check sees the collateral after it.
    """
    market: uint256 = f.maker.market
    size: uint256 = f.size
    price: uint256 = f.maker.price
    maker: address = f.maker.account
    taker: address = f.taker.account

    # ---- stateless checks and market parameters
    if f.taker.market != market:
        return "market mismatch", 0, 0
    if mkt.tick == 0:
        # unknown id; a known inactive market settles closing fills only (in _risk)
        return "inactive", 0, 0
    if f.maker.is_buy == f.taker.is_buy:
        return "side", 0, 0
    if (f.maker.flags | f.taker.flags) & ~ledger.KNOWN_FLAGS != 0:
        return "flags", 0, 0
    if maker == taker:
        return "self trade", 0, 0
    m_liq: bool = f.maker.flags & ledger.FLAG_LIQUIDATION != 0
    t_liq: bool = f.taker.flags & ledger.FLAG_LIQUIDATION != 0
    m_one: bool = f.maker.flags & ledger.FLAG_ONE_FILL != 0
    t_one: bool = f.taker.flags & ledger.FLAG_ONE_FILL != 0
    # a liquidation order counts its fills (cool-down, step size): never single-fill
    if (m_liq and (t_liq or m_one)) or (t_liq and t_one):
        return "flags", 0, 0
    if f.maker.expiry < block.timestamp or f.taker.expiry < block.timestamp:
        return "expired", 0, 0
    if f.taker.flags & ledger.FLAG_POST_ONLY != 0:
        return "post only", 0, 0
    if f.maker.is_buy:
        if f.taker.price > price:
            return "no cross", 0, 0
    elif f.taker.price < price:
        return "no cross", 0, 0
    if size == 0 or size > ledger.MAX_SIZE or price == 0 or price > ledger.MAX_PRICE:
        return "size", 0, 0
    if price % mkt.tick != 0:
        return "tick", 0, 0
    if size % mkt.lot != 0:
        return "lot", 0, 0

    # ---- order state
    maker_cfg: uint256 = ledger._config[maker]
    taker_cfg: uint256 = ledger._config[taker]
    # a liquidation order ignores the account's nonce floor and signature: the operator
    # submits it, and it settles only while the account is liquidatable (_liq_risk)
    if (not m_liq and f.maker.nonce < maker_cfg & ledger.NONCE_MASK) or (
        not t_liq and f.taker.nonce < taker_cfg & ledger.NONCE_MASK
    ):
        return "nonce", 0, 0
    # a ONE_FILL order is settled whole by one fill and consumed by its nonce bit (no
    # filled[hash] slot read or written); any other order counts its filled amount
    fm: uint256 = 0
    ft: uint256 = 0
    if m_one or t_one:
        if (m_one and size != f.maker.size) or (t_one and size != f.taker.size):
            return "one fill", 0, 0
        if (m_one and ledger._nonce_used(maker, f.maker.nonce)) or (t_one and ledger._nonce_used(taker, f.taker.nonce)):
            return "nonce used", 0, 0
    if not m_one:
        fm = ledger._filled[hm]
    if not t_one:
        ft = ledger._filled[ht]
    if fm == ledger.CANCELLED or ft == ledger.CANCELLED:
        return "cancelled", 0, 0
    if fm + size > f.maker.size or ft + size > f.taker.size:
        return "overfill", 0, 0
    if size < mkt.min_size:
        if fm + size != f.maker.size and ft + size != f.taker.size:
            return "min size", 0, 0

    # ---- signatures
    m_signer: address = maker
    if not m_liq:
        m_signer = self._signer(hm, maker, f.maker_sig)
        if m_signer == empty(address):
            return "bad signature", 0, 0
    t_signer: address = taker
    if not t_liq:
        t_signer = self._signer(ht, taker, f.taker_sig)
        if t_signer == empty(address):
            return "bad signature", 0, 0
    if (maker_cfg | taker_cfg) & ledger.FORBID_BIT != 0:
        if maker_cfg & ledger.FORBID_BIT != 0:
            if ledger.forbidden_counterparty[maker][taker] or ledger.forbidden_counterparty[maker][t_signer]:
                return "counterparty", 0, 0
        if taker_cfg & ledger.FORBID_BIT != 0:
            if ledger.forbidden_counterparty[taker][maker] or ledger.forbidden_counterparty[taker][m_signer]:
                return "counterparty", 0, 0

    # ---- oracle
    mark: uint256 = b.mark
    if b.status == ledger.PRICE_HALTED:
        return "halted", 0, 0
    if b.status == ledger.PRICE_STALE:
        return "stale", 0, 0
    if b.status == ledger.PRICE_SETTLED:
        return "delisted", 0, 0
    diff: uint256 = unsafe_sub(price, mark) if price > mark else unsafe_sub(mark, price)
    if diff * constants.BPS > mark * mkt.band_bps:
        return "band", 0, 0
    if (maker_cfg | taker_cfg) & ledger.GUARD_BIT != 0:
        # an account's own guard limits its own trades, not its liquidation
        if (not m_liq and self._too_far(maker, maker_cfg, diff, mark)) or (
            not t_liq and self._too_far(taker, taker_cfg, diff, mark)
        ):
            return "mark distance", 0, 0

    # ---- new positions, fee and rebate (tiers from the volume before this fill)
    notional: uint256 = price * size // constants.ONE
    delta: int256 = convert(size, int256)
    maker_delta: int256 = delta
    if not f.maker.is_buy:
        maker_delta = -delta

    m_old: int256 = 0
    m_cost: int256 = 0
    snap: uint256 = 0
    m_old, m_cost, snap = funding_math.unpack(ledger._positions[maker][market])
    m_x: int256 = funding_math.exact(m_old, b.index, snap)
    m_fund: int256 = funding_math.pay(m_x)
    m_new: int256 = 0
    m_new_cost: int256 = 0
    m_pnl: int256 = 0
    m_new, m_new_cost, m_pnl = ledger._trade(m_old, m_cost, maker_delta, notional, price)

    t_old: int256 = 0
    t_cost: int256 = 0
    t_old, t_cost, snap = funding_math.unpack(ledger._positions[taker][market])
    t_x: int256 = funding_math.exact(t_old, b.index, snap)
    t_fund: int256 = funding_math.pay(t_x)
    t_new: int256 = 0
    t_new_cost: int256 = 0
    t_pnl: int256 = 0
    t_new, t_new_cost, t_pnl = ledger._trade(t_old, t_cost, -maker_delta, notional, price)

    m_word: uint256 = ledger._accounts[maker]
    t_word: uint256 = ledger._accounts[taker]
    m_vol: uint256 = m_word >> ledger.VOLUME_SHIFT
    t_vol: uint256 = t_word >> ledger.VOLUME_SHIFT
    fee_bps: uint256 = fee_tiers.taker_fee(
        b.fees, fee_tiers.tier_index(fee_tiers.trailing(t_vol, b.epoch, b.elapsed), b.fees, b.thresholds_lo, b.thresholds_hi)
    )
    rebate_bps: uint256 = fee_tiers.maker_rebate(
        b.fees, fee_tiers.tier_index(fee_tiers.trailing(m_vol, b.epoch, b.elapsed), b.fees, b.thresholds_lo, b.thresholds_hi)
    )
    fee: uint256 = (notional * fee_bps + constants.BPS - 1) // constants.BPS
    if t_liq:
        fee = 0  # a liquidated account pays the penalty instead
    rebate: uint256 = min(notional * rebate_bps // constants.BPS, fee)
    if m_liq:
        rebate = 0
    m_coll: int256 = ledger._coll(m_word) + m_pnl - m_fund
    t_coll: int256 = ledger._coll(t_word) + t_pnl - convert(fee, int256) - t_fund

    # ---- risk checks (maker: rebate ignored, only helps; taker: after its fee)
    reason: String[32] = ""
    penalty: uint256 = 0
    if m_liq:
        reason, penalty = self._liq_risk(maker, maker_cfg, market, mark, mkt.lot, m_old, m_new, m_new_cost, m_word, m_coll, f.maker.size, fm, notional)
    else:
        reason = self._risk(maker, maker_cfg, f.maker.flags, market, mark, mkt.active, m_old, m_new, m_new_cost, m_coll)
    if len(reason) != 0:
        return reason, 0, 0
    if t_liq:
        reason, penalty = self._liq_risk(taker, taker_cfg, market, mark, mkt.lot, t_old, t_new, t_new_cost, t_word, t_coll, f.taker.size, ft, notional)
    else:
        reason = self._risk(taker, taker_cfg, f.taker.flags, market, mark, mkt.active, t_old, t_new, t_new_cost, t_coll)
    if len(reason) != 0:
        return reason, 0, 0
    if m_liq:
        m_coll -= convert(penalty, int256)
    elif t_liq:
        t_coll -= convert(penalty, int256)

    # ---- effects
    if m_one:
        ledger._use_nonce(maker, f.maker.nonce)
    else:
        ledger._filled[hm] = fm + size
    if t_one:
        ledger._use_nonce(taker, f.taker.nonce)
    else:
        ledger._filled[ht] = ft + size
    ledger._store_position(maker, maker_cfg, market, m_old, m_new, m_new_cost, b.index)
    ledger._store_position(taker, taker_cfg, market, t_old, t_new, t_new_cost, b.index)
    ledger._accounts[maker] = ledger._account_word(m_coll + convert(rebate, int256), fee_tiers.added(m_vol, notional, b.epoch))
    ledger._accounts[taker] = ledger._account_word(t_coll, fee_tiers.added(t_vol, notional, b.epoch))
    # after the account words: the caller's reward may credit one of the two accounts
    if m_liq:
        self._liq_effects(maker, market, hm, fm, maker_delta, price, penalty)
    elif t_liq:
        self._liq_effects(taker, market, ht, ft, -maker_delta, price, penalty)

    log IExchange.FillSettled(
        maker_hash=hm,
        taker_hash=ht,
        market=market,
        maker=maker,
        taker=taker,
        taker_is_buy=f.taker.is_buy,
        price=price,
        size=size,
        taker_fee=fee,
        maker_rebate=rebate,
        maker_funding=m_fund,
        taker_funding=t_fund,
    )
    # the residue: what both settlements booked beyond their exact amounts (< 2**81;
    # |paid| < 2**87 and |x| < 2**166, exact()'s bound: no overflow)
    paid: int256 = unsafe_add(m_fund, t_fund)
    res: int256 = unsafe_sub(unsafe_mul(paid, funding_math.PAY_SCALE), unsafe_add(m_x, t_x))
    return "", unsafe_sub(fee, rebate), unsafe_add(paid << RES_BITS, res)


@internal
def _risk(
    account: address,
    cfg: uint256,
    flags: uint256,
    market: uint256,
    mark: uint256,
    active: bool,
    old_size: int256,
    new_size: int256,
    new_cost: int256,
    coll: int256,
) -> String[32]:
    """
    @dev Reduce-only, close-only, position cap, margin and leverage of one side of a fill.
         A fill that reduces the position without flipping it passes all of them.
         `coll` is the collateral after the fill (the taker's after its fee).
    """
    reducing: bool = new_size == 0 or (old_size > 0 and new_size > 0 and new_size < old_size) or (
        old_size < 0 and new_size < 0 and new_size > old_size
    )
    if not reducing:
        if not active:
            return "inactive"
        if not funding_math.fits(new_size, new_cost):
            return "size"
        if flags & ledger.FLAG_REDUCE_ONLY != 0:
            return "reduce only"
        if cfg & ledger.CLOSE_ONLY_BIT != 0:
            return "close only"
        if cfg & ledger.HAS_CAPS_BIT != 0:
            cap: uint256 = ledger.position_cap[account][market]
            if cap != 0 and convert(abs(new_size), uint256) > cap and abs(new_size) > abs(old_size):
                return "position cap"

    # requirement after the fill: initial for a fill that adds risk, maintenance for one
    # that reduces it (solvency: docs/exchange.md, "Fills near or below maintenance")
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    if (cfg >> ledger.MARKETS_SHIFT) & ledger.MARKETS_MASK & ~(1 << market) == 0:
        # no open position in another market: value this one directly
        total = convert(abs(new_size), uint256) * mark // constants.ONE
        equity = coll + new_size * convert(mark, int256) // constants.ONE_I - new_cost
        req = ledger._requirement(market, total, not reducing)
    else:
        status: uint256 = 0
        equity, req, total, status = ledger._health(account, cfg, market, mark, new_size, new_cost, coll, not reducing)
        # a halted or stale market elsewhere is valued with a haircut (ledger._health);
        # it blocks only fills that add risk
        if not reducing:
            if status == ledger.PRICE_HALTED:
                return "halted"
            if status == ledger.PRICE_STALE:
                return "stale"
    if reducing:
        # an account's own reducing fill never leaves it below maintenance (so never
        # below zero equity, and its taker fee is backed); below maintenance only the
        # liquidation paths apply
        if equity < convert(req, int256):
            return "maintenance"
        return ""
    if equity < convert(req, int256):
        return "margin"
    if cfg & ledger.GUARD_BIT != 0:
        if equity < convert(ledger._guard[account] >> ledger.GUARD_FLOOR_SHIFT, int256):
            return "drawdown"
    lev_cap: uint256 = (cfg >> ledger.LEVERAGE_SHIFT) & ledger.LEVERAGE_MASK
    if lev_cap != 0:
        if equity <= 0 or total * constants.BPS > lev_cap * convert(equity, uint256):
            return "leverage"
    return ""


@internal
@view
def _liq_risk(
    account: address,
    cfg: uint256,
    market: uint256,
    mark: uint256,
    lot: uint256,
    old_size: int256,
    new_size: int256,
    new_cost: int256,
    word: uint256,
    coll: int256,
    order_size: uint256,
    filled_before: uint256,
    notional: uint256,
) -> (String[32], uint256):
    """
    @dev The liquidated side of a fill with a liquidation order: it must reduce the
         position; before the fill the account is below maintenance but at or above
         LIQ_BACKSTOP_BPS of it (below: the backstop applies); the order's first fill
         respects the cool-down and the step size; after the fill its equity at mark is
         >= 0. Returns (reason, penalty): the penalty is liquidation_penalty_bps of the
         notional, capped at the equity left.
    """
    if not (new_size == 0 or (old_size > 0 and new_size > 0 and new_size < old_size) or (
        old_size < 0 and new_size < 0 and new_size > old_size
    )):
        return "reduce only", 0
    e0: int256 = 0
    r0: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    e0, r0, total, status = ledger._health(account, cfg, 0, 0, 0, 0, ledger._coll(word), False)
    if e0 >= convert(r0, int256):
        return "not liquidatable", 0
    if e0 * convert(constants.BPS, int256) < convert(r0 * ledger.LIQ_BACKSTOP_BPS, int256):
        return "backstop", 0
    if filled_before == 0:
        if block.timestamp < ledger.liq_next[account]:
            return "cooldown", 0
        held: uint256 = convert(abs(old_size), uint256)
        if held * mark // constants.ONE > ledger.LIQ_WHOLE_NOTIONAL:
            step: uint256 = held * ledger.LIQ_STEP_BPS // constants.BPS
            step = (step + lot - 1) // lot * lot
            if order_size > step:
                return "step", 0
    e1: int256 = 0
    e1, r0, total, status = ledger._health(account, cfg, market, mark, new_size, new_cost, coll, False)
    if e1 < 0:
        return "backstop", 0
    return "", min(notional * ledger.liquidation_penalty_bps // constants.BPS, convert(e1, uint256))


@internal
def _liq_effects(account: address, market: uint256, order_hash: bytes32, filled_before: uint256, delta: int256, price: uint256, penalty: uint256):
    """@dev Cool-down on an order's first fill; the penalty to the caller's reward and the fund."""
    if filled_before == 0:
        ledger.liq_next[account] = block.timestamp + ledger.LIQ_COOLDOWN
    reward: uint256 = penalty * ledger.liquidation_reward_bps // constants.BPS
    if reward != 0:
        ledger._credit(msg.sender, convert(reward, int256))
    rest: uint256 = penalty - reward
    if rest != 0:
        ledger._fund_in(rest)
    log IExchange.LiquidationFill(
        account=account, market=market, order_hash=order_hash, size=delta, price=price, penalty=penalty, reward=reward
    )


@internal
@view
def _too_far(account: address, cfg: uint256, diff: uint256, mark: uint256) -> bool:
    """@dev Whether a fill `diff` away from `mark` breaks the account's trade guard distance."""
    if cfg & ledger.GUARD_BIT == 0:
        return False
    dist: uint256 = ledger._guard[account] & ledger.GUARD_DIST_MASK
    return dist != 0 and diff * constants.BPS > mark * dist






# ================================================================ sub-accounts

@external
def __default__():
    """
    @notice Sub-accounts and position transfers (IExchangeAccounts.vyi: open_subaccount,
            move_collateral, transfer_position, split, merge): any selector the Exchange
            does not know runs in its risk logic, which runs it in ExchangeAccounts, on
            this storage (DELEGATECALL); unknown ones revert. docs/subaccounts.md.
    """
    self._delegate()


# ================================================================ liquidation

@external
@nonreentrant
def liquidate(account: address, market: uint256):
    """
    @notice Move `account`'s whole position in `market` to the backstop at the mark
            price when the account's equity is below its maintenance requirement.
    @dev Runs ExchangeRisk.liquidate on this storage (docs/exchange.md, Liquidation).
    @param account The account to liquidate.
    @param market The market whose position moves.
    """
    self._not_paused()
    self._delegate()


# ================================================================ margin tiers

@external
def set_margin_tiers(
    market: uint256,
    thresholds: DynArray[uint256, constants.MAX_TIERS],
    initial_bps: DynArray[uint256, constants.MAX_TIERS],
    maintenance_bps: DynArray[uint256, constants.MAX_TIERS],
):
    """
    @notice Set a market's margin tiers by position notional (DEFAULT_ADMIN_ROLE).
    @dev Runs ExchangeRisk.set_margin_tiers on this storage (docs/exchange.md, "Margin tiers").
    @param market The market.
    @param thresholds Position notional where each tier starts (the first is 0).
    @param initial_bps Initial margin bps per tier.
    @param maintenance_bps Maintenance margin bps per tier.
    """
    self._only_admin()
    self._delegate()


# ================================================================ funding

@external
def set_funding(funding: address):
    """
    @notice Set the Funding contract whose index(market) every position settles against.
    @dev DEFAULT_ADMIN_ROLE, once (a new index source would break every snapshot).
         Runs ExchangeRisk.set_funding.
    @param funding The Funding contract.
    """
    self._only_admin()
    self._delegate()


@external
def settle_funding(account: address):
    """
    @notice Realise the funding of every open position of `account` into its
            collateral (FundingSettled per non-zero amount). Anyone.
    @dev Runs ExchangeRisk.settle_funding on this storage.
    @param account The account.
    """
    self._delegate()


# ================================================================ fees

@external
@nonreentrant
def distribute_fees():
    """
    @notice Pay out accrued net fees: insurance_fee_share_bps of them to the insurance
            fund, fee_share_bps of the rest credited to the fee recipient's collateral
            (the liquidity pool), the remainder transferred to the treasury. Anyone.
    @dev Runs ExchangeRisk.distribute_fees on this storage.
    """
    self._delegate()


@external
@nonreentrant
def adl(account: address, market: uint256, counterparties: DynArray[address, 32]):
    """
    @notice Auto-deleverage `account`'s position in `market` against `counterparties`
            (opposite side, in profit) at its bankruptcy price when the insurance fund
            cannot cover its negative equity.
    @dev OPERATOR_ROLE; reverts while paused. Runs ExchangeRisk.adl on this storage.
    @param account The bankrupt account.
    @param market The market.
    @param counterparties Opposite accounts in the keeper's ADL rank order.
    """
    assert access_control.hasRole[OPERATOR_ROLE][msg.sender], "exchange: not operator"
    self._not_paused()
    self._delegate()


@external
def delist(market: uint256, settlement_price: uint256):
    """
    @notice Delist `market`: it becomes inactive and every position in it is valued at,
            and closes at, `settlement_price` (final settlement).
    @dev DEFAULT_ADMIN_ROLE; once per market. Runs ExchangeRisk.delist.
    @param market The market id.
    @param settlement_price USDC units per 1e18 base units, a multiple of tick.
    """
    self._only_admin()
    self._delegate()


@external
@nonreentrant
def close_delisted(account: address, market: uint256):
    """
    @notice Close `account`'s position in a delisted market at its settlement price.
    @dev Anyone; allowed while paused (an exit path). Runs ExchangeRisk.close_delisted.
    @param account The holder.
    @param market The delisted market.
    """
    self._delegate()


@external
@nonreentrant
def deposit_insurance(amount: uint256):
    """
    @notice Add `amount` USDC from msg.sender to the insurance fund (seeding, top-ups).
    @dev Anyone; reverts while paused. Needs an USDC allowance for the Exchange.
    @param amount USDC units.
    """
    self._not_paused()
    self._delegate()


@external
def set_insurance_config(fee_share_bps: uint256, reward_bps: uint256):
    """
    @notice Set the insurance fund's share of net fees and the liquidation caller's
            share of each penalty (the fund gets the rest).
    @dev DEFAULT_ADMIN_ROLE. Runs ExchangeRisk.set_insurance_config.
    @param fee_share_bps Fund share of net fees (bps).
    @param reward_bps Caller share of a penalty (bps).
    """
    self._only_admin()
    self._delegate()


# ================================================================ admin

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
    @dev DEFAULT_ADMIN_ROLE. The Oracle must publish a price under the same id.
    @param tick Price increment (USDC units).
    @param lot Size increment (base units).
    @param min_size Minimum fill size, a multiple of lot (smaller final remainders allowed).
    @param initial_margin_bps Initial margin (0 < maintenance <= initial <= 10_000).
    @param maintenance_margin_bps Maintenance margin.
    @param band_bps Maximum distance of a fill price from the mark (0 < band <= 10_000).
    @return The new market id.
    """
    self._only_admin()
    return abi_decode(self._delegate(), uint256)


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
    @dev DEFAULT_ADMIN_ROLE. An inactive market settles no fills (reason "inactive");
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
    self._only_admin()
    self._delegate()


@external
def set_fee_config(recipient: address, share_bps: uint256, treasury_: address):
    """
    @notice Set who receives net fees: `share_bps` to `recipient` (credited as Exchange
            collateral, e.g. the liquidity pool), the rest to `treasury_`.
    @dev DEFAULT_ADMIN_ROLE.
    @param recipient Fee recipient account (may be empty when share_bps is 0).
    @param share_bps Recipient share of net fees, at most 10_000.
    @param treasury_ Treasury address.
    """
    self._only_admin()
    self._delegate()


@external
def set_backstop(backstop_: address):
    """
    @notice Set the account that takes over liquidated positions (the liquidity pool).
    @dev DEFAULT_ADMIN_ROLE.
    @param backstop_ The backstop account (empty disables liquidation).
    """
    self._only_admin()
    self._delegate()


@external
def set_liquidation_penalty(penalty_bps: uint256):
    """
    @notice Set the liquidation penalty in bps of the moved notional.
    @dev DEFAULT_ADMIN_ROLE; at most 2_000.
    @param penalty_bps The penalty.
    """
    self._only_admin()
    self._delegate()


@external
def pause():
    """
    @notice Emergency pause: stops settle, deposits and liquidations. Withdrawals,
            cancels and account settings stay available.
    @dev PAUSER_ROLE. Runs ExchangeRisk.pause on this storage.
    """
    self._only_pauser()
    self._delegate()


@external
def unpause():
    """
    @notice Lift the emergency pause.
    @dev PAUSER_ROLE. Runs ExchangeRisk.unpause on this storage.
    """
    self._only_pauser()
    self._delegate()


# ================================================================ views

@external
@view
def hash_order(order: IExchange.Order) -> bytes32:
    """
    @notice The EIP-712 digest of `order` (equals offchain.order.order_hash).
    @param order The order.
    @return The digest signed by the account and keyed by filled().
    """
    return self._hash_order(order)


@external
@view
def domain_separator() -> bytes32:
    """
    @notice The EIP-712 domain separator ("MMX Exchange", "1", chain id, this address).
    @return The separator.
    """
    return self._domain_separator()


@external
@view
def filled(order_hash: bytes32) -> uint256:
    """
    @notice Base units filled of an order; max_value(uint256) once cancelled on chain.
    @param order_hash The order digest.
    @return The filled amount.
    """
    return ledger._filled[order_hash]


@external
@view
def cancelled(order_hash: bytes32) -> bool:
    """
    @notice Whether the order was cancelled on chain.
    @param order_hash The order digest.
    @return True if cancelled.
    """
    return ledger._filled[order_hash] == ledger.CANCELLED


@view
@external
def nonce_used(account: address, nonce: uint256) -> bool:
    """
    @notice Whether `account`'s single-fill (ONE_FILL) orders with `nonce` are consumed:
            filled or cancelled. filled() / cancelled() of such an order stay 0 / False.
    @param account The account.
    @param nonce The order nonce.
    @return True once consumed.
    """
    return ledger._nonce_used(account, nonce)


@external
@view
def min_nonce(account: address) -> uint256:
    """
    @notice The account's nonce floor: orders with a smaller nonce are void.
    @param account The account.
    @return The floor.
    """
    return ledger._config[account] & ledger.NONCE_MASK


@external
@view
def is_agent(account: address, agent: address) -> bool:
    """
    @notice Whether `agent` may sign orders for `account`.
    @param account The account.
    @param agent The signer.
    @return True if approved.
    """
    return ledger._agents[account][agent]


@external
@view
def funding_owed(account: address, market: uint256) -> int256:
    """
    @notice The position's funding since it last settled, as settling now would book it
            (already in equity, margin and free collateral).
    @param account The account.
    @param market The market id.
    @return USDC units: > 0 the account owes, < 0 it is owed.
    """
    s: int256 = 0
    c: int256 = 0
    snap: uint256 = 0
    s, c, snap = funding_math.unpack(ledger._positions[account][market])
    return funding_math.owed(s, ledger._index(market), snap)


@external
@view
def collateral(account: address) -> int256:
    """
    @notice The account's collateral (deposits + realised PnL - fees + rebates).
    @param account The account.
    @return USDC units (negative = bad debt).
    """
    return ledger._coll(ledger._accounts[account])


@external
@view
def volume_state(account: address) -> (uint256, uint256, uint256):
    """
    @notice The account's raw trailing-volume record (fee tiers, docs/fees.md).
    @param account The account.
    @return (epoch of the last fill mod 2**16, volume in that epoch, volume in the epoch before)
    """
    # fee_tiers' record layout, named there (no call: the Exchange is at its EIP-170 limit)
    record: uint256 = ledger._accounts[account] >> ledger.VOLUME_SHIFT
    return (record & fee_tiers.MASK_16, (record >> fee_tiers.CURRENT_SHIFT) & fee_tiers.MAX_VOLUME,
            record >> fee_tiers.PREVIOUS_SHIFT)


@external
@view
def trailing_volume(account: address) -> uint256:
    """
    @notice The account's trailing 30-day volume in USDC units, from which its tier is
            looked up (RebateEngine.tier_for_volume).
    @param account The account.
    @return The volume.
    """
    return fee_tiers.trailing(
        ledger._accounts[account] >> ledger.VOLUME_SHIFT,
        block.timestamp // fee_tiers.EPOCH_LENGTH,
        block.timestamp % fee_tiers.EPOCH_LENGTH,
    )


@external
@view
def position(account: address, market: uint256) -> (int256, int256):
    """
    @notice The account's position in `market`.
    @param account The account.
    @param market The market id.
    @return (size in signed base units, cost basis in signed USDC units)
    """
    return ledger._unpack(ledger._positions[account][market])


@external
@view
def equity(account: address) -> int256:
    """
    @notice Collateral plus unrealised PnL at the oracle marks (stale or not).
    @param account The account.
    @return Equity in USDC units (negative = bad debt).
    """
    equity: int256 = 0
    req: uint256 = 0
    equity, req = ledger._health_of(account, True)
    return equity


@external
@view
def margin_requirement(account: address, initial: bool) -> uint256:
    """
    @notice Sum over open positions of notional at mark times the market's initial
            (or maintenance) margin bps, each rounded up.
    @param account The account.
    @param initial True for initial, False for maintenance margin.
    @return The requirement in USDC units.
    """
    equity: int256 = 0
    req: uint256 = 0
    equity, req = ledger._health_of(account, initial)
    return req


@external
@view
def free_collateral(account: address) -> int256:
    """
    @notice Equity minus the initial margin requirement.
    @param account The account.
    @return Free collateral (negative when below initial margin).
    """
    equity: int256 = 0
    req: uint256 = 0
    equity, req = ledger._health_of(account, True)
    return equity - convert(req, int256)


@external
@view
def close_only(account: address) -> bool:
    """
    @notice Whether the account is in close-only mode.
    @param account The account.
    @return True if only reducing fills settle for it.
    """
    return ledger._config[account] & ledger.CLOSE_ONLY_BIT != 0


@external
@view
def trade_guard(account: address) -> (uint256, uint256):
    """
    @notice The account's trade guard (set_trade_guard).
    @param account The account.
    @return (max mark distance bps, equity floor USDC units); 0 = none
    """
    g: uint256 = ledger._guard[account]
    return g & ledger.GUARD_DIST_MASK, g >> ledger.GUARD_FLOOR_SHIFT


@external
@view
def leverage_cap(account: address) -> uint256:
    """
    @notice The account's leverage cap in bps (0 = none).
    @param account The account.
    @return The cap.
    """
    return (ledger._config[account] >> ledger.LEVERAGE_SHIFT) & ledger.LEVERAGE_MASK


@external
@view
def markets(market: uint256) -> IExchange.Market:
    """
    @notice A market's parameters.
    @param market The market id (1..market_count).
    @return The Market struct.
    """
    return ledger._markets[market]


# ================================================================ internals





@internal
@view
def _not_paused():
    assert not pausable.paused, "exchange: paused"










@internal
def _risk_events():
    log IExchange.Liquidation(
        account=empty(address), market=0, backstop=empty(address), size=0, price=0, penalty=0, caller=empty(address)
    )
    log IExchange.Adl(account=empty(address), counterparty=empty(address), market=0, size=0, price=0)
    log IExchange.LossSocialised(account=empty(address), counterparty=empty(address), market=0, amount=0)
    log IExchange.InsuranceInflow(amount=0, balance=0)
    log IExchange.InsuranceCover(account=empty(address), amount=0, balance=0)
    log IExchange.InsuranceConfigSet(fee_share_bps=0, reward_bps=0)
    log IExchange.MarketSet(
        market=0, tick=0, lot=0, min_size=0, initial_margin_bps=0, maintenance_margin_bps=0, band_bps=0, active=False
    )
    log IExchange.BackstopSet(backstop=empty(address))
    log IExchange.Withdraw(account=empty(address), amount=0)
    log IExchange.MarketDelisted(market=0, settlement_price=0)
    log IExchange.DelistedClosed(account=empty(address), market=0, size=0, price=0, pnl=0)
    log IExchange.CloseOnlySet(account=empty(address), enabled=False)
    log IExchange.LeverageCapSet(account=empty(address), cap_bps=0)
    log IExchange.PositionCapSet(account=empty(address), market=0, size=0)
    log IExchange.TradeGuardSet(account=empty(address), max_mark_distance_bps=0, equity_floor=0)
    log IExchange.ForbiddenCounterpartySet(account=empty(address), counterparty=empty(address), forbidden=False)
    log IExchange.FeesDistributed(recipient=empty(address), recipient_amount=0, treasury=empty(address), treasury_amount=0)
    log IExchange.MarginTiersSet(market=0, thresholds=[], initial_bps=[], maintenance_bps=[])
    log IExchange.SubaccountOpened(owner=empty(address), account=empty(address), index=0)
    log IExchange.CollateralMoved(source=empty(address), target=empty(address), amount=0)
    log IExchange.PositionTransferred(source=empty(address), target=empty(address), market=0, size=0, price=0, transfer_hash=empty(bytes32))
    log IExchange.FundingSet(funding=empty(address))
    log IExchange.Deposit(account=empty(address), sender=empty(address), amount=0)
    log IExchange.AgentSet(account=empty(address), agent=empty(address), approved=False)
    log IExchange.MinNonceSet(account=empty(address), min_nonce=0)
    log IExchange.OrderCancelled(account=empty(address), order_hash=empty(bytes32))
    log pausable.Paused(account=empty(address))
    log pausable.Unpaused(account=empty(address))
    log IExchange.FundingSettled(account=empty(address), market=0, amount=0, index=0)


@internal
def _delegate() -> Bytes[256]:
    """@dev Run the same call (msg.data) in ExchangeRisk on this storage; reverts bubble up."""
    return raw_call(risk_logic, msg.data, max_outsize=256, is_delegate_call=True)




@internal
@view
def _only_pauser():
    assert access_control.hasRole[PAUSER_ROLE][msg.sender], "exchange: not pauser"


# the admin check of every admin entry point, at its top like the operator and pauser checks;
# a call rather than the assert inline: the nine inlined copies (assert + reason string)
# measured 1,133 bytes more, which would take the Exchange past EIP-170's 24,576
@internal
@view
def _only_admin():
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "exchange: not admin"


@internal
@view
def _signer(digest: bytes32, account: address, sig: IExchange.Signature) -> address:
    """
    @dev The recovered signer if it is `account` or its agent, else empty (skip, not revert).
         `ecrecover` directly, not snekmate's `ecdsa`: its recover functions revert on a bad
         `v`, a high `s` or a zero signer, and one bad signature must skip its fill, never
         sink the batch (the same checks are made here, as a skip).
    """
    if sig.v != 27 and sig.v != 28:
        return empty(address)
    if convert(sig.s, uint256) > SECP256K1_HALF_N:
        return empty(address)
    signer: address = ecrecover(digest, sig.v, sig.r, sig.s)
    if signer == empty(address):
        return empty(address)
    if self._may_sign(account, signer):
        return signer
    return empty(address)


# The EIP-712 domain is built here (cached separator, rebuilt on a chain id change), not by
# snekmate's eip712_domain_separator: that module adds the ERC-5267 eip712Domain() export and
# string immutables, and the Exchange is within ~1 KB of EIP-170's 24,576-byte limit; the
# digest is the same (offchain/order.py's; tests/contracts/exchange/test_views.py checks it).
@internal
@view
def _may_sign(account: address, who: address) -> bool:
    """@dev The account itself, its agent, or (a sub-account) its owner's agent (the owner is an agent)."""
    return who == account or ledger._agents[account][who] or ledger._agents[ledger.subaccount_owner[account]][who]


@internal
@view
def _domain_separator() -> bytes32:
    if chain.id == _CACHED_CHAIN_ID:
        return _CACHED_DOMAIN_SEPARATOR
    return self._build_domain_separator()


@internal
@view
def _build_domain_separator() -> bytes32:
    return keccak256(abi_encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self))


@internal
@view
def _hash_order(order: IExchange.Order) -> bytes32:
    return self._hash_with(order, self._domain_separator())


@internal
@pure
def _hash_with(order: IExchange.Order, domain: bytes32) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(
            constants.ORDER_TYPEHASH,
            order.account,
            order.market,
            order.is_buy,
            order.price,
            order.size,
            order.nonce,
            order.expiry,
            order.flags,
        )
    )
    return keccak256(concat(b"\x19\x01", domain, struct_hash))











