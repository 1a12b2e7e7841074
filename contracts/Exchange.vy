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
from interfaces import IOracle
from interfaces import IRebateEngine

import fee_tiers

implements: IExchange

initializes: access_control
initializes: pausable

exports: access_control.__interface__
exports: pausable.paused

# ---------------------------------------------------------------- constants

OPERATOR_ROLE: public(constant(bytes32)) = keccak256("OPERATOR_ROLE")
PAUSER_ROLE: public(constant(bytes32)) = keccak256("PAUSER_ROLE")

BPS: constant(uint256) = 10_000
ONE: constant(uint256) = 10**18
ONE_I: constant(int256) = 10**18
MAX_FILLS: constant(uint256) = 64
# Market ids are 1..MAX_MARKET_ID; one bit per market in the account config word.
MAX_MARKET_ID: constant(uint256) = 127

FLAG_POST_ONLY: constant(uint256) = 1
FLAG_REDUCE_ONLY: constant(uint256) = 2
KNOWN_FLAGS: constant(uint256) = FLAG_POST_ONLY | FLAG_REDUCE_ONLY

# filled[hash] == CANCELLED marks an order cancelled on chain (one map for both).
CANCELLED: constant(uint256) = max_value(uint256)

# secp256k1 n // 2: signatures with a larger s are the malleable twin.
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

ORDER_TYPEHASH: constant(bytes32) = keccak256(
    "Order(address account,uint256 market,bool is_buy,uint256 price,uint256 size,uint256 nonce,uint256 expiry,uint256 flags)"
)
DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("MMX Exchange")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")

# Bounds that keep a position inside its int128 half of the packed slot.
MAX_PRICE: constant(uint256) = 2**96
MAX_SIZE: constant(uint256) = 2**120
INT128_MIN: constant(int256) = -(2**127)
INT128_MAX: constant(int256) = 2**127 - 1
LOW128: constant(uint256) = 2**128 - 1

# Account config word: [0, 64) nonce floor | [64, 192) open-market bitmap (bit 64 + id)
# | [192, 224) leverage cap bps | bit 224 close-only | bit 225 has position caps.
NONCE_MASK: constant(uint256) = 2**64 - 1
MARKETS_SHIFT: constant(uint256) = 64
MARKETS_MASK: constant(uint256) = 2**128 - 1
LEVERAGE_SHIFT: constant(uint256) = 192
LEVERAGE_MASK: constant(uint256) = 2**32 - 1
CLOSE_ONLY_BIT: constant(uint256) = 1 << 224
HAS_CAPS_BIT: constant(uint256) = 1 << 225

PRICE_OK: constant(uint256) = 0
PRICE_HALTED: constant(uint256) = 1
PRICE_STALE: constant(uint256) = 2

# Account word: [0, 128) collateral (int128, two's complement) | [128, 256) trailing-volume
# record (fee_tiers encoding). Both change on every fill, so the volume costs no extra slot.
VOLUME_SHIFT: constant(uint256) = 128
MAX_PENALTY_BPS: constant(uint256) = 2_000
DEFAULT_PENALTY_BPS: constant(uint256) = 100

# ---------------------------------------------------------------- storage

usdc: public(immutable(address))
oracle: public(immutable(address))
rebate_engine: public(immutable(address))

_CACHED_DOMAIN_SEPARATOR: immutable(bytes32)
_CACHED_CHAIN_ID: immutable(uint256)
_SELF: immutable(address)

_accounts: HashMap[address, uint256]
_positions: HashMap[address, HashMap[uint256, uint256]]
_config: HashMap[address, uint256]
_agents: HashMap[address, HashMap[address, bool]]
_filled: HashMap[bytes32, uint256]
position_cap: public(HashMap[address, HashMap[uint256, uint256]])

_markets: HashMap[uint256, IExchange.Market]


# Per-batch context of settle (memory only).
struct Batch:
    mark: uint256
    status: uint256
    fees: uint256
    thresholds_lo: uint256
    thresholds_hi: uint256
    epoch: uint256
    elapsed: uint256
market_count: public(uint256)

fees_accrued: public(uint256)
fee_recipient: public(address)
fee_share_bps: public(uint256)
treasury: public(address)
backstop: public(address)
liquidation_penalty_bps: public(uint256)


