"""Numbers the test folders share: units, the standard market and fee tier, the oracle's
settings, and the parameters of the deployed stack (`Stack`: STANDARD_STACK, and the vault
folders' VAULT_STACK, which tests/contracts/{vault,factory,pool}/conftest.py select).

Import from here (`from tests.constants import USDC, ETH`), not from a conftest.
"""

from dataclasses import dataclass

from offchain.order import ONE_FILL, POST_ONLY, REDUCE_ONLY

USDC = 10**6
ONE = 10**18  # one whole base unit
BPS = 10_000
DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"

# The standard market: market 1 "ETH" (tick 0.01 USDC, lot 0.001 ETH, min size 0.001 ETH,
# initial margin 10%, maintenance 5%, band 5%) marked at 2,000 USDC.
ETH = 1  # market id
MARKET = ETH
ETH_PRICE = 2_000 * USDC  # USDC units per whole base unit
PRICE = ETH_PRICE
TICK = 10_000  # 0.01 USDC
LOT = 10**15  # 0.001 ETH
MIN_SIZE = 10**15
INITIAL_MARGIN_BPS = IM_BPS = 1_000
MAINTENANCE_MARGIN_BPS = MM_BPS = 500
BAND_BPS = 500
# A second market the multi-market tests add (create_market): "SOL", marked at 150 USDC.
SOL = 2
SOL_PRICE = 150 * USDC

# The standard fee tier: one tier, taker fee 5 bps, maker rebate 2 bps.
TAKER_FEE_BPS = 5
MAKER_REBATE_BPS = 2

# The test Funding contract (create_funding): 60 s intervals, a rate cap of 1 % of RATE_ONE.
FUNDING_INTERVAL = 60
FUNDING_CAP = 10**10

ORACLE_MAX_MOVE_BPS = 5_000
ORACLE_MAX_AGE = 3_600
ORACLE_BREAKER_BPS = 5_000
ORACLE_BREAKER_WINDOW = 1

FAR_EXPIRY = FAR = 2**40  # order expiry far in the future

# A signer that is not an Ape account (an agent key, e.g. a vault manager's hot key).
AGENT_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")



@dataclass(frozen=True, slots=True)
class Stack:
    """The parameters of the deployed test stack (the `contract_stack` fixture of tests/conftest.py;
    a folder conftest overrides that fixture to run its tests on another one)."""

    band_bps: int = BAND_BPS  # market 1's price band
    maker_rebate_bps: int = MAKER_REBATE_BPS  # the one fee tier's rebate (taker fee: TAKER_FEE_BPS)
    oracle_max_age: int = ORACLE_MAX_AGE
    fund_deposits: bool = True  # `fund(account, amount)` deposits into the Exchange; else mints and approves


STANDARD_STACK = Stack()
# The vault, factory and pool folders: fills within 10% of mark (their trades move marks
# far), a 1 bps maker rebate, a day-long oracle max age (their lock-ups jump days), and
# `fund(account, amount, spender=None)` only mints and approves.
VAULT_STACK = Stack(band_bps=1_000, maker_rebate_bps=1, oracle_max_age=DAY, fund_deposits=False)

__all__ = [
    "AGENT_KEY", "BAND_BPS", "BPS", "DAY", "ETH", "ETH_PRICE", "FAR", "FAR_EXPIRY", "FUNDING_CAP", "FUNDING_INTERVAL", "IM_BPS", "INITIAL_MARGIN_BPS",
    "LOT", "MAINTENANCE_MARGIN_BPS", "MAKER_REBATE_BPS", "MARKET", "MIN_SIZE", "MM_BPS", "ONE", "ORACLE_BREAKER_BPS",
    "ONE_FILL", "ORACLE_BREAKER_WINDOW", "ORACLE_MAX_AGE", "ORACLE_MAX_MOVE_BPS", "POST_ONLY", "PRICE", "REDUCE_ONLY",
    "SOL", "SOL_PRICE", "STANDARD_STACK", "Stack", "TAKER_FEE_BPS", "TICK", "USDC", "VAULT_STACK", "ZERO",
]
