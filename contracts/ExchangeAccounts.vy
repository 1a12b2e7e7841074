# pragma version ~=0.4.3
"""
@title MMX Exchange sub-accounts and position transfers (code run by DELEGATECALL)
@custom:contract-name ExchangeAccounts
@license MIT
@notice Numbered sub-accounts (isolated margin accounts of one owner), collateral moves
        between an owner's accounts, and position transfers: between any two accounts at
        an agreed price with both sides' EIP-712 consent, or split into / merged back
        from a sub-account at mark by the owner alone. The Exchange forwards selectors it
        does not know to its risk logic, which forwards them here, both by DELEGATECALL,
        so this code runs on the Exchange's storage (contracts/ledger.vy, initialised
        first) and its events come from the Exchange. docs/subaccounts.md has the rules.
@dev A sub-account is an ordinary ledger account whose address is the low 160 bits of
     keccak256(abi_encode(owner, index)): settle, margin and liquidation, all keyed by
     address, isolate it from the owner's other accounts without a line of their code.
"""

from interfaces import IExchange
from interfaces import IExchangeAccounts
from interfaces import IOracle

import constants
import ledger
import loss_sharing

implements: IExchangeAccounts

# Must stay the first declaration: the same slots as in the Exchange (loss_sharing's only
# storage is the ledger, which it initialises).
initializes: loss_sharing
uses: ledger

exports: (ledger.usdc, ledger.oracle)

# the loss waterfall's last tier (contracts/loss_sharing.vy: room under EIP-170)
exports: loss_sharing.socialise

TRANSFER_TYPEHASH: constant(bytes32) = keccak256(
    "PositionTransfer(address from_account,address to_account,uint256 market,int256 size,uint256 price,uint256 nonce,uint256 expiry)"
)
# the Exchange's EIP-712 domain (this code runs as the Exchange: `self` is its address)
DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
DOMAIN_NAME_HASH: constant(bytes32) = keccak256("MMX Exchange")
DOMAIN_VERSION_HASH: constant(bytes32) = keccak256("1")
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

# This deployment's own address: `self` differs from it only under DELEGATECALL.
_THIS: immutable(address)


@deploy
def __init__(usdc_: address, oracle_: address):
    """
    @notice Deploy the sub-account code for an Exchange over `usdc_` and `oracle_`.
    @param usdc_ The Exchange's collateral token.
    @param oracle_ The Exchange's oracle.
    """
    # the ledger, through the module that initialises it (contracts/loss_sharing.vy)
    loss_sharing.__init__(usdc_, oracle_)
    _THIS = self


@external
def cancel_order(order: IExchange.Order):
    """
    @notice Cancel `order` on chain so no further fill of it settles: a ONE_FILL order
            consumes its nonce bit (voiding every ONE_FILL order of the account with that
            nonce), any other order gets filled[hash] = CANCELLED. The Exchange's
            cancel_order (moved here for EIP-170 room in the Exchange and ExchangeRisk).
    @param order The signed order; msg.sender must be order.account or its agent.
    """
    self._delegated()
    # the account, its agent, or (a sub-account) its owner's agent: the Exchange's _may_sign
    assert msg.sender == order.account or ledger._agents[order.account][msg.sender] or ledger._agents[ledger.subaccount_owner[order.account]][msg.sender], "exchange: not authorised"
    domain: bytes32 = keccak256(abi_encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self))
    digest: bytes32 = keccak256(concat(b"\x19\x01", domain, keccak256(abi_encode(
        constants.ORDER_TYPEHASH, order.account, order.market, order.is_buy, order.price, order.size, order.nonce,
        order.expiry, order.flags))))
    if order.flags & ledger.FLAG_ONE_FILL != 0:
        ledger._use_nonce(order.account, order.nonce)
    else:
        ledger._filled[digest] = ledger.CANCELLED
    log IExchange.OrderCancelled(account=order.account, order_hash=digest)