@deploy
def __init__(usdc_: address, oracle_: address, rebate_engine_: address, treasury_: address):
    """
    @notice Deploy the Exchange; msg.sender gets DEFAULT_ADMIN_ROLE.
    @param usdc_ The 6-decimal collateral token.
    @param oracle_ The mark price oracle (IOracle).
    @param rebate_engine_ The fee tier engine (IRebateEngine).
    @param treasury_ Receiver of the treasury share of net fees.
    """
    assert usdc_ != empty(address), "exchange: zero address"
    assert oracle_ != empty(address), "exchange: zero address"
    assert rebate_engine_ != empty(address), "exchange: zero address"
    assert treasury_ != empty(address), "exchange: zero address"
    access_control.__init__()
    pausable.__init__()
    usdc = usdc_
    oracle = oracle_
    rebate_engine = rebate_engine_
    self.treasury = treasury_
    self.liquidation_penalty_bps = DEFAULT_PENALTY_BPS
    _SELF = self
    _CACHED_CHAIN_ID = chain.id
    _CACHED_DOMAIN_SEPARATOR = self._build_domain_separator()
    log IExchange.FeeConfigSet(recipient=empty(address), share_bps=0, treasury=treasury_)
    log IExchange.LiquidationPenaltySet(penalty_bps=DEFAULT_PENALTY_BPS)


# ================================================================ accounts

@external
@nonreentrant
def deposit(amount: uint256):
    """
    @notice Deposit `amount` USDC as collateral of msg.sender.
    @dev Reverts while paused. Needs an USDC allowance for the Exchange.
    @param amount USDC units.
    """
    self._deposit(msg.sender, amount)


@external
@nonreentrant
def deposit_for(account: address, amount: uint256):
    """
    @notice Deposit `amount` USDC from msg.sender as collateral of `account`.
    @dev Vaults and the pool use it; reverts while paused.
    @param account The credited account.
    @param amount USDC units.
    """
    self._nonzero(account)
    self._deposit(account, amount)


