"""The one stack of test fixtures: accounts by role, deployments and `create_*` factories.

Deployments are module-scoped; Ape's chain isolation reverts each test's changes, so a
test starts from the state the module fixtures built. Folder conftests may override a
fixture of the same name for their own folder (same scope: tests/contracts/conftest.py).
Numbers live in tests/constants.py.

The standard stack: TestUSDC, Oracle (ETH mark 2,000 USDC), RebateEngine (one tier:
taker fee 5 bps, maker rebate 2 bps), Exchange with market 1 "ETH" (tick 0.01 USDC,
lot 0.001 ETH, min size 0.001 ETH, initial margin 10%, maintenance 5%, band 5%); on top,
a VaultFactory (`factory`, `create_vault`, `vault`). The vault, factory and pool folders
select VAULT_STACK through the `contract_stack` fixture (band 10%, maker rebate 1 bps, oracle max
age 1 day, `fund` = `mint_usdc`).
"""

from __future__ import annotations

import itertools
import os
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings

# CI runs the same examples every time (derandomize) and never fails a test because a
# loaded machine made one example slow (deadline): an intermittent failure in CI is then a
# real fault, not the luck of a seed or of the scheduler. HYPOTHESIS_PROFILE=explore runs
# fresh random examples, many more of them, for a local bug hunt. The too_slow health check
# is off for the same reason as the deadline: it times data generation by the wall clock.
# A test's own suppress_health_check list replaces this one: keep too_slow in it.
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=500, print_blob=True)
# deep: a longer run by hand of the stateful machines (tests/stateful.py scales their examples
# and steps), fresh random examples each time; a failure prints the blob that replays it.
settings.register_profile("deep", deadline=None, derandomize=False, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("MMX_HYPOTHESIS_PROFILE") or os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from offchain.funding import RATE_ONE, index_delta
from offchain.order import Domain, Order, address_of, order_hash, sign_order
from tests.constants import (AGENT_KEY, BAND_BPS, DAY, ETH, ETH_PRICE, FAR_EXPIRY, FUNDING_CAP, FUNDING_INTERVAL,
                             INITIAL_MARGIN_BPS, LOT, MAINTENANCE_MARGIN_BPS, MAKER_REBATE_BPS, MARKET, MIN_SIZE, ONE,
                             ORACLE_BREAKER_BPS, ORACLE_BREAKER_WINDOW, ORACLE_MAX_AGE, ORACLE_MAX_MOVE_BPS, POST_ONLY,
                             PRICE, REDUCE_ONLY, STANDARD_STACK, TAKER_FEE_BPS, TICK, USDC)

# Names tests imported from here before tests/constants.py existed (import them from there).
__all__ = ["ETH", "ETH_PRICE", "LOT", "MAKER_REBATE_BPS", "ONE", "POST_ONLY", "REDUCE_ONLY", "TAKER_FEE_BPS", "TICK",
           "USDC"]


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
def owner(accounts):
    """A vault's owner (leader)."""
    return accounts[10]


@pytest.fixture(scope="module")
def follower(accounts):
    """A vault depositor."""
    return accounts[11]


@pytest.fixture(scope="module")
def follower2(accounts):
    return accounts[12]


@pytest.fixture(scope="module")
def unwind_agent(accounts):
    """The factory's unwind agent (signs a vault's forced-unwind orders)."""
    return accounts.generate_test_account()


@pytest.fixture(scope="module")
def agent_key():
    return AGENT_KEY


@pytest.fixture(scope="module")
def agent(agent_key):
    return address_of(agent_key)


# ---------------------------------------------------------------- deployments


@pytest.fixture(scope="module")
def create_usdc(project, admin):
    def create(sender=None):
        return project.TestUSDC.deploy(sender=sender or admin)

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
def contract_stack():
    """The stack's parameters (tests/constants.py Stack); folders override this fixture."""
    return STANDARD_STACK


@pytest.fixture(scope="module")
def oracle(create_oracle, contract_stack):
    return create_oracle(max_age=contract_stack.oracle_max_age)


@pytest.fixture(scope="module")
def create_rebate(project, admin):
    def create(tiers=((0, TAKER_FEE_BPS, MAKER_REBATE_BPS),)):
        return project.RebateEngine.deploy(list(tiers), sender=admin)

    return create


@pytest.fixture(scope="module")
def rebate(create_rebate, contract_stack):
    return create_rebate(((0, TAKER_FEE_BPS, contract_stack.maker_rebate_bps),))


@pytest.fixture(scope="module")
def create_exchange(project, admin, operator, pauser, treasury, usdc):
    """An Exchange over `oracle` and `rebate` with roles granted and market 1 (ETH) whose
    price band is `band_bps`."""

    def create(oracle, rebate, add_eth=True, band_bps=BAND_BPS):
        accounts_logic = project.ExchangeAccounts.deploy(usdc, oracle, sender=admin)
        risk = project.ExchangeRisk.deploy(usdc, oracle, accounts_logic, sender=admin)
        exchange = project.Exchange.deploy(usdc, oracle, rebate, treasury, risk, sender=admin)
        exchange.grantRole(exchange.OPERATOR_ROLE(), operator, sender=admin)
        exchange.grantRole(exchange.PAUSER_ROLE(), pauser, sender=admin)
        if add_eth:
            exchange.add_market(
                TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, band_bps, sender=admin
            )
        return exchange

    return create


@pytest.fixture(scope="module")
def exchange(create_exchange, oracle, rebate, contract_stack):
    return create_exchange(oracle, rebate, band_bps=contract_stack.band_bps)


@pytest.fixture(scope="module")
def create_market(exchange, oracle, admin):
    """create_market(price, band_bps=500) -> id: one more market with the standard tick, lot,
    min size and margins, its oracle mark set first (the next id is market_count + 1)."""

    def create(price, band_bps=BAND_BPS):
        market = exchange.market_count() + 1
        oracle.set_price(market, price, sender=admin)
        exchange.add_market(TICK, LOT, MIN_SIZE, INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, band_bps, sender=admin)
        return market

    return create


@pytest.fixture(scope="module")
def create_funding(project, admin, operator):
    """create_funding(oracle, interval=60, cap=1 % of RATE_ONE, markets=(ETH,)): a Funding
    contract with the operator as FUNDING_ROLE and each market configured."""

    def create(oracle, interval=FUNDING_INTERVAL, cap=FUNDING_CAP, markets=(ETH,)):
        funding = project.Funding.deploy(oracle, sender=admin)
        funding.grantRole(funding.FUNDING_ROLE(), operator, sender=admin)
        for market in markets:
            funding.set_funding_config(market, interval, cap, sender=admin)
        return funding

    return create


@pytest.fixture(scope="module")
def fx(exchange, create_funding, oracle, admin):
    """The Exchange with a Funding contract (60 s intervals, cap 100 % an interval)."""
    funding = create_funding(oracle, interval=FUNDING_INTERVAL, cap=RATE_ONE)
    exchange.set_funding(funding, sender=admin)
    return funding


@pytest.fixture(scope="module")
def advance_interval(chain, oracle, admin):
    """advance_interval(funding, market=ETH, price=ETH_PRICE) -> interval id: move the clock
    into the interval after the next one and refresh the price, so the interval after
    `funding`'s last one is complete."""

    def advance(funding, market=ETH, price=ETH_PRICE):
        _, last, interval_s, _ = funding.funding_state(market)
        target = (last + 2) * interval_s + 1
        if chain.pending_timestamp < target:
            chain.pending_timestamp = target
        oracle.set_price(market, price, sender=admin)
        return last + 1

    return advance


@pytest.fixture(scope="module")
def push_rate(fx, advance_interval, operator):
    """push_rate(rate, market=ETH, price=ETH_PRICE) -> the index step: the next complete
    interval's rate at a fresh price."""

    def push(rate, market=ETH, price=ETH_PRICE):
        fx.update_funding(market, advance_interval(fx, market, price), rate, sender=operator)
        return index_delta(rate, price)

    return push


@pytest.fixture(scope="module")
def domain(chain, exchange):
    return Domain(chain_id=chain.chain_id, exchange=exchange.address)


@pytest.fixture(scope="module")
def factory(project, admin, exchange, usdc, unwind_agent):
    """A VaultFactory over the Exchange, vaults made from a Vault blueprint."""
    blueprint = admin.declare(project.Vault).contract_address
    return project.VaultFactory.deploy(blueprint, exchange, usdc, unwind_agent, sender=admin)


VAULT_DEFAULTS = {"profit_share_bps": 1_000, "min_owner_stake_bps": 500, "lockup": DAY, "drawdown_limit_bps": 2_000}


@pytest.fixture(scope="module")
def create_vault(project, factory, owner, manager):
    """create_vault(name="alpha", mgr=None, sender=None, **params) -> Vault owned by `owner`
    (or `sender`); params: profit_share_bps, min_owner_stake_bps, lockup, drawdown_limit_bps."""

    def create(name="alpha", mgr=None, sender=None, **params):
        args = [params.get(k, default) for k, default in VAULT_DEFAULTS.items()]
        receipt = factory.create_vault(name, mgr or manager, *args, sender=sender or owner)
        return project.Vault.at(receipt.events.filter(factory.VaultCreated)[0].vault)

    return create


@pytest.fixture(scope="module")
def vault(create_vault):
    return create_vault()


# ---------------------------------------------------------------- factories


@pytest.fixture(scope="module")
def fund(mint_usdc, exchange, contract_stack):
    """fund(account, amount, deposit=True): mint USDC to `account`, approve the Exchange and
    deposit it. On a stack without fund_deposits (VAULT_STACK) it is `mint_usdc`:
    fund(account, amount, spender=None) mints and approves `spender`."""
    if not contract_stack.fund_deposits:
        return mint_usdc

    def _fund(account, amount, deposit=True):
        mint_usdc(account, amount, spender=exchange)
        if deposit:
            exchange.deposit(amount, sender=account)

    return _fund


@pytest.fixture(scope="module")
def mint_usdc(usdc, admin):
    """mint_usdc(account, amount, spender=None): mint USDC to `account`, approve `spender`."""

    def mint(account, amount, spender=None):
        usdc.mint(account, amount, sender=admin)
        if spender is not None:
            usdc.approve(spender, 2**256 - 1, sender=account)

    return mint


@pytest.fixture(scope="module")
def deposit(mint_usdc):
    """deposit(vault, account, amount) -> receipt (mints and approves first)."""

    def _deposit(vault, account, amount):
        mint_usdc(account, amount, spender=vault)
        return vault.deposit(amount, sender=account)

    return _deposit


@pytest.fixture(scope="module")
def add_profit(mint_usdc, exchange, stranger):
    """add_profit(vault, amount): credit the vault's Exchange account from outside (trading profit)."""

    def _add_profit(vault, amount):
        mint_usdc(stranger, amount, spender=exchange)
        exchange.deposit_for(vault, amount, sender=stranger)

    return _add_profit


@pytest.fixture(scope="module")
def set_price(oracle, admin):
    """set_price(price, market=MARKET): set a mark in steps of at most 40% (the oracle's
    max move is 50%)."""

    def _set_price(price, market=MARKET):
        current = oracle.price_info(market)[0]
        while current and abs(price - current) * 10_000 > 4_000 * current:
            current = current * 14 // 10 if price > current else current * 6 // 10
            current -= current % TICK
            oracle.set_price(market, current, sender=admin)
        oracle.set_price(market, price, sender=admin)

    return _set_price


@pytest.fixture(scope="module")
def trade(exchange, operator, domain):
    """trade(maker, maker_signer, taker, taker_signer, maker_is_buy, size, price=PRICE,
    maker_flags=0, taker_flags=0, maker_nonce=None) -> receipt: settle one fill of MARKET,
    each order signed by its signer's key (an account, or its agent); nonces are unique
    per call unless the maker's is given (one above a vault's nonce floor)."""
    nonces = itertools.count(1)

    def _trade(maker, maker_signer, taker, taker_signer, maker_is_buy, size, price=PRICE, maker_flags=0,
               taker_flags=0, maker_nonce=None):
        nonce = next(nonces) if maker_nonce is None else maker_nonce
        m = Order(getattr(maker, "address", maker), MARKET, maker_is_buy, price, size, nonce, FAR_EXPIRY,
                  maker_flags)
        t = Order(getattr(taker, "address", taker), MARKET, not maker_is_buy, price, size, next(nonces), FAR_EXPIRY,
                  taker_flags)
        ms = sign_order(m, domain, maker_signer.private_key)
        ts = sign_order(t, domain, taker_signer.private_key)
        return exchange.settle([(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), size)], sender=operator)

    return _trade


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


