# pragma version ~=0.4.3
"""
@title Loss sharing: the last tier of the Exchange's loss waterfall (module)
@custom:contract-name loss_sharing
@license MIT
@notice Insurance fund, then ADL at the bankruptcy price (profitable opposite accounts,
        then the backstop while it stays at maintenance), then this: `socialise` closes
        a bankrupt position at mark against the opposite side pro rata to size, pays
        what the fund holds, and shares the rest of the deficit among the listed
        accounts pro rata to their positive equity. Nobody is charged below zero, so
        after it no account is negative and the Exchange's USDC covers every claim.
@dev Exported by ExchangeAccounts (room under EIP-170), so it runs on the Exchange's
     storage by DELEGATECALL (Exchange fallback -> ExchangeRisk fallback -> here) and
     its events come from the Exchange. `_bankruptcy_price` is pure, shared with
     ExchangeRisk.adl. docs/exchange.md, "Loss socialisation".
"""

from interfaces import IExchange
from interfaces import IOracle

import constants
import funding_math
import ledger

# the ledger's storage is the only storage here (the same slots as in the Exchange); the
# contract that exports socialise initialises the ledger through this module
initializes: ledger

# The Exchange's role and pause views, read back through `self` (this code runs on the
# Exchange's storage, so `self` is the Exchange; called directly, the call reverts).
interface IRoles:
    def hasRole(role: bytes32, account: address) -> bool: view
    def paused() -> bool: view

OPERATOR_ROLE: constant(bytes32) = keccak256("OPERATOR_ROLE")


@deploy
def __init__(usdc_: address, oracle_: address):
    ledger.__init__(usdc_, oracle_)


