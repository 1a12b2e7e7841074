# pragma version ~=0.4.3
"""
@title MMX Exchange ledger (storage module)
@custom:contract-name ledger
@license MIT
@notice Every storage variable of the Exchange and the helpers that read and write them
        (packing, valuation, the trade arithmetic). Exchange and ExchangeRisk both
        `initializes: ledger` as their first declaration, so the ledger occupies the same
        slots in both and ExchangeRisk runs on the Exchange's storage by DELEGATECALL:
        the Exchange keeps its hot path (settle) under the EIP-170 size limit while the
        risk engine (liquidation, insurance fund, ADL, delisting) lives in a second
        contract with its own code. Nothing may be declared before `initializes: ledger`.
@dev Units: USDC 6 decimals; price = USDC units per 1e18 base units;
     notional = price * size // 10**18. docs/exchange.md has the storage layout.
"""

from ethereum.ercs import IERC20

from interfaces import IExchange
from interfaces import IFunding
from interfaces import IOracle

import constants
import funding_math
import margin_tiers

# Market ids are 1..MAX_MARKET_ID; one bit per market in the account config word.
MAX_MARKET_ID: constant(uint256) = 127

FLAG_POST_ONLY: constant(uint256) = 1
FLAG_REDUCE_ONLY: constant(uint256) = 2
# A liquidation order: the operator submits it for a liquidatable account, unsigned.
FLAG_LIQUIDATION: constant(uint256) = 4
# A single-fill order (docs/exchange.md, "Single-fill orders"): settled only by one fill of
# its whole size, consumed by bit (nonce & 255) of _nonce_bits[account][nonce >> 8]
# instead of a filled[hash] slot. An account's ONE_FILL orders need distinct nonces.
FLAG_ONE_FILL: constant(uint256) = 8
# filled[hash] == CANCELLED marks an order cancelled on chain (one map for both).
CANCELLED: constant(uint256) = max_value(uint256)
KNOWN_FLAGS: constant(uint256) = FLAG_POST_ONLY | FLAG_REDUCE_ONLY | FLAG_LIQUIDATION | FLAG_ONE_FILL

# Liquidation through the book (Hyperliquid's shape, docs/exchange.md):
# below LIQ_BACKSTOP_BPS of maintenance only the backstop (liquidate) applies;
LIQ_BACKSTOP_BPS: constant(uint256) = 6_667
# a liquidation order may close at most LIQ_STEP_BPS of a position whose notional at
# mark exceeds LIQ_WHOLE_NOTIONAL (USDC units), and one starts per account per cool-down.
LIQ_STEP_BPS: constant(uint256) = 2_000
LIQ_WHOLE_NOTIONAL: constant(uint256) = 100_000 * 10**6
LIQ_COOLDOWN: constant(uint256) = 1

# Bounds of one fill (a position word holds size int96 | cost int88 | funding snapshot,
# funding_math.pack; a fill that would take a position past them is skipped "size").
MAX_PRICE: constant(uint256) = 2**96
MAX_SIZE: constant(uint256) = 2**94
INT128_MIN: constant(int256) = -(2**127)
INT128_MAX: constant(int256) = 2**127 - 1
LOW128: constant(uint256) = 2**128 - 1

# Account config word: [0, 64) nonce floor | [64, 192) open-market bitmap (bit 64 + id)
# | [192, 224) leverage cap bps | bit 224 close-only | bit 225 has position caps
# | bit 226 has a trade guard | bit 227 has forbidden counterparties.
NONCE_MASK: constant(uint256) = 2**64 - 1
MARKETS_SHIFT: constant(uint256) = 64
MARKETS_MASK: constant(uint256) = 2**128 - 1
LEVERAGE_SHIFT: constant(uint256) = 192
LEVERAGE_MASK: constant(uint256) = 2**32 - 1
CLOSE_ONLY_BIT: constant(uint256) = 1 << 224
HAS_CAPS_BIT: constant(uint256) = 1 << 225
GUARD_BIT: constant(uint256) = 1 << 226
FORBID_BIT: constant(uint256) = 1 << 227
# Trade guard word: [0, 32) max distance of a fill price from the mark in bps (0 = none)
# | [32, 256) equity floor in USDC units (0 = none).
GUARD_DIST_MASK: constant(uint256) = 2**32 - 1
GUARD_FLOOR_SHIFT: constant(uint256) = 32

