# pragma version ~=0.4.3
"""
@title MMX shared constants (stateless module)
@notice The one definition of the units and limits that more than one contract uses.
        Import it (`import constants`) and refer to `constants.BPS`; never redeclare these.
        docs/architecture.md ("Units") explains them.
"""

# One basis point is 1 / BPS: fees, bands, margins, shares and caps are integer bps.
BPS: constant(uint256) = 10_000
# A size is in base units of 1e-18; notional = price * size // ONE.
ONE: constant(uint256) = 10**18
ONE_I: constant(int256) = 10**18

DAY: constant(uint256) = 86_400
# Longest lock-up a pool or vault may set.
MAX_LOCKUP: constant(uint256) = 30 * DAY
# Virtual shares / assets of the ERC-4626-style share maths (first-depositor inflation defence).
VIRTUAL_SHARES: constant(uint256) = 10**6
# The EIP-712 signed order (DESIGN.md "The signed order"): the Exchange hashes it in
# settle, ExchangeAccounts in cancel_order.
ORDER_TYPEHASH: constant(bytes32) = keccak256(
    "Order(address account,uint256 market,bool is_buy,uint256 price,uint256 size,uint256 nonce,uint256 expiry,uint256 flags)"
)
# Fee tiers in the RebateEngine and margin tiers in the Exchange.
MAX_TIERS: constant(uint256) = 8
