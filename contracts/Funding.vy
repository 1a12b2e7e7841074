# pragma version ~=0.4.3
"""
@title MMX Funding
@notice The cumulative funding index per market. The keeper (FUNDING_ROLE) submits one
        rate per market per completed interval, within the market's cap; the index grows
        by trunc(rate * index price / 1e6) with the Oracle's price. The Exchange reads
        `index(market)` when it settles a position's funding (docs/funding.md).
@dev Rates are signed fractions scaled by 1e12 (positive = longs pay shorts). Interval k
     of a market is [k * interval_s, (k + 1) * interval_s); a rate for k is accepted once
     k has ended, only if k is after the last funded interval: at most one rate per
     interval, and never one for the past once a later one is in. Setting a market's
     config starts it at the current interval (the first rate is for the next full one).
     One slot per market holds interval_s | cap | last interval, one the index.
"""
from snekmate.auth import access_control

initializes: access_control

exports: access_control.__interface__

import constants
import funding_math
import interfaces.IFunding as IFunding
import interfaces.IOracle as IOracle

implements: IFunding

FUNDING_ROLE: public(constant(bytes32)) = keccak256("FUNDING_ROLE")

RATE_ONE: public(constant(uint256)) = 10**12
MAX_INTERVAL: public(constant(uint256)) = 7 * constants.DAY

# config slot: interval_s [0, 32) | cap [32, 96) | last interval [96, 160)
_MASK_32: constant(uint256) = 2**32 - 1
_MASK_64: constant(uint256) = 2**64 - 1
_CAP_SHIFT: constant(uint256) = 32
_LAST_SHIFT: constant(uint256) = 96

oracle: public(immutable(address))

_config: HashMap[uint256, uint256]
_index: HashMap[uint256, int256]


event FundingConfigSet:
    market: indexed(uint256)
    interval_s: uint256
    cap: uint256
    start_interval: uint256

event FundingRateSet:
    market: indexed(uint256)
    interval: uint256
    rate: int256
    mark: uint256
    index: int256


@deploy
def __init__(oracle_: address):
    """
    @notice Deploy against the Oracle whose prices are the funding index prices; the
            deployer gets DEFAULT_ADMIN_ROLE.
    @param oracle_ The Oracle.
    """
    assert oracle_ != empty(address), "funding: zero address"
    access_control.__init__()
    oracle = oracle_


@external
def set_funding_config(market: uint256, interval_s: uint256, cap: uint256):
    """
    @notice Set a market's interval length and rate cap (DEFAULT_ADMIN_ROLE). The market
            starts (or restarts) at the current interval: the first rate accepted is for
            the next complete interval.
    @param market The market id (the Oracle's).
    @param interval_s Interval length in seconds, 1 .. MAX_INTERVAL.
    @param cap Largest |rate| per interval, at most RATE_ONE (100 %).
    """
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "funding: not admin"
    assert interval_s > 0 and interval_s <= MAX_INTERVAL, "funding: bad interval"
    assert cap <= RATE_ONE, "funding: bad cap"
    start: uint256 = block.timestamp // interval_s
    self._config[market] = interval_s | (cap << _CAP_SHIFT) | (start << _LAST_SHIFT)
    log FundingConfigSet(market=market, interval_s=interval_s, cap=cap, start_interval=start)


@external
def update_funding(market: uint256, interval: uint256, rate: int256):
    """
    @notice Submit the rate of a completed interval (FUNDING_ROLE).
    @dev Reverts "funding: not funder", "funding: unknown market", "funding: interval"
         (not after the last funded one, or not ended yet), "funding: cap",
         "funding: stale price" / "funding: halted" (the Oracle's price is not usable).
    @param market The market id.
    @param interval The interval id (timestamp // interval_s) the rate is for.
    @param rate The rate, scaled by RATE_ONE; positive = longs pay.
    """
    assert access_control.hasRole[FUNDING_ROLE][msg.sender], "funding: not funder"
    cfg: uint256 = self._config[market]
    interval_s: uint256 = cfg & _MASK_32
    assert interval_s != 0, "funding: unknown market"
    assert interval > (cfg >> _LAST_SHIFT) & _MASK_64 and interval < block.timestamp // interval_s, "funding: interval"
    assert convert(abs(rate), uint256) <= (cfg >> _CAP_SHIFT) & _MASK_64, "funding: cap"
    price: uint256 = 0
    updated_at: uint256 = 0
    halted: bool = False
    price, updated_at, halted = staticcall IOracle(oracle).price_info(market)
    assert not halted, "funding: halted"
    assert price != 0 and updated_at + staticcall IOracle(oracle).max_age() >= block.timestamp, "funding: stale price"
    new_index: int256 = self._index[market] + funding_math.index_delta(rate, price)
    self._index[market] = new_index
    self._config[market] = (cfg & ~(_MASK_64 << _LAST_SHIFT)) | (interval << _LAST_SHIFT)
    log FundingRateSet(market=market, interval=interval, rate=rate, mark=price, index=new_index)


@external
@view
def index(market: uint256) -> int256:
    """
    @notice The market's cumulative funding index.
    @param market The market id.
    @return USDC units * 1e6 per whole base unit, summed over funded intervals.
    """
    return self._index[market]


@external
@view
def funding_state(market: uint256) -> (int256, uint256, uint256, uint256):
    """
    @notice A market's funding state.
    @param market The market id.
    @return (index, last funded interval, interval_s, cap); interval_s 0 = not configured.
    """
    cfg: uint256 = self._config[market]
    return self._index[market], (cfg >> _LAST_SHIFT) & _MASK_64, cfg & _MASK_32, (cfg >> _CAP_SHIFT) & _MASK_64