PRICE_OK: constant(uint256) = 0
PRICE_HALTED: constant(uint256) = 1
PRICE_STALE: constant(uint256) = 2
# A delisted market: valued at its admin settlement price, never stale.
PRICE_SETTLED: constant(uint256) = 3
# A halted or stale market is valued at its last price moved this far against the holder.
STALE_HAIRCUT_BPS: constant(uint256) = 1_000

# Account word: [0, 128) collateral (int128, two's complement) | [128, 256) trailing-volume
# record (fee_tiers encoding). Both change on every fill, so the volume costs no extra slot.
VOLUME_SHIFT: constant(uint256) = 128
MAX_PENALTY_BPS: constant(uint256) = 2_000
DEFAULT_PENALTY_BPS: constant(uint256) = 100
# funding_math.PAY_SCALE (1e24: 1e18 size units * INDEX_DIV) as a uint256
PAY_SCALE_U: constant(uint256) = 10**24


# ---------------------------------------------------------------- storage

_accounts: HashMap[address, uint256]
_positions: HashMap[address, HashMap[uint256, uint256]]
_config: HashMap[address, uint256]
_agents: HashMap[address, HashMap[address, bool]]
_filled: HashMap[bytes32, uint256]
position_cap: public(HashMap[address, HashMap[uint256, uint256]])
_guard: HashMap[address, uint256]
forbidden_counterparty: public(HashMap[address, HashMap[address, bool]])
_markets: HashMap[uint256, IExchange.Market]
market_count: public(uint256)
fees_accrued: public(uint256)
fee_recipient: public(address)
fee_share_bps: public(uint256)
treasury: public(address)
backstop: public(address)
liquidation_penalty_bps: public(uint256)
usdc: public(immutable(address))
oracle: public(immutable(address))
# Insurance fund: USDC the Exchange holds for it (outside every account's collateral).
insurance_fund: public(uint256)
insurance_inflows: public(uint256)
bad_debt_covered: public(uint256)
insurance_fee_share_bps: public(uint256)
liquidation_reward_bps: public(uint256)
# earliest timestamp at which the next liquidation order of an account may start
liq_next: public(HashMap[address, uint256])
# Margin tiers per market (margin_tiers.vy encoding): the bps word (0 = the market's flat
# initial / maintenance bps) and the two threshold words.
_tiers: HashMap[uint256, uint256]
_tier_thresholds: HashMap[uint256, uint256[2]]
# final settlement price of a delisted market (0 = listed)
settlement_price: public(HashMap[uint256, uint256])
# Sub-accounts (ExchangeAccounts.vy, docs/subaccounts.md): a sub-account's owner (empty =
# not a sub-account); an owner's agents sign for its sub-accounts too.
subaccount_owner: HashMap[address, address]
# PositionTransfer digests already executed (replay protection)
_transfer_done: HashMap[bytes32, bool]
# Funding (docs/funding.md, "Exchange integration"): the Funding contract whose
# index(market) positions settle against (empty = no funding), the signed balance of
# funding paid in minus paid out minus the residue swept to the insurance fund (what the
# unsettled positions are still owed net, exactly, plus the sub-unit dust: negative while
# receivers settled ahead of payers; 0 once all have settled), and a delisted market's
# index at delisting.
funding: public(address)
funding_balance: public(int256)
_funding_frozen: HashMap[uint256, int256]
# Rounding residue not yet swept into the insurance fund, in 1e-24 USDC units
# (< funding_math.PAY_SCALE): funding_balance * PAY_SCALE - funding_dust is exactly the
# sum of size * index move over every settlement so far.
funding_dust: public(uint256)
# Nonces consumed by ONE_FILL orders (filled or cancelled): bit (nonce & 255) of the word
# for (account, nonce >> 8), Permit2's unordered-nonce bitmap. Consecutive nonces share a
# word, so an account's next single-fill order usually writes a non-zero word (5k, not 22.1k).
_nonce_bits: HashMap[address, HashMap[uint256, uint256]]


@deploy
def __init__(usdc_: address, oracle_: address):
    usdc = usdc_
    oracle = oracle_


@internal
def _write_position(account: address, cfg: uint256, market: uint256, old_size: int256, new_size: int256, new_cost: int256):
    """
    @dev Settle the stored position's funding at the market's index into collateral
         (a separate credit, so callers credit their own PnL with _credit after or
         before, never by rewriting an account word read earlier), then store the new
         position with that index as its snapshot.
    """
    index: int256 = self._index(market)
    self._settle_funding(account, market, index)
    self._store_position(account, cfg, market, old_size, new_size, new_cost, index)


