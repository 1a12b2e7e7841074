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

from interfaces import IExchange
from interfaces import IOracle

import constants
import ledger

# Must stay the first declaration: the same slots as in the Exchange.
initializes: ledger

exports: (ledger.usdc, ledger.oracle)

# This deployment's own address: `self` differs from it only under DELEGATECALL.
_THIS: immutable(address)


@deploy
def __init__(usdc_: address, oracle_: address):
    """
    @notice Deploy the risk engine code for an Exchange over `usdc_` and `oracle_`.
    @param usdc_ The Exchange's collateral token.
    @param oracle_ The Exchange's oracle.
    """
    ledger.__init__(usdc_, oracle_)
    _THIS = self


@external
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
    word: uint256 = ledger._accounts[account]
    coll: int256 = ledger._coll(word)
    equity: int256 = 0
    req: uint256 = 0
    total: uint256 = 0
    status: uint256 = 0
    equity, req, total, status = ledger._health(account, cfg, 0, 0, 0, 0, coll, False)
    ledger._fresh(status)
    assert equity < convert(req, int256), "exchange: not liquidatable"

    mark: uint256 = 0
    mark, status = ledger._price(market, staticcall IOracle(ledger.oracle).max_age())
    notional: uint256 = convert(abs(size), uint256) * mark // constants.ONE

    new_size: int256 = 0
    new_cost: int256 = 0
    pnl: int256 = 0
    new_size, new_cost, pnl = ledger._trade(size, cost, -size, notional, mark)
    ledger._write_position(account, cfg, market, size, new_size, new_cost)

    bs_cfg: uint256 = ledger._config[bs]
    bs_size: int256 = 0
    bs_cost: int256 = 0
    bs_size, bs_cost = ledger._unpack(ledger._positions[bs][market])
    bs_new: int256 = 0
    bs_new_cost: int256 = 0
    bs_pnl: int256 = 0
    bs_new, bs_new_cost, bs_pnl = ledger._trade(bs_size, bs_cost, size, notional, mark)
    ledger._write_position(bs, bs_cfg, market, bs_size, bs_new, bs_new_cost)

    penalty: uint256 = notional * ledger.liquidation_penalty_bps // constants.BPS
    if equity <= 0:
        penalty = 0
    else:
        penalty = min(penalty, convert(equity, uint256))
    ledger._accounts[account] = ledger._account_word(coll + pnl - convert(penalty, int256), word >> ledger.VOLUME_SHIFT)
    bs_word: uint256 = ledger._accounts[bs]
    bs_coll: int256 = ledger._coll(bs_word) + bs_pnl + convert(penalty, int256)
    ledger._accounts[bs] = ledger._account_word(bs_coll, bs_word >> ledger.VOLUME_SHIFT)

    bs_equity: int256 = 0
    bs_req: uint256 = 0
    bs_equity, bs_req, total, status = ledger._health(bs, ledger._config[bs], 0, 0, 0, 0, bs_coll, True)
    assert status == ledger.PRICE_OK and bs_equity >= convert(bs_req, int256), "exchange: backstop margin"

    log IExchange.Liquidation(
        account=account, market=market, backstop=bs, size=size, price=mark, penalty=penalty, caller=msg.sender
    )


@internal
@view
def _delegated():
    assert self != _THIS, "exchange: delegatecall only"
