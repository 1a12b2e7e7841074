"""Shared contract fixtures: accounts by role, deployments and `create_*` factories.

Deployments are module-scoped; Ape's chain isolation reverts each test's changes, so a
test starts from the state the module fixtures built. Folder conftests (oracle, usdc,
...) may override a role fixture of the same name for their own folder.

The standard stack: TestUSDC, Oracle (ETH mark 2,000 USDC), RebateEngine (one tier:
taker fee 5 bps, maker rebate 2 bps), Exchange with market 1 "ETH" (tick 0.01 USDC,
lot 0.001 ETH, min size 0.001 ETH, initial margin 10%, maintenance 5%, band 5%).
"""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager

import pytest
from hypothesis import settings

# CI runs the same examples every time (derandomize) and never fails a test because a
# loaded machine made one example slow (deadline): an intermittent failure in CI is then a
# real fault, not the luck of a seed or of the scheduler. HYPOTHESIS_PROFILE=explore runs
# fresh random examples, many more of them, for a local bug hunt.
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from offchain.order import POST_ONLY, REDUCE_ONLY, Domain, Order, order_hash, sign_order

USDC = 10**6
ETH = 1  # market id
ONE = 10**18  # one whole base unit
ETH_PRICE = 2_000 * USDC
TICK = 10_000  # 0.01 USDC
LOT = 10**15  # 0.001 ETH
MIN_SIZE = 10**15
INITIAL_MARGIN_BPS = 1_000
MAINTENANCE_MARGIN_BPS = 500
BAND_BPS = 500
TAKER_FEE_BPS = 5
MAKER_REBATE_BPS = 2
ORACLE_MAX_MOVE_BPS = 5_000
ORACLE_MAX_AGE = 3_600
ORACLE_BREAKER_BPS = 5_000
ORACLE_BREAKER_WINDOW = 1
FAR_EXPIRY = 2**40
# A signer that is not an Ape account (an agent key, e.g. a vault manager's hot key).
AGENT_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")

__all__ = ["POST_ONLY", "REDUCE_ONLY"]