@internal
def _store_position(account: address, cfg: uint256, market: uint256, old_size: int256, new_size: int256, new_cost: int256, index: int256):
    # the caller has settled the old position's funding at `index`; a closed position
    # is a zero word (its snapshot is meaningless: owed(0, ...) = 0)
    word: uint256 = 0
    if new_size != 0:
        word = funding_math.pack(new_size, new_cost, funding_math.snapshot_of(index))
    self._positions[account][market] = word
    bit: uint256 = 1 << (MARKETS_SHIFT + market)
    if old_size == 0:
        self._config[account] = cfg | bit
    elif new_size == 0:
        self._config[account] = cfg & ~bit


@internal
def _move(account: address, to: address, market: uint256, size: int256, notional: uint256, price: uint256):
    """
    @dev The one position change between two accounts outside settle (liquidation to
         the backstop, ADL, position transfers, split / merge): `account` trades -size,
         `to` trades +size at `price`, cash `notional` on both sides (zero-sum); each
         realises its PnL into collateral.
    """
    a_size: int256 = 0
    a_cost: int256 = 0
    a_size, a_cost = self._unpack(self._positions[account][market])
    n_size: int256 = 0
    n_cost: int256 = 0
    pnl: int256 = 0
    n_size, n_cost, pnl = self._trade(a_size, a_cost, -size, notional, price)
    self._write_position(account, self._config[account], market, a_size, n_size, n_cost)
    self._credit(account, pnl)
    a_size, a_cost = self._unpack(self._positions[to][market])
    n_size, n_cost, pnl = self._trade(a_size, a_cost, size, notional, price)
    self._write_position(to, self._config[to], market, a_size, n_size, n_cost)
    self._credit(to, pnl)


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
        opened: int256 = convert(price, int256) * (abs_delta - abs_size) // constants.ONE_I
        new_cost = opened
        if delta < 0:
            new_cost = -opened
    return new_size, new_cost, cash + new_cost - cost


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
@view
def _index(market: uint256) -> int256:
    """@dev The market's funding index: 0 without a Funding contract, frozen once delisted."""
    f: address = self.funding
    if f == empty(address):
        return 0
    if self.settlement_price[market] != 0:
        return self._funding_frozen[market]
    return staticcall IFunding(f).index(market)


@internal
def _settle_funding(account: address, market: uint256, index: int256) -> int256:
    """
    @dev Realise the stored position's funding since its snapshot at `index` into
         collateral (the funding balance takes the other side, the rounding residue goes
         toward the insurance fund; positive = paid). The caller stores the position with
         `index` as its snapshot next.
    """
    s: int256 = 0
    c: int256 = 0
    snap: uint256 = 0
    s, c, snap = funding_math.unpack(self._positions[account][market])
    x: int256 = funding_math.exact(s, index, snap)
    owed: int256 = funding_math.pay(x)
    residue: uint256 = convert(owed * funding_math.PAY_SCALE - x, uint256)
    if owed != 0:
        self._credit(account, -owed)
        self._funding_event(account, market, owed, index)
    if owed != 0 or residue != 0:
        self._book_funding(owed, residue)
    return owed


@internal
def _book_funding(paid: int256, residue: uint256):
    """
    @dev Book settled funding: `paid` (net USDC units paid in, < 0 paid out) and the
         exact rounding residue of those settlements (1e-24 units). Whole units of
         residue move to the insurance fund as they accumulate. Invariant:
         funding_balance * PAY_SCALE - funding_dust = sum of every settlement's exact
         amount (size * index move), which is 0 once every position has settled
         (the sizes of a market sum to zero at every index step), so then
         funding_balance = funding_dust = 0 and the fund has received exactly
         sum(paid) - sum(received). The residue is really there when swept: each unit
         is what settlements already booked beyond their exact amounts, never a claim
         a later settlement can make.
    """
    d: uint256 = self.funding_dust + residue
    swept: uint256 = unsafe_div(d, PAY_SCALE_U)
    self.funding_dust = unsafe_sub(d, unsafe_mul(swept, PAY_SCALE_U))
    self.funding_balance += paid - convert(swept, int256)
    if swept != 0:
        self._fund_in(swept)


@internal
def _fund_in(amount: uint256):
    bal: uint256 = self.insurance_fund + amount
    self.insurance_fund = bal
    self.insurance_inflows += amount
    log IExchange.InsuranceInflow(amount=amount, balance=bal)


