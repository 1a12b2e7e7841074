# pragma version ~=0.4.3
"""
@title MMX Oracle
@notice Mark price per market (uint256 id), pushed by reporters.
        - Maximum move per update: an update that moves more than
          `max_move_bps` from the last price reverts ("oracle: move too large"),
          except the first price of a market and updates while it is halted.
        - Staleness: `max_age` seconds; readers (the Exchange) must not settle on
          a price older than that. The oracle itself only reports `updated_at`.
        - Circuit breaker: when an update moves more than `breaker_bps` away from
          the window's reference price (the last price when the current window of
          `breaker_window` seconds began), the update is stored and the market
          is halted (`Halted` with reason "breaker").
        - Guardians halt and resume markets; resume restarts the breaker window
          at the current price.
        See docs/oracle.md for the decisions behind these rules.
@dev Roles (snekmate access_control): DEFAULT_ADMIN_ROLE (config, roles),
     REPORTER_ROLE (prices), GUARDIAN_ROLE (halt, resume).
     A market's whole state lives in one packed storage slot and the config in
     another, so an update costs one SLOAD and one SSTORE of market state.
"""
from snekmate.auth import access_control

initializes: access_control

exports: access_control.__interface__

import constants
import interfaces.IOracle as IOracle

implements: IOracle


# ---------------------------------------------------------------- roles
REPORTER_ROLE: public(constant(bytes32)) = keccak256("REPORTER_ROLE")
GUARDIAN_ROLE: public(constant(bytes32)) = keccak256("GUARDIAN_ROLE")


# ---------------------------------------------------------------- bounds
# @dev Bounds of `max_move_bps` and `breaker_bps` (inclusive).
MIN_MOVE_BPS: public(constant(uint256)) = 1
MAX_MOVE_BPS: public(constant(uint256)) = 5_000
# @dev Bounds of `breaker_window` in seconds (inclusive).
MIN_BREAKER_WINDOW: public(constant(uint256)) = 1
MAX_BREAKER_WINDOW: public(constant(uint256)) = 86_400
# @dev Bounds of `max_age` in seconds (inclusive).
MIN_MAX_AGE: public(constant(uint256)) = 1
MAX_MAX_AGE: public(constant(uint256)) = 86_400
# @dev Largest accepted price: 88 bits (3.1e20 USDC per whole base unit).
MAX_PRICE: public(constant(uint256)) = 2**88 - 1
# @dev Largest `set_prices` batch.
MAX_BATCH: public(constant(uint256)) = 64


# ---------------------------------------------------------------- packing
# Market slot: price [0, 88) | window_ref [88, 176) | updated_at [176, 216)
#              | window_start [216, 255) | halted [255]
_MASK_PRICE: constant(uint256) = 2**88 - 1
_MASK_40: constant(uint256) = 2**40 - 1
_MASK_39: constant(uint256) = 2**39 - 1
_REF_SHIFT: constant(uint256) = 88
_UPDATED_SHIFT: constant(uint256) = 176
_START_SHIFT: constant(uint256) = 216
_HALTED_SHIFT: constant(uint256) = 255

# Config slot: max_move_bps [0, 16) | breaker_bps [16, 32)
#              | breaker_window [32, 72) | max_age [72, 112)
_MASK_16: constant(uint256) = 2**16 - 1
_BREAKER_SHIFT: constant(uint256) = 16
_WINDOW_SHIFT: constant(uint256) = 32
_AGE_SHIFT: constant(uint256) = 72


struct MarketState:
    price: uint256
    updated_at: uint256
    halted: bool
    window_ref: uint256
    window_start: uint256


_market: HashMap[uint256, uint256]
_config: uint256


# ---------------------------------------------------------------- events
event PriceUpdated:
    market: indexed(uint256)
    price: uint256
    updated_at: uint256

event PriceRejected:
    market: indexed(uint256)
    price: uint256
    reason: String[32]

event Halted:
    market: indexed(uint256)
    reason: String[16]
    price: uint256
    window_ref: uint256
    account: address

event Resumed:
    market: indexed(uint256)
    price: uint256
    account: address