# ---------------------------------------------------------------- roles


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def maker(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def taker(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def lp(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def manager(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def treasury(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def pauser(accounts):
    return accounts[7]


@pytest.fixture(scope="module")
def other(accounts):
    """A third trader."""
    return accounts[8]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def agent_key():
    return AGENT_KEY


@pytest.fixture(scope="module")
def agent(agent_key):
    from offchain.order import address_of

    return address_of(agent_key)


# ---------------------------------------------------------------- deployments


@pytest.fixture(scope="module")
def create_usdc(project, admin):
    def create():
        return project.TestUSDC.deploy(sender=admin)

    return create


@pytest.fixture(scope="module")
def usdc(create_usdc):
    return create_usdc()


@pytest.fixture(scope="module")
def create_oracle(project, admin):
    """An Oracle whose admin is also reporter and guardian."""

    def create(max_age=ORACLE_MAX_AGE, prices=((ETH, ETH_PRICE),)):
        oracle = project.Oracle.deploy(
            ORACLE_MAX_MOVE_BPS, max_age, ORACLE_BREAKER_BPS, ORACLE_BREAKER_WINDOW, sender=admin
        )
        oracle.grantRole(oracle.REPORTER_ROLE(), admin, sender=admin)
        oracle.grantRole(oracle.GUARDIAN_ROLE(), admin, sender=admin)
        for market, price in prices:
            oracle.set_price(market, price, sender=admin)
        return oracle

    return create


@pytest.fixture(scope="module")
def oracle(create_oracle):
    return create_oracle()


@pytest.fixture(scope="module")
def create_rebate(project, admin):
    def create(tiers=((0, TAKER_FEE_BPS, MAKER_REBATE_BPS),)):
        return project.RebateEngine.deploy(list(tiers), sender=admin)

    return create


@pytest.fixture(scope="module")
def rebate(create_rebate):
    return create_rebate()


@pytest.fixture(scope="module")
def create_exchange(project, admin, operator, pauser, treasury, usdc):
    """An Exchange over `oracle` and `rebate` with roles granted and market 1 (ETH)."""

    def create(oracle, rebate, add_eth=True):
        risk = project.ExchangeRisk.deploy(usdc, oracle, sender=admin)
        exchange = project.Exchange.deploy(usdc, oracle, rebate, treasury, risk, sender=admin)
        exchange.grantRole(exchange.OPERATOR_ROLE(), operator, sender=admin)
        exchange.grantRole(exchange.PAUSER_ROLE(), pauser, sender=admin)
        rebate.grantRole(rebate.EXCHANGE_ROLE(), exchange, sender=admin)
        if add_eth:
            exchange.add_market(
                TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, BAND_BPS, sender=admin
            )
        return exchange

    return create


@pytest.fixture(scope="module")
def exchange(create_exchange, oracle, rebate):
    return create_exchange(oracle, rebate)


@pytest.fixture(scope="module")
def domain(chain, exchange):
    return Domain(chain_id=chain.chain_id, exchange=exchange.address)


# ---------------------------------------------------------------- factories


@pytest.fixture(scope="module")
def fund(usdc, exchange, admin):
    """fund(account, amount, deposit=True): mint USDC to `account` and deposit it."""

    def _fund(account, amount, deposit=True):
        usdc.mint(account, amount, sender=admin)
        usdc.approve(exchange, 2**256 - 1, sender=account)
        if deposit:
            exchange.deposit(amount, sender=account)

    return _fund


@pytest.fixture(scope="module")
def create_order():
    """create_order(account, is_buy, price, size, **fields) -> offchain.order.Order.

    Nonces are unique per call unless given; expiry defaults to far in the future.
    """
    nonces = itertools.count(1)

    def create(account, is_buy, price=ETH_PRICE, size=ONE, *, market=ETH, nonce=None, expiry=FAR_EXPIRY, flags=0):
        address = account if isinstance(account, str) else account.address
        return Order(
            account=address,
            market=market,
            is_buy=is_buy,
            price=price,
            size=size,
            nonce=next(nonces) if nonce is None else nonce,
            expiry=expiry,
            flags=flags,
        )

    return create


@pytest.fixture(scope="module")
def sign(domain, accounts):
    """sign(order, key=None, domain=None) -> Signature ABI tuple (v, r, s).

    Without a key the order's own account signs (it must be an Ape test account).
    """
    keys = {a.address: bytes.fromhex(a.private_key.removeprefix("0x")) for a in accounts}

    def _sign(order, key=None, domain_=None):
        key = keys[order.account] if key is None else key
        return sign_order(order, domain_ or domain, key).as_tuple()

    return _sign


@pytest.fixture(scope="module")
def create_fill(sign):
    """create_fill(maker_order, taker_order, size=None, maker_sig=None, taker_sig=None) -> Fill tuple."""

    def create(maker_order, taker_order, size=None, maker_sig=None, taker_sig=None):
        return (
            maker_order.as_tuple(),
            maker_sig or sign(maker_order),
            taker_order.as_tuple(),
            taker_sig or sign(taker_order),
            min(maker_order.size, taker_order.size) if size is None else size,
        )

    return create


@pytest.fixture(scope="module")
def hash_of(domain):
    """hash_of(order) -> bytes32 digest under the test Exchange's domain."""

    def _hash(order):
        return order_hash(order, domain)

    return _hash


# ---------------------------------------------------------------- PostgreSQL (journal)


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server per test session (offchain.devdb.PostgresServer).

    No skip: the machine image has Debian's postgresql-15; without it this fails with a
    message that says what to install."""
    from offchain.devdb import PostgresServer

    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres, request):
    """A fresh, empty schema on the session's server, as a journal URL (search_path in it)."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[-50:]
    return postgres.create_schema(f"{name}_{next(_databases)}")


_databases = itertools.count(1)


@pytest.fixture(scope="module")
def isolated(chain):
    """`with isolated():` snapshot, run, restore. Unlike ape's `chain.isolate()`, which
    swallows every exception raised inside it (so a failed assertion would pass), this
    lets failures propagate to pytest / hypothesis."""

    @contextmanager
    def isolated():
        snapshot = chain.snapshot()
        try:
            yield
        finally:
            chain.restore(snapshot)

    return isolated
