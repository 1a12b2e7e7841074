# pragma version ~=0.4.3
"""
@title MMX funding maths (stateless module)
@notice The integers of perpetual funding that the Exchange applies and
        offchain/funding/rate.py mirrors (docs/funding.md): the index step of one rate,
        what a position owes between two index values (rounded against the payer), and
        the position word with the funding snapshot packed next to size and cost.
@dev Rates are fractions scaled by RATE_ONE (1e12), positive = longs pay. A market's
     cumulative index grows by trunc(rate * mark / INDEX_DIV) per interval; a position
     owes ceil(size * (index - snapshot) / PAY_SCALE) USDC units.
     Position word: size int96 [0, 96) | cost int88 [96, 184) | snapshot [184, 256), the
     snapshot being the index mod 2**72: `owed` takes the difference mod 2**72 as a signed
     72-bit number, exact while a position's unsettled index move stays below 2**71
     (590,000 intervals at a 4 % cap on a 100,000 USDC market; any touch resets it).
"""

RATE_ONE: constant(int256) = 10**12
INDEX_DIV: constant(int256) = 10**6
PAY_SCALE: constant(int256) = 10**24

SNAP_BITS: constant(uint256) = 72
SNAP_MASK: constant(uint256) = 2**72 - 1
SNAP_HALF: constant(uint256) = 2**71
SIZE_MASK: constant(uint256) = 2**96 - 1
COST_MASK: constant(uint256) = 2**88 - 1
COST_SHIFT: constant(uint256) = 96
SNAP_SHIFT: constant(uint256) = 184
MAX_SIZE: constant(int256) = 2**95 - 1
MAX_COST: constant(int256) = 2**87 - 1


@pure
@internal
def index_delta(rate: int256, mark: uint256) -> int256:
    """
    @dev One interval's index step, toward zero (Vyper's signed // truncates).
    """
    return rate * convert(mark, int256) // INDEX_DIV


@pure
@internal
def owed(size: int256, index: int256, snapshot: uint256) -> int256:
    """
    @dev USDC units a position of `size` owes since its 72-bit `snapshot` (negative:
         it receives), rounded up: the payer pays the ceiling, the receiver gets the floor.
    """
    return self.pay(self.exact(size, index, snapshot))


@pure
@internal
def exact(size: int256, index: int256, snapshot: uint256) -> int256:
    """
    @dev What a position of `size` owes since its 72-bit `snapshot`, exactly, in units
         of 1 / PAY_SCALE USDC unit: size * (index - snapshot).
    """
    # (index - snapshot) mod 2**72 as a signed 72-bit number (sign-extended by the shift);
    # |size| < 2**95 (the position word) and |d| <= 2**71: the product cannot overflow
    d: uint256 = unsafe_sub(convert(convert(index, bytes32), uint256), snapshot) << 184
    return unsafe_mul(size, convert(convert(d, bytes32), int256) >> 184)


@pure
@internal
def pay(x: int256) -> int256:
    """
    @dev The USDC units settled for an exact amount `x` (exact()): ceil(x / PAY_SCALE),
         against the payer. `pay(x) * PAY_SCALE - x`, in [0, PAY_SCALE), is the rounding
         residue the Exchange books toward the insurance fund (ledger._book_funding).
    """
    q: int256 = unsafe_div(x, PAY_SCALE)  # toward zero: the ceiling for x < 0
    if x > 0 and unsafe_mul(q, PAY_SCALE) != x:
        q = unsafe_add(q, 1)
    return q


@pure
@internal
def snapshot_of(index: int256) -> uint256:
    """
    @dev The 72-bit snapshot stored for the current index.
    """
    return self._low72(index)


@pure
@internal
def fits(size: int256, cost: int256) -> bool:
    """
    @dev Whether (size, cost) fit the position word (int96, int88): x + 2**(n-1) mod
         2**256 is below 2**n exactly when x fits n bits.
    """
    s: uint256 = unsafe_add(convert(convert(size, bytes32), uint256), 2**95)
    c: uint256 = unsafe_add(convert(convert(cost, bytes32), uint256), 2**87)
    return s < 2**96 and c < 2**88


@pure
@internal
def pack(size: int256, cost: int256, snapshot: uint256) -> uint256:
    """
    @dev The position word. Reverts `exchange: overflow` if size or cost do not fit.
    """
    assert self.fits(size, cost), "exchange: overflow"
    s: uint256 = convert(convert(size, bytes32), uint256) & SIZE_MASK
    c: uint256 = convert(convert(cost, bytes32), uint256) & COST_MASK
    return s | (c << COST_SHIFT) | ((snapshot & SNAP_MASK) << SNAP_SHIFT)


@pure
@internal
def unpack(word: uint256) -> (int256, int256, uint256):
    """
    @dev (size, cost, snapshot) of a position word (fields sign-extended by shifts).
    """
    return (
        convert(convert(word << 160, bytes32), int256) >> 160,
        convert(convert(word << 72, bytes32), int256) >> 168,
        word >> SNAP_SHIFT,
    )


@pure
@internal
def _low72(x: int256) -> uint256:
    # two's complement bits of x, low 72 (x mod 2**72)
    return convert(convert(x, bytes32), uint256) & SNAP_MASK