event MaxMoveSet:
    max_move_bps: uint256

event MaxAgeSet:
    max_age: uint256

event BreakerSet:
    breaker_bps: uint256
    breaker_window: uint256


# ---------------------------------------------------------------- deploy
@deploy
def __init__(max_move_bps: uint256, max_age: uint256, breaker_bps: uint256, breaker_window: uint256):
    """
    @notice Deploy with the given config; the deployer gets DEFAULT_ADMIN_ROLE
            (and no other role: grant REPORTER_ROLE and GUARDIAN_ROLE explicitly).
    @param max_move_bps Maximum move per update, in bps of the last price.
    @param max_age Seconds after which a price is stale.
    @param breaker_bps Move from the window reference that halts the market.
    @param breaker_window Length of the breaker window in seconds.
    """
    access_control.__init__()
    self._check_move_bps(max_move_bps)
    self._check_max_age(max_age)
    self._check_breaker(breaker_bps, breaker_window)
    self._config = self._pack_config(max_move_bps, breaker_bps, breaker_window, max_age)
    log MaxMoveSet(max_move_bps=max_move_bps)
    log MaxAgeSet(max_age=max_age)
    log BreakerSet(breaker_bps=breaker_bps, breaker_window=breaker_window)


# ---------------------------------------------------------------- reporter
@external
def set_price(market: uint256, price: uint256):
    """
    @notice Set the mark price of `market` (REPORTER_ROLE).
    @dev Reverts "oracle: zero price", "oracle: price too large",
         "oracle: move too large". May halt the market (circuit breaker); the
         price is stored either way.
    @param market The market id.
    @param price USDC units (1e-6) per whole base unit.
    """
    assert access_control.hasRole[REPORTER_ROLE][msg.sender], "oracle: not reporter"
    self._update(market, price, self._config, True)


@external
def set_prices(markets: DynArray[uint256, MAX_BATCH], prices: DynArray[uint256, MAX_BATCH]) -> uint256:
    """
    @notice Set many mark prices at once (REPORTER_ROLE), for the keeper's feed.
    @dev An entry that `set_price` would reject is skipped with a
         `PriceRejected` event instead, so one bad market does not leave all
         the others stale. Later entries for the same market see earlier ones.
    @param markets The market ids.
    @param prices The prices, one per market.
    @return The number of prices accepted.
    """
    assert access_control.hasRole[REPORTER_ROLE][msg.sender], "oracle: not reporter"
    assert len(markets) == len(prices), "oracle: length mismatch"
    config: uint256 = self._config
    accepted: uint256 = 0
    for i: uint256 in range(len(markets), bound=MAX_BATCH):
        if self._update(markets[i], prices[i], config, False):
            accepted += 1
    return accepted


# ---------------------------------------------------------------- guardian
@external
def halt(market: uint256):
    """
    @notice Halt `market` (GUARDIAN_ROLE). Reporters can still update its price.
    @param market The market id.
    """
    assert access_control.hasRole[GUARDIAN_ROLE][msg.sender], "oracle: not guardian"
    slot: uint256 = self._market[market]
    assert slot >> _HALTED_SHIFT == 0, "oracle: halted"
    self._market[market] = slot | (1 << _HALTED_SHIFT)
    log Halted(
        market=market,
        reason="guardian",
        price=slot & _MASK_PRICE,
        window_ref=(slot >> _REF_SHIFT) & _MASK_PRICE,
        account=msg.sender,
    )


@external
def resume(market: uint256):
    """
    @notice Resume a halted `market` (GUARDIAN_ROLE); the breaker window
            restarts now with the current price as its reference.
    @param market The market id.
    """
    assert access_control.hasRole[GUARDIAN_ROLE][msg.sender], "oracle: not guardian"
    s: MarketState = self._unpack(self._market[market])
    assert s.halted, "oracle: not halted"
    s.halted = False
    s.window_ref = s.price
    s.window_start = block.timestamp
    self._market[market] = self._pack(s)
    log Resumed(market=market, price=s.price, account=msg.sender)