@external
def open_subaccount(index: uint256):
    """
    @notice Open msg.sender's sub-account number `index`: its own margin account, whose
            orders msg.sender and msg.sender's agents sign.
    @dev Address: low 160 bits of keccak256(abi_encode(msg.sender, index)). Emits
         SubaccountOpened and AgentSet(sub, owner, True) (the owner is the sub-account's
         agent from then on, so cancels and nonce floors work as for any account).
    @param index Any non-zero number, once per owner.
    """
    self._delegated()
    assert index != 0, "exchange: bad index"
    # a sub-account never calls (no key), so it can never own one
    sub: address = convert(convert(convert(keccak256(abi_encode(msg.sender, index)), uint256) & convert(max_value(uint160), uint256), uint160), address)
    assert ledger.subaccount_owner[sub] == empty(address), "exchange: opened"
    ledger.subaccount_owner[sub] = msg.sender
    ledger._agents[sub][msg.sender] = True
    log IExchange.SubaccountOpened(owner=msg.sender, account=sub, index=index)
    log IExchange.AgentSet(account=sub, agent=msg.sender, approved=True)


@external
def move_collateral(source: address, target: address, amount: uint256):
    """
    @notice Move `amount` of collateral from `source` to `target`, both msg.sender or
            its sub-accounts.
    @dev Allowed while paused (an exit path: sub-account -> owner -> withdraw). The
         source's funding in every market settles first (FundingSettled); it keeps at
         least zero collateral and, with open positions, equity at or above its initial
         requirement (as withdraw: halted / stale markets haircut).
    @param source The account debited.
    @param target The account credited.
    @param amount USDC units.
    """
    self._delegated()
    self._own(source)
    self._own(target)
    assert source != target, "exchange: same account"
    self._move_collateral(source, target, amount)
    self._margin(source, False)


@external
def transfer_position(
    t: IExchangeAccounts.PositionTransfer, from_sig: IExchange.Signature, to_sig: IExchange.Signature
):
    """
    @notice Move `t.size` (the target's signed change; it must shrink the source's
            position, never grow or flip it) of `t.from_account`'s position in
            `t.market` to `t.to_account` at `t.price`, inside the market band.
    @dev Each side consents by its signature over the EIP-712 PositionTransfer (the
         account, its agent, its owner or its owner's agent; for a contract account
         only the contract itself, as msg.sender), or by being msg.sender (an owner
         moving between its own accounts signs nothing). Like a fill: the source
         realises its PnL at the price (its cost basis shrinks pro rata), the target
         opens or changes its position at the price; both must be at or above initial
         margin after. Once per digest; nonce >= both accounts' nonce floors.
    @param t The transfer.
    @param from_sig The source side's signature (v = 0: none).
    @param to_sig The target side's signature (v = 0: none).
    """
    self._delegated()
    self._not_paused()
    digest: bytes32 = self._hash_transfer(t)
    assert t.expiry >= block.timestamp, "exchange: expired"
    assert not ledger._transfer_done[digest], "exchange: transfer used"
    assert t.nonce >= ledger._config[t.from_account] & ledger.NONCE_MASK, "exchange: nonce"
    assert t.nonce >= ledger._config[t.to_account] & ledger.NONCE_MASK, "exchange: nonce"
    self._consent(t.from_account, digest, from_sig)
    self._consent(t.to_account, digest, to_sig)
    assert t.price != 0, "exchange: bad price"
    ledger._transfer_done[digest] = True
    adds: bool = self._transfer(t.from_account, t.to_account, t.market, t.size, t.price, digest)
    self._margin(t.from_account, False)
    self._margin(t.to_account, adds)


@external
def split(sub: address, market: uint256, size: uint256, collateral: uint256):
    """
    @notice Isolate part of msg.sender's position: move `collateral` and then `size`
            base units of its position in `market` (same direction) into its
            sub-account `sub`, at the mark.
    @dev Both accounts at or above initial margin after; msg.sender realises its PnL at mark.
    @param sub One of msg.sender's sub-accounts.
    @param market The market.
    @param size Base units of the position moved (at most all of it).
    @param collateral USDC units moved first (0: none).
    """
    self._delegated()
    self._not_paused()
    assert ledger.subaccount_owner[sub] == msg.sender, "exchange: not owner"
    if collateral != 0:
        self._move_collateral(msg.sender, sub, collateral)
    held: int256 = 0
    cost: int256 = 0
    held, cost = ledger._unpack(ledger._positions[msg.sender][market])
    assert size <= ledger.MAX_SIZE, "exchange: size"
    delta: int256 = convert(size, int256)
    if held < 0:
        delta = -delta
    adds: bool = self._transfer(msg.sender, sub, market, delta, 0, empty(bytes32))
    # checked after both moves: the collateral and the position arrive together
    self._margin(msg.sender, False)
    self._margin(sub, adds)


