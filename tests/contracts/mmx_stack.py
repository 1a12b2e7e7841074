"""Deployment stack and helpers shared by the vault, factory and pool tests.

Imported by tests/contracts/{vault,factory,pool}/conftest.py (`from mmx_stack import *`).
Everything is module-scoped; Ape's pytest plugin isolates each test with a snapshot.
The role fixtures here shadow any root fixtures of the same name inside those folders.
"""
import itertools

import pytest

from offchain.order import Domain, Order, sign_order

USDC = 10**6
ONE = 10**18
BPS = 10_000
DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"

MARKET = 1
PRICE = 2_000 * USDC  # USDC units per whole base unit
TICK = 10**4  # 0.01 USDC
LOT = 10**15  # 0.001 base
IM_BPS = 1_000  # 10% initial margin
MM_BPS = 500  # 5% maintenance margin
BAND_BPS = 1_000  # fills within 10% of mark
TAKER_FEE_BPS = 5
MAKER_REBATE_BPS = 1
FAR = 2**40  # order expiry
REDUCE_ONLY = 2


# ---------------------------------------------------------------- roles

@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def owner(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def manager(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def follower(accounts):
    return accounts[4]


@pytest.fixture(scope="module")
def follower2(accounts):
    return accounts[5]


@pytest.fixture(scope="module")
def lp(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def taker(accounts):
    """Counterparty of the vault's and pool's trades."""
    return accounts[7]


@pytest.fixture(scope="module")
def treasury(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def stranger(accounts):
    return accounts[9]


# ---------------------------------------------------------------- stack

@pytest.fixture(scope="module")
def usdc(project, admin):
    return project.TestUSDC.deploy(sender=admin)


@pytest.fixture(scope="module")
def oracle(project, admin):
    oracle = project.Oracle.deploy(5_000, 86_400, 5_000, 1, sender=admin)
    oracle.grantRole(oracle.REPORTER_ROLE(), admin, sender=admin)
    oracle.grantRole(oracle.GUARDIAN_ROLE(), admin, sender=admin)
    oracle.set_price(MARKET, PRICE, sender=admin)
    return oracle


@pytest.fixture(scope="module")
def rebate(project, admin):
    return project.RebateEngine.deploy([(0, TAKER_FEE_BPS, MAKER_REBATE_BPS)], sender=admin)


@pytest.fixture(scope="module")
def exchange(project, admin, operator, usdc, oracle, rebate, treasury):
    risk = project.ExchangeRisk.deploy(usdc, oracle, sender=admin)
    ex = project.Exchange.deploy(usdc, oracle, rebate, treasury, risk, sender=admin)
    ex.grantRole(ex.OPERATOR_ROLE(), operator, sender=admin)
    rebate.grantRole(rebate.EXCHANGE_ROLE(), ex, sender=admin)
    ex.add_market(TICK, LOT, LOT, IM_BPS, MM_BPS, BAND_BPS, sender=admin)
    return ex


@pytest.fixture(scope="module")
def fund(usdc, admin):
    """Mint USDC to an account and approve a spender."""

    def fund(account, amount, spender=None):
        usdc.mint(account, amount, sender=admin)
        if spender is not None:
            usdc.approve(spender, 2**256 - 1, sender=account)

    return fund


@pytest.fixture(scope="module")
def set_price(oracle, admin):
    """Set the mark of MARKET, in steps of at most 40% (the oracle's max move is 50%)."""

    def set_price(price, market=MARKET):
        current = oracle.price_info(market)[0]
        while current and abs(price - current) * BPS > 4_000 * current:
            current = current * 14 // 10 if price > current else current * 6 // 10
            current -= current % TICK
            oracle.set_price(market, current, sender=admin)
        oracle.set_price(market, price, sender=admin)

    return set_price


@pytest.fixture(scope="module")
def trade(exchange, operator, chain):
    """Settle one fill: `maker` (an account, signed by `maker_key`'s key) against `taker`.

    maker_is_buy: side of the maker. Returns the receipt.
    """
    nonces = itertools.count(1)
    domain = Domain(chain_id=chain.chain_id, exchange=exchange.address)

    def trade(maker, maker_signer, taker, taker_signer, maker_is_buy, size, price=PRICE, maker_flags=0, taker_flags=0):
        maker_addr = getattr(maker, "address", maker)
        taker_addr = getattr(taker, "address", taker)
        m = Order(maker_addr, MARKET, maker_is_buy, price, size, next(nonces), FAR, maker_flags)
        t = Order(taker_addr, MARKET, not maker_is_buy, price, size, next(nonces), FAR, taker_flags)
        ms = sign_order(m, domain, maker_signer.private_key)
        ts = sign_order(t, domain, taker_signer.private_key)
        return exchange.settle([(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), size)], sender=operator)

    return trade


# ---------------------------------------------------------------- vaults

@pytest.fixture(scope="module")
def unwind_agent(accounts):
    return accounts.generate_test_account()


@pytest.fixture(scope="module")
def factory(project, admin, exchange, usdc, unwind_agent):
    blueprint = admin.declare(project.Vault).contract_address
    return project.VaultFactory.deploy(blueprint, exchange, usdc, unwind_agent, sender=admin)


@pytest.fixture(scope="module")
def create_vault(project, factory, owner, manager):
    """create_vault(**params) -> Vault owned by `owner` (or sender=...)."""

    def create(name="alpha", mgr=None, sender=None, **params):
        receipt = factory.create_vault(name, mgr or manager, *_params(params), sender=sender or owner)
        return project.Vault.at(receipt.events.filter(factory.VaultCreated)[0].vault)

    return create


def _params(params):
    keys = ["profit_share_bps", "min_owner_stake_bps", "lockup", "drawdown_limit_bps"]
    defaults = [1_000, 500, 86_400, 2_000]
    return [params.get(k, d) for k, d in zip(keys, defaults)]


@pytest.fixture(scope="module")
def vault(create_vault):
    return create_vault()


@pytest.fixture(scope="module")
def deposit(fund):
    """deposit(vault, account, amount) -> receipt (funds and approves first)."""

    def deposit(vault, account, amount):
        fund(account, amount, spender=vault)
        return vault.deposit(amount, sender=account)

    return deposit


@pytest.fixture(scope="module")
def add_profit(fund, exchange, accounts):
    """Credit the vault's Exchange account with USDC from outside (trading profit)."""
    benefactor = accounts[9]

    def add_profit(vault, amount):
        fund(benefactor, amount, spender=exchange)
        exchange.deposit_for(vault, amount, sender=benefactor)

    return add_profit



def settled(receipt, exchange):
    """(settled fills, skip reasons) of a settle receipt."""
    ok = list(receipt.events.filter(exchange.FillSettled))
    skipped = [e.reason for e in receipt.events.filter(exchange.FillSkipped)]
    return ok, skipped