@external
def socialise(account: address, market: uint256, counterparties: DynArray[address, 32]):
    """
    @notice Last tier of the loss waterfall (fund, ADL, backstop, then this): close
            `account`'s bankrupt position in `market` at the mark against the listed
            opposite positions, pro rata to their sizes, pay what the insurance fund
            holds, and share the rest of the deficit among the listed accounts pro rata
            to their positive equity, so that no account is left below zero and the
            Exchange never owes more USDC than it holds.
    @dev OPERATOR_ROLE, not while paused (both read from the Exchange: this runs on its
         storage through its fallback). Only for an account with negative equity ("exchange:
         no adl") that the earlier tiers cannot close because the backstop refuses: with
         the fund covering the deficit, liquidate's move at mark would leave the backstop
         below initial margin; with the fund short, adl's move at the bankruptcy price
         would leave it below maintenance (else "exchange: backstop absorbs"). The
         bankrupt backstop itself has no earlier taker: it is socialised among the
         opposite side once adl has closed what the profitable accounts take.
         `counterparties` must be in strictly increasing
         address order (no repeats), not the account, and each must hold the opposite
         side in `market` or be the backstop ("exchange: adl counterparty"); their
         opposite sizes must cover the position and their positive equity (after the
         closes) the deficit the fund leaves ("exchange: socialise short"). Every listed
         account then loses the same fraction of its positive equity (rounded up, never
         more than it has). Events: Adl per close (price = mark), InsuranceCover for the
         fund's part, LossSocialised per account charged. docs/exchange.md, "Loss
         socialisation".
    @param account The bankrupt account.
    @param market The market whose position is closed.
    @param counterparties The opposite side's accounts (and optionally the backstop).
    """
    assert staticcall IRoles(self).hasRole(OPERATOR_ROLE, msg.sender), "exchange: not operator"
    assert not staticcall IRoles(self).paused(), "exchange: paused"
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
    equity, req = ledger._health_of(account, False)
    fund: uint256 = ledger.insurance_fund
    assert equity < 0, "exchange: no adl"
    bs: address = ledger.backstop
    if bs != empty(address) and account != bs:
        # only where the backstop refuses what the earlier tier would give it: the
        # position at mark and initial margin (liquidate, the fund covering the rest), or
        # at the bankruptcy price and maintenance (adl, the fund short)
        covered: bool = convert(-equity, uint256) <= fund
        price: uint256 = mark
        if not covered:
            price = self._bankruptcy_price(size, cost, equity, mark)
        assert not self._backstop_absorbs(bs, market, size, price, mark, covered), "exchange: backstop absorbs"

    # sizes of the listed opposite positions
    total: uint256 = 0
    prev: uint160 = 0
    for cp: address in counterparties:
        assert convert(cp, uint160) > prev and cp != account, "exchange: adl counterparty"
        prev = convert(cp, uint160)
        c: int256 = 0
        c, cost = ledger._unpack(ledger._positions[cp][market])
        if c != 0 and (c > 0) != (size > 0):
            total += convert(abs(c), uint256)
        else:
            assert cp == bs, "exchange: adl counterparty"
    whole: uint256 = convert(abs(size), uint256)
    assert total >= whole, "exchange: socialise short"

    # close at mark, pro rata to size (rounded up, the last takes what is left): equity
    # neutral for everyone, so the deficit is unchanged and the opposite side only shrinks
    left: uint256 = whole
    eqs: DynArray[uint256, 32] = []
    pos_total: uint256 = 0
    for cp: address in counterparties:
        c: int256 = 0
        c, cost = ledger._unpack(ledger._positions[cp][market])
        if left != 0 and c != 0 and (c > 0) != (size > 0):
            q: uint256 = min(left, (whole * convert(abs(c), uint256) + total - 1) // total)
            signed: int256 = convert(q, int256)
            if size < 0:
                signed = -signed
            ledger._move(account, cp, market, signed, q * mark // constants.ONE, mark)
            left -= q
            log IExchange.Adl(account=account, counterparty=cp, market=market, size=signed, price=mark)
        e: int256 = 0
        e, req = ledger._health_of(cp, False)
        e = max(e, 0)
        eqs.append(convert(e, uint256))
        pos_total += convert(e, uint256)

    # the fund pays what it holds, the listed accounts the rest, pro rata to equity
    equity, req = ledger._health_of(account, False)
    if equity >= 0:
        return
    deficit: uint256 = convert(-equity, uint256)
    used: uint256 = min(fund, deficit)
    if used != 0:
        ledger.insurance_fund = fund - used
        ledger.bad_debt_covered += used
        ledger._credit(account, convert(used, int256))
        log IExchange.InsuranceCover(account=account, amount=used, balance=fund - used)
    deficit -= used
    if deficit == 0:
        return  # the fund paid it all (no division by a zero total equity below)
    assert pos_total >= deficit, "exchange: socialise short"
    i: uint256 = 0
    for cp: address in counterparties:
        # ceil(deficit * e / E) <= e because deficit <= E: nobody is charged below zero
        h: uint256 = (deficit * eqs[i] + pos_total - 1) // pos_total
        i += 1
        if h != 0:
            ledger._credit(cp, -convert(h, int256))
            ledger._credit(account, convert(h, int256))
            log IExchange.LossSocialised(account=account, counterparty=cp, market=market, amount=h)


@internal
@pure
def _bankruptcy_price(size: int256, cost: int256, equity: int256, mark: uint256) -> uint256:
    """
    @dev The price at which closing (size, cost) leaves the account's equity (this
         position valued at `mark` in it) at zero, rounded in the account's favour (up
         for a long that sells, down for a short).
    """
    # other = equity - (size * mark - cost); other + size * p - cost = 0
    other: int256 = equity - (size * convert(mark, int256) // constants.ONE_I - cost)
    num: int256 = (cost - other) * constants.ONE_I
    p_b: int256 = num // size
    if size > 0 and num % size != 0:
        p_b += 1
    assert p_b > 0 and p_b <= convert(ledger.MAX_PRICE, int256), "exchange: bankruptcy price"
    return convert(p_b, uint256)


@internal
@view
def _backstop_absorbs(bs: address, market: uint256, size: int256, price: uint256, mark: uint256, initial: bool) -> bool:
    """
    @dev Would the backstop, taking `size` at `price`, stay at or above its initial
         (liquidate) or maintenance (adl) requirement at `mark`?
    """
    b_size: int256 = 0
    b_cost: int256 = 0
    snap: uint256 = 0
    b_size, b_cost, snap = funding_math.unpack(ledger._positions[bs][market])
    q: uint256 = convert(abs(size), uint256)
    n: uint256 = q * price // constants.ONE
    if size > 0 and q * price % constants.ONE != 0:
        n += 1
    pnl: int256 = 0
    b_size, b_cost, pnl = ledger._trade(b_size, b_cost, size, n, price)
    coll: int256 = ledger._coll(ledger._accounts[bs]) + pnl - funding_math.owed(b_size, ledger._index(market), snap)
    e: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    e, req, total, status = ledger._health(bs, ledger._config[bs], market, mark, b_size, b_cost, coll, initial)
    return e >= convert(req, int256)