@external
def merge(sub: address, market: uint256, collateral: uint256):
    """
    @notice Combine sub-account `sub`'s whole position in `market` back into
            msg.sender at the mark, then move `collateral` back to msg.sender.
    @dev Both accounts at or above initial margin after.
    @param sub One of msg.sender's sub-accounts.
    @param market The market.
    @param collateral USDC units moved back after the position (0: none).
    """
    self._delegated()
    self._not_paused()
    assert ledger.subaccount_owner[sub] == msg.sender, "exchange: not owner"
    held: int256 = 0
    cost: int256 = 0
    held, cost = ledger._unpack(ledger._positions[sub][market])
    assert held != 0, "exchange: no position"
    adds: bool = self._transfer(sub, msg.sender, market, held, 0, empty(bytes32))
    if collateral != 0:
        self._move_collateral(sub, msg.sender, collateral)
    self._margin(sub, False)
    self._margin(msg.sender, adds)


# ================================================================ internals

@internal
def _transfer(src: address, dst: address, market: uint256, size: int256, price: uint256, digest: bytes32) -> bool:
    """
    @dev Checks and effects every position transfer shares (margin is the caller's, after
         all its moves). `price` 0: at the mark (split / merge). Returns whether the
         target added risk. Invariant: per market total long = total short (one
         ledger._move of -size / +size); sum(collateral - cost) and the USDC held are
         unchanged.
    """
    assert src != dst, "exchange: same account"
    ledger._known_market(market)
    mkt: IExchange.Market = ledger._markets[market]
    assert mkt.active, "exchange: inactive"
    # (bounds before abs: abs(min int256) would revert without a reason)
    assert size != 0 and size <= convert(ledger.MAX_SIZE, int256) and size >= -convert(ledger.MAX_SIZE, int256), "exchange: size"
    assert convert(abs(size), uint256) % mkt.lot == 0, "exchange: bad lot"
    mark: uint256 = 0
    status: uint256 = 0
    mark, status = ledger._price(market, staticcall IOracle(ledger.oracle).max_age())
    assert status != ledger.PRICE_SETTLED, "exchange: delisted"
    ledger._fresh(status)
    p: uint256 = price
    if p == 0:
        p = mark
    else:
        assert p <= ledger.MAX_PRICE and p % mkt.tick == 0, "exchange: bad price"
        diff: uint256 = unsafe_sub(p, mark) if p > mark else unsafe_sub(mark, p)
        assert diff * constants.BPS <= mark * mkt.band_bps, "exchange: band"

    # the source gives up part or all of its position: never grows or flips it
    held: int256 = 0
    cost: int256 = 0
    held, cost = ledger._unpack(ledger._positions[src][market])
    assert (held > 0 and size > 0 and size <= held) or (held < 0 and size < 0 and size >= held), "exchange: no position"

    # accounts with a trade guard or forbidden counterparties (vaults) never transfer:
    # their positions move only by fills that those rules checked
    dst_cfg: uint256 = ledger._config[dst]
    assert (ledger._config[src] | dst_cfg) & (ledger.GUARD_BIT | ledger.FORBID_BIT) == 0, "exchange: restricted"
    d_held: int256 = 0
    d_held, cost = ledger._unpack(ledger._positions[dst][market])
    d_new: int256 = d_held + size
    adds: bool = not (d_new == 0 or (d_held > 0 and d_new > 0 and d_new < d_held) or (
        d_held < 0 and d_new < 0 and d_new > d_held
    ))
    if adds:
        # the target adds risk: its own switches apply as for a fill
        assert dst_cfg & ledger.CLOSE_ONLY_BIT == 0, "exchange: close only"
        if dst_cfg & ledger.HAS_CAPS_BIT != 0:
            cap: uint256 = ledger.position_cap[dst][market]
            assert cap == 0 or convert(abs(d_new), uint256) <= cap, "exchange: position cap"

    ledger._move(src, dst, market, size, p * convert(abs(size), uint256) // constants.ONE, p)
    log IExchange.PositionTransferred(source=src, target=dst, market=market, size=size, price=p, transfer_hash=digest)
    return adds


@internal
@view
def _margin(account: address, adds: bool):
    """
    @dev Equity at or above the initial requirement (tiers included: ledger._health);
         halted / stale markets elsewhere are haircut; an account that took on risk
         (`adds`) must have no halted / stale market and respect its leverage cap.
    """
    cfg: uint256 = ledger._config[account]
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = ledger._health(account, cfg, 0, 0, 0, 0, ledger._coll(ledger._accounts[account]), True)
    assert equity >= convert(req, int256), "exchange: margin"
    if adds:
        ledger._fresh(status)
        lev_cap: uint256 = (cfg >> ledger.LEVERAGE_SHIFT) & ledger.LEVERAGE_MASK
        if lev_cap != 0:
            assert equity > 0 and total * constants.BPS <= lev_cap * convert(equity, uint256), "exchange: leverage"


@internal
def _move_collateral(source: address, target: address, amount: uint256):
    assert amount != 0, "exchange: zero amount"
    assert amount <= convert(max_value(int128), uint256), "exchange: amount too large"
    # realise the source's funding in every market first (as withdraw): it never moves
    # collateral it owes as funding, and "insufficient collateral" sees what it owns
    ledger._settle_all(source)
    word: uint256 = ledger._accounts[source]
    coll: int256 = ledger._coll(word) - convert(amount, int256)
    assert coll >= 0, "exchange: insufficient collateral"
    ledger._accounts[source] = ledger._account_word(coll, word >> ledger.VOLUME_SHIFT)
    ledger._credit(target, convert(amount, int256))
    log IExchange.CollateralMoved(source=source, target=target, amount=amount)


@internal
@view
def _own(account: address):
    """@dev `account` is msg.sender or one of its sub-accounts."""
    assert account == msg.sender or ledger.subaccount_owner[account] == msg.sender, "exchange: not owner"


@internal
@view
def _consent(account: address, digest: bytes32, sig: IExchange.Signature):
    """
    @dev `account` agrees: msg.sender or the recovered signer is the account, its agent,
         its owner or its owner's agent. A contract account (vault, pool) consents only
         as msg.sender: its agents (manager keys) can never move its positions.
    """
    if self._may_act(account, msg.sender):
        return
    assert sig.v != 0, "exchange: missing signature"
    signer: address = empty(address)
    if (sig.v == 27 or sig.v == 28) and convert(sig.s, uint256) <= SECP256K1_HALF_N:
        signer = ecrecover(digest, sig.v, sig.r, sig.s)
    assert signer != empty(address) and self._may_act(account, signer), "exchange: bad signature"


@internal
@view
def _may_act(account: address, who: address) -> bool:
    if who == account:
        return True
    if account.is_contract:
        return False
    if ledger._agents[account][who]:
        return True
    owner: address = ledger.subaccount_owner[account]
    return owner != empty(address) and not owner.is_contract and ledger._agents[owner][who]


@internal
@view
def _hash_transfer(t: IExchangeAccounts.PositionTransfer) -> bytes32:
    domain: bytes32 = keccak256(abi_encode(DOMAIN_TYPEHASH, DOMAIN_NAME_HASH, DOMAIN_VERSION_HASH, chain.id, self))
    struct_hash: bytes32 = keccak256(
        abi_encode(TRANSFER_TYPEHASH, t.from_account, t.to_account, t.market, t.size, t.price, t.nonce, t.expiry)
    )
    return keccak256(concat(b"\x19\x01", domain, struct_hash))


@internal
@view
def _not_paused():
    # the pause flag lives in the Exchange's own module storage: ask it (self = the Exchange)
    assert not staticcall IExchange(self).paused(), "exchange: paused"


@internal
@view
def _delegated():
    assert self != _THIS, "exchange: delegatecall only"