# ---------------------------------------------------------------- admin
@external
def set_max_move_bps(max_move_bps: uint256):
    """
    @notice Set the maximum move per update in bps (DEFAULT_ADMIN_ROLE),
            within [MIN_MOVE_BPS, MAX_MOVE_BPS].
    @param max_move_bps The new maximum move.
    """
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "oracle: not admin"
    self._check_move_bps(max_move_bps)
    c: uint256 = self._config
    self._config = (c & ~_MASK_16) | max_move_bps
    log MaxMoveSet(max_move_bps=max_move_bps)


@external
def set_max_age(max_age: uint256):
    """
    @notice Set the staleness limit in seconds (DEFAULT_ADMIN_ROLE), within
            [MIN_MAX_AGE, MAX_MAX_AGE].
    @param max_age The new limit.
    """
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "oracle: not admin"
    self._check_max_age(max_age)
    c: uint256 = self._config
    self._config = (c & ~(_MASK_40 << _AGE_SHIFT)) | (max_age << _AGE_SHIFT)
    log MaxAgeSet(max_age=max_age)


@external
def set_breaker(breaker_bps: uint256, breaker_window: uint256):
    """
    @notice Set the circuit breaker (DEFAULT_ADMIN_ROLE): a market halts when a
            price moves more than `breaker_bps` from the reference price of the
            current `breaker_window`-second window. Running windows keep their
            start and reference.
    @param breaker_bps Within [MIN_MOVE_BPS, MAX_MOVE_BPS].
    @param breaker_window Seconds, within [MIN_BREAKER_WINDOW, MAX_BREAKER_WINDOW].
    """
    assert access_control.hasRole[access_control.DEFAULT_ADMIN_ROLE][msg.sender], "oracle: not admin"
    self._check_breaker(breaker_bps, breaker_window)
    c: uint256 = self._config
    self._config = self._pack_config(c & _MASK_16, breaker_bps, breaker_window, (c >> _AGE_SHIFT) & _MASK_40)
    log BreakerSet(breaker_bps=breaker_bps, breaker_window=breaker_window)


# ---------------------------------------------------------------- views
@external
@view
def price_info(market: uint256) -> (uint256, uint256, bool):
    """
    @notice Mark price, the timestamp it was set, and whether the market is
            halted. A market never priced returns (0, 0, halted).
    @param market The market id.
    @return (price, updated_at, halted)
    """
    slot: uint256 = self._market[market]
    return slot & _MASK_PRICE, (slot >> _UPDATED_SHIFT) & _MASK_40, slot >> _HALTED_SHIFT != 0


@external
@view
def market_state(market: uint256) -> MarketState:
    """
    @notice The full state of `market`, breaker window included.
    @param market The market id.
    @return (price, updated_at, halted, window_ref, window_start)
    """
    return self._unpack(self._market[market])


@external
@view
def is_fresh(market: uint256) -> bool:
    """
    @notice Whether `market` has a price no older than `max_age` and is not
            halted, i.e. whether settlement may use it now.
    @param market The market id.
    @return True if settlement may use the price now.
    """
    slot: uint256 = self._market[market]
    updated_at: uint256 = (slot >> _UPDATED_SHIFT) & _MASK_40
    return (
        slot & _MASK_PRICE != 0
        and slot >> _HALTED_SHIFT == 0
        and block.timestamp <= updated_at + ((self._config >> _AGE_SHIFT) & _MASK_40)
    )


@external
@view
def max_age() -> uint256:
    """
    @notice Seconds after which a price is stale and settlement must not use it.
    @return Seconds.
    """
    return (self._config >> _AGE_SHIFT) & _MASK_40


@external
@view
def max_move_bps() -> uint256:
    """
    @notice Maximum move per update, in bps of the last price.
    @return bps.
    """
    return self._config & _MASK_16


@external
@view
def breaker_bps() -> uint256:
    """
    @notice Move from the window reference price, in bps, that halts a market.
    @return bps.
    """
    return (self._config >> _BREAKER_SHIFT) & _MASK_16


@external
@view
def breaker_window() -> uint256:
    """
    @notice Length of the circuit-breaker window in seconds.
    @return Seconds.
    """
    return (self._config >> _WINDOW_SHIFT) & _MASK_40


