"""Fixtures for the RebateEngine tests: accounts by role, tier tables, a factory."""
import pytest

USDC = 10**6
EPOCH = 30 * 86_400

# (min_volume, taker_fee_bps, maker_rebate_bps)
TIERS = [
    (0, 5, 0),
    (1_000_000 * USDC, 4, 1),
    (10_000_000 * USDC, 3, 2),
    (100_000_000 * USDC, 3, 3),
]

# Eight tiers, to exercise the second threshold slot.
TIERS_8 = [(i * 1_000 * USDC, 10, i) for i in range(8)]


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def exchange(accounts):
    """An account standing in for the Exchange contract (EXCHANGE_ROLE)."""
    return accounts[1]


@pytest.fixture(scope="module")
def maker(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def taker(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def create_rebate(project, admin, exchange):
    def create(tiers=TIERS, grant=True):
        engine = project.RebateEngine.deploy(tiers, sender=admin)
        if grant:
            engine.grantRole(engine.EXCHANGE_ROLE(), exchange, sender=admin)
        return engine

    return create


@pytest.fixture(scope="module")
def rebate(create_rebate):
    return create_rebate()


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


def record(engine, maker, taker, notional, sender):
    """Send record() and return (its return value, the receipt).

    The in-process provider computes `receipt.return_value` by re-running the call on
    the state *after* the transaction, so the value is taken from a call on the state
    before it (what the Exchange sees inside its transaction)."""
    value = tuple(engine.record.call(maker, taker, notional, sender=sender))
    return value, engine.record(maker, taker, notional, sender=sender)
