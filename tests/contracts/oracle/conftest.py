"""Fixtures for the Oracle tests: reporter and guardian roles, a factory with the folder's
limits and a module-scoped oracle (admin, stranger: tests/conftest.py)."""
import pytest

MAX_MOVE_BPS = 1_000  # 10% per update
MAX_AGE = 60  # seconds
BREAKER_BPS = 1_500  # 15% within the window halts
BREAKER_WINDOW = 300  # seconds

BTC = 1
ETH = 2
BTC_PRICE = 60_000 * 10**6  # USDC units per whole BTC


@pytest.fixture(scope="module")
def reporter(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def guardian(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def create_oracle(project, admin, reporter, guardian):
    def create(
        max_move_bps=MAX_MOVE_BPS,
        max_age=MAX_AGE,
        breaker_bps=BREAKER_BPS,
        breaker_window=BREAKER_WINDOW,
        grant=True,
    ):
        oracle = project.Oracle.deploy(max_move_bps, max_age, breaker_bps, breaker_window, sender=admin)
        if grant:
            oracle.grantRole(oracle.REPORTER_ROLE(), reporter, sender=admin)
            oracle.grantRole(oracle.GUARDIAN_ROLE(), guardian, sender=admin)
        return oracle

    return create


@pytest.fixture(scope="module")
def oracle(create_oracle):
    return create_oracle()


@pytest.fixture
def priced_oracle(oracle, reporter):
    """The module oracle with a first BTC price."""
    oracle.set_price(BTC, BTC_PRICE, sender=reporter)
    return oracle