# ---------------------------------------------------------------- internal
@internal
def _update(market: uint256, price: uint256, config: uint256, strict: bool) -> bool:
    """
    @dev Apply one price. `strict`: revert on a bad price, else log
         `PriceRejected` and return False.
    """
    if price == 0:
        assert not strict, "oracle: zero price"
        log PriceRejected(market=market, price=price, reason="zero price")
        return False
    if price > MAX_PRICE:
        assert not strict, "oracle: price too large"
        log PriceRejected(market=market, price=price, reason="price too large")
        return False

    slot: uint256 = self._market[market]
    last: uint256 = slot & _MASK_PRICE
    ref: uint256 = (slot >> _REF_SHIFT) & _MASK_PRICE
    start: uint256 = (slot >> _START_SHIFT) & _MASK_39
    halted: bool = slot >> _HALTED_SHIFT != 0
    tripped: bool = False

    if last == 0:
        # First price of the market: nothing to compare with.
        ref = price
        start = block.timestamp
    elif not halted:
        if self._moved_more(last, price, config & _MASK_16):
            assert not strict, "oracle: move too large"
            log PriceRejected(market=market, price=price, reason="move too large")
            return False
        if block.timestamp >= start + ((config >> _WINDOW_SHIFT) & _MASK_40):
            # The window has run out: a new one starts at the last price.
            ref = last
            start = block.timestamp
        if self._moved_more(ref, price, (config >> _BREAKER_SHIFT) & _MASK_16):
            halted = True
            tripped = True
    # A halted market takes any price (the feed catches up); its window is
    # restarted by `resume`.

    self._market[market] = (
        price
        | (ref << _REF_SHIFT)
        | (block.timestamp << _UPDATED_SHIFT)
        | (start << _START_SHIFT)
        | (convert(halted, uint256) << _HALTED_SHIFT)
    )
    log PriceUpdated(market=market, price=price, updated_at=block.timestamp)
    if tripped:
        log Halted(market=market, reason="breaker", price=price, window_ref=ref, account=msg.sender)
    return True


@internal
@pure
def _moved_more(old: uint256, new: uint256, bps: uint256) -> bool:
    """
    @dev |new - old| > old * bps / BPS, without rounding.
    """
    diff: uint256 = new - old if new > old else old - new
    return diff * constants.BPS > old * bps


@internal
@pure
def _check_move_bps(bps: uint256):
    assert bps >= MIN_MOVE_BPS and bps <= MAX_MOVE_BPS, "oracle: bad max move"


@internal
@pure
def _check_max_age(max_age: uint256):
    assert max_age >= MIN_MAX_AGE and max_age <= MAX_MAX_AGE, "oracle: bad max age"


@internal
@pure
def _check_breaker(bps: uint256, window: uint256):
    assert bps >= MIN_MOVE_BPS and bps <= MAX_MOVE_BPS, "oracle: bad breaker bps"
    assert window >= MIN_BREAKER_WINDOW and window <= MAX_BREAKER_WINDOW, "oracle: bad breaker window"


@internal
@pure
def _pack_config(max_move_bps: uint256, breaker_bps: uint256, breaker_window: uint256, max_age: uint256) -> uint256:
    return max_move_bps | (breaker_bps << _BREAKER_SHIFT) | (breaker_window << _WINDOW_SHIFT) | (max_age << _AGE_SHIFT)


@internal
@pure
def _unpack(slot: uint256) -> MarketState:
    return MarketState(
        price=slot & _MASK_PRICE,
        updated_at=(slot >> _UPDATED_SHIFT) & _MASK_40,
        halted=slot >> _HALTED_SHIFT != 0,
        window_ref=(slot >> _REF_SHIFT) & _MASK_PRICE,
        window_start=(slot >> _START_SHIFT) & _MASK_39,
    )


@internal
@pure
def _pack(s: MarketState) -> uint256:
    return (
        s.price
        | (s.window_ref << _REF_SHIFT)
        | (s.updated_at << _UPDATED_SHIFT)
        | (s.window_start << _START_SHIFT)
        | (convert(s.halted, uint256) << _HALTED_SHIFT)
    )