@internal
def _settle_all(account: address):
    # every open position's funding at its market's index; the snapshot moves to it
    cfg: uint256 = self._config[account]
    bm: uint256 = (cfg >> MARKETS_SHIFT) & MARKETS_MASK
    for i: uint256 in range(MAX_MARKET_ID + 1):
        if bm == 0:
            break
        if bm & 1 == 1:
            size: int256 = 0
            cost: int256 = 0
            size, cost = self._unpack(self._positions[account][i])
            self._write_position(account, cfg, i, size, size, cost)
        bm = bm >> 1
@view
def _nonce_used(account: address, nonce: uint256) -> bool:
    return (self._nonce_bits[account][nonce >> 8] >> (nonce & 255)) & 1 != 0


@internal
def _use_nonce(account: address, nonce: uint256):
    self._nonce_bits[account][nonce >> 8] |= 1 << (nonce & 255)


@internal
def _funding_event(account: address, market: uint256, amount: int256, index: int256):
    log IExchange.FundingSettled(account=account, market=market, amount=amount, index=index)


@internal
@pure
def _nonzero(account: address):
    assert account != empty(address), "exchange: zero address"


@internal
@view
def _known_market(market: uint256):
    assert market != 0 and market <= self.market_count, "exchange: unknown market"


@internal
@pure
def _fresh(status: uint256):
    assert status != PRICE_HALTED, "exchange: halted"
    assert status != PRICE_STALE, "exchange: stale price"


@internal
def _pay(to: address, amount: uint256):
    assert extcall IERC20(usdc).transfer(to, amount, default_return_value=True), "exchange: transfer failed"


@internal
@view
def _price(market: uint256, max_age: uint256) -> (uint256, uint256):
    """
    @dev (mark, status): PRICE_HALTED if the oracle halted the market, PRICE_STALE if
         the price is older than max_age, unset or out of range.
    """
    settled: uint256 = self.settlement_price[market]
    if settled != 0:
        return settled, PRICE_SETTLED
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
def _requirement(market: uint256, notional: uint256, initial: bool) -> uint256:
    """
    @dev The margin requirement of `notional` (at mark) in `market`, initial or
         maintenance, rounded up: the market's tier table if it has one
         (docs/exchange.md, "Margin tiers"), else its flat bps.
    """
    tiers: uint256 = self._tiers[market]
    if tiers != 0:
        thresholds: uint256[2] = self._tier_thresholds[market]
        return margin_tiers.requirement(notional, tiers, thresholds[0], thresholds[1], initial)
    bps: uint256 = self._markets[market].maintenance_margin_bps
    if initial:
        bps = self._markets[market].initial_margin_bps
    return (notional * bps + constants.BPS - 1) // constants.BPS


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
         valued at `mark` (with `coll` already after that market's funding). Every other
         position's unsettled funding is in the equity. Loops over the account's
         open-market bitmap only.
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
            st: uint256 = PRICE_OK
            if i != market:
                snap: uint256 = 0
                s, c, snap = funding_math.unpack(self._positions[account][i])
                if max_age == 0:
                    max_age = staticcall IOracle(oracle).max_age()
                p, st = self._price(i, max_age)
                worst = max(worst, st)
                # unsettled funding counts as settled: rounded as settling would
                equity -= funding_math.owed(s, self._index(i), snap)
            if s != 0 and (st == PRICE_HALTED or st == PRICE_STALE):
                # halted / stale / unset: value at the last price moved against the
                # holder by STALE_HAIRCUT_BPS, so it never blocks other markets
                if s > 0:
                    p = p * (constants.BPS - STALE_HAIRCUT_BPS) // constants.BPS
                else:
                    p = (p * (constants.BPS + STALE_HAIRCUT_BPS) + constants.BPS - 1) // constants.BPS
            if s != 0:
                equity += s * convert(p, int256) // constants.ONE_I - c
                n: uint256 = convert(abs(s), uint256) * p // constants.ONE
                total += n
                req += self._requirement(i, n, initial)
        bm = bm >> 1
    return equity, req, total, worst


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
def _unpack(packed: uint256) -> (int256, int256):
    # (size, cost) of a position word (funding_math.unpack without the snapshot)
    s: int256 = 0
    c: int256 = 0
    snap: uint256 = 0
    s, c, snap = funding_math.unpack(packed)
    return s, c