# ---------------------------------------------------------------- async tests


@pytest.fixture
def anyio_backend():
    """`async def` tests marked `pytest.mark.anyio`, and their async fixtures (a started
    keeper with teardown), run on asyncio through anyio's pytest plugin; one event loop
    per test, like the asyncio.run() it replaces."""
    return "asyncio"


@pytest.fixture
async def start_keeper():
    """`keeper = await start_keeper(config, operator=..., ...)`: a started Keeper (the
    arguments are Keeper's). Every keeper it started is stopped at teardown, also when
    the test failed (async tests: `pytest.mark.anyio`)."""
    from offchain.keeper.service import Keeper  # imported here: contract tests need no keeper

    started: list[Keeper] = []

    async def start(config, **kw) -> Keeper:
        keeper = await Keeper(config, **kw).start()
        started.append(keeper)
        return keeper

    yield start
    for keeper in reversed(started):
        if not keeper.stopped.is_set():
            await keeper.stop()


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


# ---------------------------------------------------------------- test order


def pytest_collection_modifyitems(config, items):
    """MMX_TEST_ORDER=reverse (or shuffle:SEED) runs the modules, and each module's tests,
    in another order.

    pytest-xdist's worksteal hands a worker the tail of another worker's queue, so a
    module's tests can run out of file order, after a later test has changed a
    module-scoped devnet. A test must not depend on the tests before it; this option
    finds the ones that do (docs/testing.md, "Test order")."""
    import random

    order = os.environ.get("MMX_TEST_ORDER", "")
    if not order:
        return
    kind, _, seed = order.partition(":")
    if kind not in ("reverse", "shuffle"):
        raise pytest.UsageError(f"MMX_TEST_ORDER={order!r}: reverse or shuffle:SEED")
    rng = random.Random(int(seed or 0))
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups = list(modules.values())  # the modules too: session fixtures (e2e's devnet) span them
    if kind == "reverse":
        groups.reverse()
    else:
        rng.shuffle(groups)
    for group in groups:
        if kind == "reverse":
            group.reverse()
        else:
            rng.shuffle(group)
    items[:] = [item for group in groups for item in group]