@external
@nonreentrant
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` USDC of msg.sender's collateral.
    @dev Allowed while paused. The amount must not exceed collateral, and equity after
         the withdrawal must stay at or above the initial margin requirement valued at
         fresh, non-halted marks.
    @param amount USDC units.
    """
    assert amount > 0, "exchange: zero amount"
    word: uint256 = self._accounts[msg.sender]
    coll: int256 = self._coll(word) - convert(amount, int256)
    assert coll >= 0, "exchange: insufficient collateral"
    cfg: uint256 = self._config[msg.sender]
    if (cfg >> MARKETS_SHIFT) & MARKETS_MASK != 0:
        equity: int256 = 0
        req: uint256 = 0
        notional: uint256 = 0
        status: uint256 = 0
        equity, req, notional, status = self._health(msg.sender, cfg, 0, 0, 0, 0, coll, True)
        self._fresh(status)
        assert equity >= convert(req, int256), "exchange: margin"
    self._accounts[msg.sender] = self._account_word(coll, word >> VOLUME_SHIFT)
    self._pay(msg.sender, amount)
    log IExchange.Withdraw(account=msg.sender, amount=amount)


@external
def approve_agent(agent: address, approved: bool):
    """
    @notice Approve or revoke `agent` as a signer of orders for msg.sender.
    @dev Contracts (vaults, pool) use it for their manager's key.
    @param agent The signer.
    @param approved True to approve, False to revoke.
    """
    self._nonzero(agent)
    assert agent != msg.sender, "exchange: self agent"
    self._agents[msg.sender][agent] = approved
    log IExchange.AgentSet(account=msg.sender, agent=agent, approved=approved)


@external
def cancel_order(order: IExchange.Order):
    """
    @notice Cancel `order` on chain so no further fill of it settles.
    @param order The signed order; msg.sender must be order.account or its agent.
    """
    self._authorised(order.account)
    digest: bytes32 = self._hash_order(order)
    self._filled[digest] = CANCELLED
    log IExchange.OrderCancelled(account=order.account, order_hash=digest)


@external
def cancel_all_below(nonce: uint256):
    """
    @notice Void all of msg.sender's orders with a nonce below `nonce`.
    @param nonce The new nonce floor; must be above the current one and below 2**64.
    """
    self._set_min_nonce(msg.sender, nonce)


@external
def cancel_all_below_for(account: address, nonce: uint256):
    """
    @notice Void all of `account`'s orders with a nonce below `nonce`.
    @param account The account; msg.sender must be it or its agent.
    @param nonce The new nonce floor; must be above the current one and below 2**64.
    """
    self._authorised(account)
    self._set_min_nonce(account, nonce)


@external
def set_close_only(enabled: bool):
    """
    @notice While enabled, only fills that reduce msg.sender's position settle for it
            (skip reason "close only").
    @param enabled The new state.
    """
    cfg: uint256 = self._config[msg.sender]
    if enabled:
        cfg = cfg | CLOSE_ONLY_BIT
    else:
        cfg = cfg & ~CLOSE_ONLY_BIT
    self._config[msg.sender] = cfg
    log IExchange.CloseOnlySet(account=msg.sender, enabled=enabled)


@external
def set_leverage_cap(cap_bps: uint256):
    """
    @notice Cap msg.sender's leverage: total notional at mark * 10_000 must not exceed
            cap_bps * equity after a fill that adds risk (skip reason "leverage").
    @param cap_bps Leverage in bps (30_000 = 3x); 0 removes the cap.
    """
    assert cap_bps <= LEVERAGE_MASK, "exchange: cap too large"
    cfg: uint256 = self._config[msg.sender] & ~(LEVERAGE_MASK << LEVERAGE_SHIFT)
    self._config[msg.sender] = cfg | (cap_bps << LEVERAGE_SHIFT)
    log IExchange.LeverageCapSet(account=msg.sender, cap_bps=cap_bps)


@external
def set_position_cap(market: uint256, size: uint256):
    """
    @notice Cap msg.sender's absolute position in `market` after a fill that grows it
            (skip reason "position cap").
    @param market The market id.
    @param size Base units; 0 removes the cap.
    """
    self._known_market(market)
    self.position_cap[msg.sender][market] = size
    if size != 0:
        self._config[msg.sender] = self._config[msg.sender] | HAS_CAPS_BIT
    log IExchange.PositionCapSet(account=msg.sender, market=market, size=size)


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
    max_age: uint256 = staticcall IOracle(oracle).max_age()
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
            mkt = self._markets[market]
            if mkt.active:
                b.mark, b.status = self._price(market, max_age)
            cur_market = market
        reason: String[32] = ""
        net_fee: uint256 = 0
        reason, net_fee = self._settle_fill(f, hm, ht, mkt, b)
        if len(reason) == 0:
            settled += 1
            fees += net_fee
        else:
            log IExchange.FillSkipped(maker_hash=hm, taker_hash=ht, reason=reason)

    if fees != 0:
        self.fees_accrued += fees
    return settled


@internal
def _settle_fill(f: IExchange.Fill, hm: bytes32, ht: bytes32, mkt: IExchange.Market, b: Batch) -> (String[32], uint256):
    """
    @dev Checks one fill (all reads first) and applies it. Returns ("", net fee) when
         settled, or (reason, 0) with no state written. Reads per account: config,
         position, account word (collateral | volume); writes position, account word
         and (on open / close) config.
    """
    market: uint256 = f.maker.market
    size: uint256 = f.size
    price: uint256 = f.maker.price
    maker: address = f.maker.account
    taker: address = f.taker.account

    # ---- stateless checks and market parameters
    if f.taker.market != market:
        return "market mismatch", 0
    if not mkt.active:
        return "inactive", 0
    if f.maker.is_buy == f.taker.is_buy:
        return "side", 0
    if (f.maker.flags | f.taker.flags) & ~KNOWN_FLAGS != 0:
        return "flags", 0
    if maker == taker:
        return "self trade", 0
    if f.maker.expiry < block.timestamp or f.taker.expiry < block.timestamp:
        return "expired", 0
    if f.taker.flags & FLAG_POST_ONLY != 0:
        return "post only", 0
    if f.maker.is_buy:
        if f.taker.price > price:
            return "no cross", 0
    elif f.taker.price < price:
        return "no cross", 0
    if size == 0 or size > MAX_SIZE or price == 0 or price > MAX_PRICE:
        return "size", 0
    if price % mkt.tick != 0:
        return "tick", 0
    if size % mkt.lot != 0:
        return "lot", 0

    # ---- order state
    maker_cfg: uint256 = self._config[maker]
    taker_cfg: uint256 = self._config[taker]
    if f.maker.nonce < maker_cfg & NONCE_MASK or f.taker.nonce < taker_cfg & NONCE_MASK:
        return "nonce", 0
    fm: uint256 = self._filled[hm]
    ft: uint256 = self._filled[ht]
    if fm == CANCELLED or ft == CANCELLED:
        return "cancelled", 0
    if fm + size > f.maker.size or ft + size > f.taker.size:
        return "overfill", 0
    if size < mkt.min_size:
        if fm + size != f.maker.size and ft + size != f.taker.size:
            return "min size", 0

    # ---- signatures
    if not self._valid_signature(hm, maker, f.maker_sig):
        return "bad signature", 0
    if not self._valid_signature(ht, taker, f.taker_sig):
        return "bad signature", 0

    # ---- oracle
    mark: uint256 = b.mark
    if b.status == PRICE_HALTED:
        return "halted", 0
    if b.status == PRICE_STALE:
        return "stale", 0
    diff: uint256 = unsafe_sub(price, mark) if price > mark else unsafe_sub(mark, price)
    if diff * BPS > mark * mkt.band_bps:
        return "band", 0

    # ---- new positions, fee and rebate (tiers from the volume before this fill)
    notional: uint256 = price * size // ONE
    delta: int256 = convert(size, int256)
    maker_delta: int256 = delta
    if not f.maker.is_buy:
        maker_delta = -delta

    m_old: int256 = 0
    m_cost: int256 = 0
    m_old, m_cost = self._unpack(self._positions[maker][market])
    m_new: int256 = 0
    m_new_cost: int256 = 0
    m_pnl: int256 = 0
    m_new, m_new_cost, m_pnl = self._trade(m_old, m_cost, maker_delta, notional, price)

    t_old: int256 = 0
    t_cost: int256 = 0
    t_old, t_cost = self._unpack(self._positions[taker][market])
    t_new: int256 = 0
    t_new_cost: int256 = 0
    t_pnl: int256 = 0
    t_new, t_new_cost, t_pnl = self._trade(t_old, t_cost, -maker_delta, notional, price)

    m_word: uint256 = self._accounts[maker]
    t_word: uint256 = self._accounts[taker]
    m_vol: uint256 = m_word >> VOLUME_SHIFT
    t_vol: uint256 = t_word >> VOLUME_SHIFT
    fee_bps: uint256 = fee_tiers.taker_fee(
        b.fees, fee_tiers.tier_index(fee_tiers.trailing(t_vol, b.epoch, b.elapsed), b.fees, b.thresholds_lo, b.thresholds_hi)
    )
    rebate_bps: uint256 = fee_tiers.maker_rebate(
        b.fees, fee_tiers.tier_index(fee_tiers.trailing(m_vol, b.epoch, b.elapsed), b.fees, b.thresholds_lo, b.thresholds_hi)
    )
    fee: uint256 = (notional * fee_bps + BPS - 1) // BPS
    rebate: uint256 = min(notional * rebate_bps // BPS, fee)
    m_coll: int256 = self._coll(m_word) + m_pnl
    t_coll: int256 = self._coll(t_word) + t_pnl - convert(fee, int256)

    # ---- risk checks (maker: rebate ignored, only helps; taker: after its fee)
    reason: String[32] = self._risk(
        maker, maker_cfg, f.maker.flags, market, mark, mkt.initial_margin_bps, m_old, m_new, m_new_cost, m_coll
    )
    if len(reason) != 0:
        return reason, 0
    reason = self._risk(
        taker, taker_cfg, f.taker.flags, market, mark, mkt.initial_margin_bps, t_old, t_new, t_new_cost, t_coll
    )
    if len(reason) != 0:
        return reason, 0

    # ---- effects
    self._filled[hm] = fm + size
    self._filled[ht] = ft + size
    self._write_position(maker, maker_cfg, market, m_old, m_new, m_new_cost)
    self._write_position(taker, taker_cfg, market, t_old, t_new, t_new_cost)
    self._accounts[maker] = self._account_word(m_coll + convert(rebate, int256), fee_tiers.added(m_vol, notional, b.epoch))
    self._accounts[taker] = self._account_word(t_coll, fee_tiers.added(t_vol, notional, b.epoch))

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
    )
    return "", unsafe_sub(fee, rebate)


@internal
def _risk(
    account: address,
    cfg: uint256,
    flags: uint256,
    market: uint256,
    mark: uint256,
    im_bps: uint256,
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
    if reducing:
        return ""
    if flags & FLAG_REDUCE_ONLY != 0:
        return "reduce only"
    if cfg & CLOSE_ONLY_BIT != 0:
        return "close only"
    if cfg & HAS_CAPS_BIT != 0:
        cap: uint256 = self.position_cap[account][market]
        if cap != 0 and convert(abs(new_size), uint256) > cap and abs(new_size) > abs(old_size):
            return "position cap"

    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    if (cfg >> MARKETS_SHIFT) & MARKETS_MASK & ~(1 << market) == 0:
        # no open position in another market: value this one directly
        total = convert(abs(new_size), uint256) * mark // ONE
        equity = coll + new_size * convert(mark, int256) // ONE_I - new_cost
        req = (total * im_bps + BPS - 1) // BPS
    else:
        status: uint256 = 0
        equity, req, total, status = self._health(account, cfg, market, mark, new_size, new_cost, coll, True)
        if status == PRICE_HALTED:
            return "halted"
        if status == PRICE_STALE:
            return "stale"
    if equity < convert(req, int256):
        return "margin"
    lev_cap: uint256 = (cfg >> LEVERAGE_SHIFT) & LEVERAGE_MASK
    if lev_cap != 0:
        if equity <= 0 or total * BPS > lev_cap * convert(equity, uint256):
            return "leverage"
    return ""


@internal
def _write_position(account: address, cfg: uint256, market: uint256, old_size: int256, new_size: int256, new_cost: int256):
    self._positions[account][market] = self._pack(new_size, new_cost)
    bit: uint256 = 1 << (MARKETS_SHIFT + market)
    if old_size == 0:
        self._config[account] = cfg | bit
    elif new_size == 0:
        self._config[account] = cfg & ~bit


@internal
@pure
def _trade(size: int256, cost: int256, delta: int256, notional: uint256, price: uint256) -> (int256, int256, int256):
    """
    @dev New (size, cost) and realised PnL of a trade of `delta` base units whose
         notional is `notional` (the same for both sides, so cash is zero-sum).
         realised = cash + (new_cost - cost), cash = +notional for a sell, -notional
         for a buy. Reducing keeps the average entry: cost * remaining / size
         (truncated toward zero); a flip opens the remainder at `price`.
    """
    n: int256 = convert(notional, int256)
    cash: int256 = -n
    if delta < 0:
        cash = n
    new_size: int256 = size + delta
    new_cost: int256 = 0
    if size == 0 or (size > 0) == (delta > 0):
        return new_size, cost - cash, 0
    abs_size: int256 = abs(size)
    abs_delta: int256 = abs(delta)
    if abs_delta <= abs_size:
        new_cost = cost - cost * abs_delta // abs_size
    else:
        opened: int256 = convert(price, int256) * (abs_delta - abs_size) // ONE_I
        new_cost = opened
        if delta < 0:
            new_cost = -opened
    return new_size, new_cost, cash + new_cost - cost


# ================================================================ liquidation

@external
@nonreentrant
def liquidate(account: address, market: uint256):
    """
    @notice Move `account`'s whole position in `market` to the backstop at the mark
            price when the account's equity is below its maintenance requirement.
    @dev Anyone may call; reverts while paused. A penalty of
         liquidation_penalty_bps of the moved notional (capped at the account's
         remaining positive equity) moves from the account's collateral to the backstop.
         Reverts "exchange: backstop margin" if the backstop ends below initial margin.
    @param account The account to liquidate.
    @param market The market whose position moves.
    """
    self._not_paused()
    bs: address = self.backstop
    assert bs != empty(address), "exchange: no backstop"
    assert account != bs, "exchange: backstop"
    self._known_market(market)
    size: int256 = 0
    cost: int256 = 0
    size, cost = self._unpack(self._positions[account][market])
    assert size != 0, "exchange: no position"

    cfg: uint256 = self._config[account]
    word: uint256 = self._accounts[account]
    coll: int256 = self._coll(word)
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = self._health(account, cfg, 0, 0, 0, 0, coll, False)
    self._fresh(status)
    assert equity < convert(req, int256), "exchange: not liquidatable"

    mark: uint256 = 0
    mark, status = self._price(market, staticcall IOracle(oracle).max_age())
    notional: uint256 = convert(abs(size), uint256) * mark // ONE

    new_size: int256 = 0
    new_cost: int256 = 0
    pnl: int256 = 0
    new_size, new_cost, pnl = self._trade(size, cost, -size, notional, mark)
    self._write_position(account, cfg, market, size, new_size, new_cost)

    bs_cfg: uint256 = self._config[bs]
    bs_size: int256 = 0
    bs_cost: int256 = 0
    bs_size, bs_cost = self._unpack(self._positions[bs][market])
    bs_new: int256 = 0
    bs_new_cost: int256 = 0
    bs_pnl: int256 = 0
    bs_new, bs_new_cost, bs_pnl = self._trade(bs_size, bs_cost, size, notional, mark)
    self._write_position(bs, bs_cfg, market, bs_size, bs_new, bs_new_cost)

    penalty: uint256 = notional * self.liquidation_penalty_bps // BPS
    if equity <= 0:
        penalty = 0
    else:
        penalty = min(penalty, convert(equity, uint256))
    self._accounts[account] = self._account_word(coll + pnl - convert(penalty, int256), word >> VOLUME_SHIFT)
    bs_word: uint256 = self._accounts[bs]
    bs_coll: int256 = self._coll(bs_word) + bs_pnl + convert(penalty, int256)
    self._accounts[bs] = self._account_word(bs_coll, bs_word >> VOLUME_SHIFT)

    bs_equity: int256 = 0
    bs_req: uint256 = 0
    bs_equity, bs_req, total, status = self._health(bs, self._config[bs], 0, 0, 0, 0, bs_coll, True)
    assert status == PRICE_OK and bs_equity >= convert(bs_req, int256), "exchange: backstop margin"

    log IExchange.Liquidation(
        account=account, market=market, backstop=bs, size=size, price=mark, penalty=penalty, caller=msg.sender
    )


# ================================================================ fees

@external
@nonreentrant
def distribute_fees():
    """
    @notice Pay out accrued net fees: fee_share_bps of them is credited to the fee
            recipient's collateral (the liquidity pool), the rest is transferred to
            the treasury. Anyone may call.
    """
    amount: uint256 = self.fees_accrued
    assert amount > 0, "exchange: no fees"
    recipient: address = self.fee_recipient
    share: uint256 = 0
    if recipient != empty(address):
        share = amount * self.fee_share_bps // BPS
    rest: uint256 = amount - share
    self.fees_accrued = 0
    if share != 0:
        self._credit(recipient, convert(share, int256))
    tre: address = self.treasury
    if rest != 0:
        self._pay(tre, rest)
    log IExchange.FeesDistributed(recipient=recipient, recipient_amount=share, treasury=tre, treasury_amount=rest)


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
    market: uint256 = self.market_count + 1
    assert market <= MAX_MARKET_ID, "exchange: too many markets"
    self.market_count = market
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
    self._known_market(market)
    self._set_market(market, tick, lot, min_size, initial_margin_bps, maintenance_margin_bps, band_bps, active)


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
    assert share_bps <= BPS, "exchange: bad share"
    self._nonzero(treasury_)
    if share_bps != 0:
        self._nonzero(recipient)
    self.fee_recipient = recipient
    self.fee_share_bps = share_bps
    self.treasury = treasury_
    log IExchange.FeeConfigSet(recipient=recipient, share_bps=share_bps, treasury=treasury_)


@external
def set_backstop(backstop_: address):
    """
    @notice Set the account that takes over liquidated positions (the liquidity pool).
    @dev DEFAULT_ADMIN_ROLE.
    @param backstop_ The backstop account (empty disables liquidation).
    """
    self._only_admin()
    self.backstop = backstop_
    log IExchange.BackstopSet(backstop=backstop_)


@external
def set_liquidation_penalty(penalty_bps: uint256):
    """
    @notice Set the liquidation penalty in bps of the moved notional.
    @dev DEFAULT_ADMIN_ROLE; at most 2_000.
    @param penalty_bps The penalty.
    """
    self._only_admin()
    assert penalty_bps <= MAX_PENALTY_BPS, "exchange: bad penalty"
    self.liquidation_penalty_bps = penalty_bps
    log IExchange.LiquidationPenaltySet(penalty_bps=penalty_bps)


@external
def pause():
    """
    @notice Emergency pause: stops settle, deposits and liquidations. Withdrawals,
            cancels and account settings stay available.
    @dev PAUSER_ROLE.
    """
    self._set_paused(True)


@external
def unpause():
    """
    @notice Lift the emergency pause.
    @dev PAUSER_ROLE.
    """
    self._set_paused(False)


# ================================================================ views

@view
@external
def hash_order(order: IExchange.Order) -> bytes32:
    """
    @notice The EIP-712 digest of `order` (equals offchain.order.order_hash).
    @param order The order.
    @return The digest signed by the account and keyed by filled().
    """
    return self._hash_order(order)


@view
@external
def domain_separator() -> bytes32:
    """
    @notice The EIP-712 domain separator ("MMX Exchange", "1", chain id, this address).
    @return The separator.
    """
    return self._domain_separator()


@view
@external
def filled(order_hash: bytes32) -> uint256:
    """
    @notice Base units filled of an order; max_value(uint256) once cancelled on chain.
    @param order_hash The order digest.
    @return The filled amount.
    """
    return self._filled[order_hash]


@view
@external
def cancelled(order_hash: bytes32) -> bool:
    """
    @notice Whether the order was cancelled on chain.
    @param order_hash The order digest.
    @return True if cancelled.
    """
    return self._filled[order_hash] == CANCELLED


@view
@external
def min_nonce(account: address) -> uint256:
    """
    @notice The account's nonce floor: orders with a smaller nonce are void.
    @param account The account.
    @return The floor.
    """
    return self._config[account] & NONCE_MASK


@view
@external
def is_agent(account: address, agent: address) -> bool:
    """
    @notice Whether `agent` may sign orders for `account`.
    @param account The account.
    @param agent The signer.
    @return True if approved.
    """
    return self._agents[account][agent]


@view
@external
def collateral(account: address) -> int256:
    """
    @notice The account's collateral (deposits + realised PnL - fees + rebates).
    @param account The account.
    @return USDC units (negative = bad debt).
    """
    return self._coll(self._accounts[account])


@view
@external
def volume_state(account: address) -> (uint256, uint256, uint256):
    """
    @notice The account's raw trailing-volume record (fee tiers, docs/fees.md).
    @param account The account.
    @return (epoch of the last fill mod 2**16, volume in that epoch, volume in the epoch before)
    """
    record: uint256 = self._accounts[account] >> VOLUME_SHIFT
    return record & 65535, (record >> 16) & fee_tiers.MAX_VOLUME, record >> 72


@view
@external
def trailing_volume(account: address) -> uint256:
    """
    @notice The account's trailing 30-day volume in USDC units, from which its tier is
            looked up (RebateEngine.tier_for_volume).
    @param account The account.
    @return The volume.
    """
    return fee_tiers.trailing(
        self._accounts[account] >> VOLUME_SHIFT,
        block.timestamp // fee_tiers.EPOCH_LENGTH,
        block.timestamp % fee_tiers.EPOCH_LENGTH,
    )


@view
@external
def position(account: address, market: uint256) -> (int256, int256):
    """
    @notice The account's position in `market`.
    @param account The account.
    @param market The market id.
    @return (size in signed base units, cost basis in signed USDC units)
    """
    return self._unpack(self._positions[account][market])


@view
@external
def equity(account: address) -> int256:
    """
    @notice Collateral plus unrealised PnL at the oracle marks (stale or not).
    @param account The account.
    @return Equity in USDC units (negative = bad debt).
    """
    equity: int256 = 0
    req: uint256 = 0
    equity, req = self._health_of(account, True)
    return equity


@view
@external
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
    equity, req = self._health_of(account, initial)
    return req


@view
@external
def free_collateral(account: address) -> int256:
    """
    @notice Equity minus the initial margin requirement.
    @param account The account.
    @return Free collateral (negative when below initial margin).
    """
    equity: int256 = 0
    req: uint256 = 0
    equity, req = self._health_of(account, True)
    return equity - convert(req, int256)


@view
@external
def close_only(account: address) -> bool:
    """
    @notice Whether the account is in close-only mode.
    @param account The account.
    @return True if only reducing fills settle for it.
    """
    return self._config[account] & CLOSE_ONLY_BIT != 0


@view
@external
def leverage_cap(account: address) -> uint256:
    """
    @notice The account's leverage cap in bps (0 = none).
    @param account The account.
    @return The cap.
    """
    return (self._config[account] >> LEVERAGE_SHIFT) & LEVERAGE_MASK


@view
@external
def markets(market: uint256) -> IExchange.Market:
    """
    @notice A market's parameters.
    @param market The market id (1..market_count).
    @return The Market struct.
    """
    return self._markets[market]


# ================================================================ internals

@internal
@view
def _health_of(account: address, initial: bool) -> (int256, uint256):
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = self._health(account, self._config[account], 0, 0, 0, 0, self._coll(self._accounts[account]), initial)
    return equity, req


@internal
@pure
def _nonzero(account: address):
    assert account != empty(address), "exchange: zero address"


@internal
@view
def _not_paused():
    assert not pausable.paused, "exchange: paused"


@internal
@view
def _known_market(market: uint256):
    assert market != 0 and market <= self.market_count, "exchange: unknown market"


@internal
@view
def _authorised(account: address):
    assert msg.sender == account or self._agents[account][msg.sender], "exchange: not authorised"


@internal
@pure
def _fresh(status: uint256):
    assert status != PRICE_HALTED, "exchange: halted"
    assert status != PRICE_STALE, "exchange: stale price"


@internal
def _pay(to: address, amount: uint256):
    assert extcall IERC20(usdc).transfer(to, amount, default_return_value=True), "exchange: transfer failed"


@internal
def _set_paused(paused: bool):
    assert access_control.hasRole[PAUSER_ROLE][msg.sender], "exchange: not pauser"
    if paused:
        self._not_paused()
        pausable._pause()
    else:
        assert pausable.paused, "exchange: not paused"
        pausable._unpause()


@internal
@view
def _only_admin():
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "exchange: not admin"


@internal
def _deposit(account: address, amount: uint256):
    self._not_paused()
    assert amount > 0, "exchange: zero amount"
    assert amount <= convert(max_value(int128), uint256), "exchange: amount too large"
    self._credit(account, convert(amount, int256))
    assert extcall IERC20(usdc).transferFrom(msg.sender, self, amount, default_return_value=True), "exchange: transfer failed"
    log IExchange.Deposit(account=account, sender=msg.sender, amount=amount)


@internal
def _set_min_nonce(account: address, nonce: uint256):
    assert nonce <= NONCE_MASK, "exchange: nonce too large"
    cfg: uint256 = self._config[account]
    assert nonce > cfg & NONCE_MASK, "exchange: nonce not increasing"
    self._config[account] = (cfg & ~NONCE_MASK) | nonce
    log IExchange.MinNonceSet(account=account, min_nonce=nonce)


@internal
def _set_market(
    market: uint256, tick: uint256, lot: uint256, min_size: uint256, im: uint256, mm: uint256, band: uint256, active: bool
):
    assert tick > 0 and tick <= MAX_PRICE, "exchange: bad tick"
    assert lot > 0 and lot <= MAX_SIZE, "exchange: bad lot"
    assert min_size >= lot and min_size % lot == 0 and min_size <= MAX_SIZE, "exchange: bad min size"
    assert mm > 0 and mm <= im and im <= BPS, "exchange: bad margin"
    assert band > 0 and band <= BPS, "exchange: bad band"
    self._markets[market] = IExchange.Market(
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


@internal
@view
def _price(market: uint256, max_age: uint256) -> (uint256, uint256):
    """
    @dev (mark, status): PRICE_HALTED if the oracle halted the market, PRICE_STALE if
         the price is older than max_age, unset or out of range.
    """
    price: uint256 = 0
    updated_at: uint256 = 0
    halted: bool = False
    price, updated_at, halted = staticcall IOracle(oracle).price_info(market)
    if halted:
        return price, PRICE_HALTED
    if price == 0 or price > MAX_PRICE or updated_at + max_age < block.timestamp:
        return price, PRICE_STALE
    return price, PRICE_OK


@internal
@view
def _health(
    account: address,
    cfg: uint256,
    market: uint256,
    mark: uint256,
    size: int256,
    cost: int256,
    coll: int256,
    initial: bool,
) -> (int256, uint256, uint256, uint256):
    """
    @dev (equity, margin requirement, total notional at mark, worst price status) of an
         account whose position in `market` (if non-zero) is replaced by (size, cost)
         valued at `mark`. Loops over the account's open-market bitmap only.
    """
    bm: uint256 = (cfg >> MARKETS_SHIFT) & MARKETS_MASK
    if market != 0:
        bm = bm | (1 << market)
    equity: int256 = coll
    req: uint256 = 0
    total: uint256 = 0
    worst: uint256 = PRICE_OK
    max_age: uint256 = 0
    for i: uint256 in range(MAX_MARKET_ID + 1):
        if bm == 0:
            break
        if bm & 1 == 1:
            s: int256 = size
            c: int256 = cost
            p: uint256 = mark
            if i != market:
                s, c = self._unpack(self._positions[account][i])
                if max_age == 0:
                    max_age = staticcall IOracle(oracle).max_age()
                st: uint256 = 0
                p, st = self._price(i, max_age)
                worst = max(worst, st)
            if s != 0:
                equity += s * convert(p, int256) // ONE_I - c
                n: uint256 = convert(abs(s), uint256) * p // ONE
                total += n
                bps: uint256 = self._markets[i].maintenance_margin_bps
                if initial:
                    bps = self._markets[i].initial_margin_bps
                req += (n * bps + BPS - 1) // BPS
        bm = bm >> 1
    return equity, req, total, worst


@internal
@view
def _valid_signature(digest: bytes32, account: address, sig: IExchange.Signature) -> bool:
    if sig.v != 27 and sig.v != 28:
        return False
    if convert(sig.s, uint256) > SECP256K1_HALF_N:
        return False
    signer: address = ecrecover(digest, sig.v, sig.r, sig.s)
    if signer == empty(address):
        return False
    if signer == account:
        return True
    return self._agents[account][signer]


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
            ORDER_TYPEHASH,
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


@internal
@pure
def _coll(word: uint256) -> int256:
    return convert(convert(word << 128, bytes32), int256) >> 128


@internal
@pure
def _account_word(coll: int256, record: uint256) -> uint256:
    return self._i128(coll) | (record << VOLUME_SHIFT)


@internal
def _credit(account: address, amount: int256):
    word: uint256 = self._accounts[account]
    self._accounts[account] = self._account_word(self._coll(word) + amount, word >> VOLUME_SHIFT)


@internal
@pure
def _i128(x: int256) -> uint256:
    """@dev x as a 128-bit two's complement field; reverts if it does not fit."""
    assert x >= INT128_MIN and x <= INT128_MAX, "exchange: overflow"
    return convert(convert(x, bytes32), uint256) & LOW128


@internal
@pure
def _pack(size: int256, cost: int256) -> uint256:
    return self._i128(size) | (self._i128(cost) << 128)


@internal
@pure
def _unpack(packed: uint256) -> (int256, int256):
    return convert(convert(packed << 128, bytes32), int256) >> 128, convert(convert(packed, bytes32), int256) >> 128
