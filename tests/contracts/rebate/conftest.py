"""Fixtures for the fee-tier tests: the RebateEngine (tier table) under a real Exchange,
which keeps each account's trailing-volume record and applies the tiers at settlement.

Folder overrides: `rebate` deploys the four-tier TIERS table, so the shared `exchange`
fixture (tests/conftest.py) is built over it.
"""
import pytest

from tests.constants import ETH, ETH_PRICE, LOT, ONE, USDC

EPOCH = 30 * 86_400

# (min_volume, taker_fee_bps, maker_rebate_bps)
TIERS = [
    (0, 5, 0),
    (1_000_000 * USDC, 4, 1),
    (10_000_000 * USDC, 3, 2),
    (100_000_000 * USDC, 3, 3),
]

# Eight tiers, to exercise the second threshold word.
TIERS_8 = [(i * 1_000 * USDC, 10, i) for i in range(8)]

# notional of one lot at ETH_PRICE: fills are whole lots, so notionals are multiples of it
LOT_NOTIONAL = ETH_PRICE * LOT // ONE
FUNDING = 10**10 * USDC


@pytest.fixture(scope="module")
def create_rebate(project, admin):
    def create(tiers=TIERS):
        return project.RebateEngine.deploy(tiers, sender=admin)

    return create


@pytest.fixture(scope="module")
def rebate(create_rebate):
    return create_rebate()


@pytest.fixture(scope="module")
def funded(fund, maker, taker, other, stranger):
    for account in (maker, taker, other, stranger):
        fund(account, FUNDING)
    return FUNDING


@pytest.fixture(scope="module")
def trade(exchange, oracle, operator, admin, create_order, create_fill, funded):
    """trade(maker, taker, notional, maker_buys=True) -> (tx, FillSettled log).

    Settles one fill of `notional` USDC units (a multiple of LOT_NOTIONAL) at ETH_PRICE,
    refreshing the mark first so that time jumps never make it stale."""

    def _trade(maker, taker, notional, maker_buys=True):
        assert notional % LOT_NOTIONAL == 0
        size = notional * ONE // ETH_PRICE
        oracle.set_price(ETH, ETH_PRICE, sender=admin)
        fill = create_fill(create_order(maker, maker_buys, ETH_PRICE, size), create_order(taker, not maker_buys, ETH_PRICE, size))
        tx = exchange.settle([fill], sender=operator)
        settled = tx.decode_logs(exchange.FillSettled)
        assert len(settled) == 1, [log.reason for log in tx.decode_logs(exchange.FillSkipped)]
        return tx, settled[0]

    return _trade


def tier_index(tiers, volume):
    """Python model of the tier lookup."""
    return max(i for i, t in enumerate(tiers) if t[0] <= volume)


def trailing(epoch_of_last, current, previous, now):
    """Python model of the trailing volume."""
    epoch, elapsed = divmod(now, EPOCH)
    if epoch_of_last == epoch:
        return current + previous * (EPOCH - elapsed) // EPOCH
    if epoch_of_last + 1 == epoch:
        return current * (EPOCH - elapsed) // EPOCH
    return 0


def fee_of(notional, bps):
    return -(-notional * bps // 10_000)


def rebate_of(notional, bps):
    return min(notional * bps // 10_000, notional)


def charged(log, notional, tiers, taker_tier, maker_tier):
    """Whether a FillSettled log charged the taker at `taker_tier` and paid the maker at `maker_tier`."""
    fee = fee_of(notional, tiers[taker_tier][1])
    return (log.taker_fee, log.maker_rebate) == (fee, min(notional * tiers[maker_tier][2] // 10_000, fee))
