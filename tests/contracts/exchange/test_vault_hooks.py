"""Exchange hooks for vaults (#12): the trade guard (mark distance, equity floor),
forbidden counterparties (account or recovered signer) and a contract account's own
nonce floor."""

import ape
import pytest

from offchain.order import sign_order
from tests.constants import ETH, ETH_PRICE, USDC

# 1% above the mark: inside the market band (5%), outside a 50 bps guard.
OFF_MARK = ETH_PRICE * 101 // 100


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


# ---------------------------------------------------------------- trade guard


def test_set_trade_guard__sets_and_logs(exchange, maker):
    tx = exchange.set_trade_guard(50, 1_000 * USDC, sender=maker)
    assert exchange.trade_guard(maker) == (50, 1_000 * USDC)
    logs = tx.decode_logs(exchange.TradeGuardSet)
    assert [(l.account, l.max_mark_distance_bps, l.equity_floor) for l in logs] == [(maker.address, 50, 1_000 * USDC)]
    exchange.set_trade_guard(0, 0, sender=maker)
    assert exchange.trade_guard(maker) == (0, 0)


def test_set_trade_guard__distance_too_large__reverts(exchange, maker):
    with ape.reverts("exchange: bad guard"):
        exchange.set_trade_guard(2**32, 0, sender=maker)


def test_settle__maker_guard_far_from_mark__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_trade_guard(50, 0, sender=maker)
    m, t = create_order(maker, False, price=OFF_MARK), create_order(taker, True, price=OFF_MARK)
    assert_skipped(create_fill(m, t), m, t, "mark distance")


def test_settle__taker_guard_far_from_mark__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_trade_guard(50, 0, sender=taker)
    m, t = create_order(maker, False, price=OFF_MARK), create_order(taker, True, price=OFF_MARK)
    assert_skipped(create_fill(m, t), m, t, "mark distance")


def test_settle__guard_reducing_fill_far_from_mark__skipped(
    exchange, create_order, create_fill, maker, taker, settle, assert_skipped
):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))
    exchange.set_trade_guard(50, 0, sender=maker)
    # the maker closes its long 1% above the mark: reducing, still refused
    m, t = create_order(maker, False, price=OFF_MARK), create_order(taker, True, price=OFF_MARK)
    assert_skipped(create_fill(m, t), m, t, "mark distance")


def test_settle__guard_within_distance__settles(exchange, create_order, create_fill, maker, taker, settle):
    exchange.set_trade_guard(150, 0, sender=maker)
    _, settled, skipped = settle(
        create_fill(create_order(maker, False, price=OFF_MARK), create_order(taker, True, price=OFF_MARK))
    )
    assert len(settled) == 1 and skipped == []


def test_settle__opening_below_equity_floor__skipped(
    exchange, create_order, create_fill, maker, taker, funded, assert_skipped
):
    # opening 1 ETH at mark costs nothing at mark, but the taker fee takes equity below
    # a floor set at the current equity
    exchange.set_trade_guard(0, funded, sender=taker)
    m, t = create_order(maker, False), create_order(taker, True)
    assert_skipped(create_fill(m, t), m, t, "drawdown")


def test_settle__reducing_below_equity_floor__settles(
    exchange, oracle, admin, create_order, create_fill, maker, taker, funded, settle
):
    settle(create_fill(create_order(maker, False), create_order(taker, True)))
    oracle.set_price(ETH, ETH_PRICE * 98 // 100, sender=admin)  # the taker's long loses
    exchange.set_trade_guard(0, funded, sender=taker)  # floor above its equity now
    price = ETH_PRICE * 98 // 100
    _, settled, skipped = settle(
        create_fill(create_order(maker, True, price=price), create_order(taker, False, price=price))
    )
    assert len(settled) == 1 and skipped == []
    assert exchange.position(taker, ETH)[0] == 0


# ---------------------------------------------------------------- forbidden counterparties


def test_set_forbidden_counterparty__sets_and_logs(exchange, maker, manager):
    tx = exchange.set_forbidden_counterparty(manager, True, sender=maker)
    assert exchange.forbidden_counterparty(maker, manager)
    logs = tx.decode_logs(exchange.ForbiddenCounterpartySet)
    assert [(l.account, l.counterparty, l.forbidden) for l in logs] == [(maker.address, manager.address, True)]
    exchange.set_forbidden_counterparty(manager, False, sender=maker)
    assert not exchange.forbidden_counterparty(maker, manager)


def test_set_forbidden_counterparty__zero__reverts(exchange, maker):
    with ape.reverts("exchange: zero address"):
        exchange.set_forbidden_counterparty("0x" + "00" * 20, True, sender=maker)


def test_settle__forbidden_taker_account__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_forbidden_counterparty(taker, True, sender=maker)
    m, t = create_order(maker, True), create_order(taker, False)
    assert_skipped(create_fill(m, t), m, t, "counterparty")


def test_settle__forbidden_maker_account__skipped(exchange, create_order, create_fill, maker, taker, assert_skipped):
    exchange.set_forbidden_counterparty(maker, True, sender=taker)
    m, t = create_order(maker, True), create_order(taker, False)
    assert_skipped(create_fill(m, t), m, t, "counterparty")


def test_settle__forbidden_signer_of_other_side__skipped(
    exchange, create_order, create_fill, domain, maker, taker, agent, agent_key, assert_skipped
):
    # the taker's orders are signed by its agent key; the maker forbids that key
    exchange.approve_agent(agent, True, sender=taker)
    exchange.set_forbidden_counterparty(agent, True, sender=maker)
    m, t = create_order(maker, True), create_order(taker, False)
    fill = create_fill(m, t, taker_sig=sign_order(t, domain, agent_key).as_tuple())
    assert_skipped(fill, m, t, "counterparty")


def test_settle__counterparty_allowed_again__settles(exchange, create_order, create_fill, maker, taker, settle):
    exchange.set_forbidden_counterparty(taker, True, sender=maker)
    exchange.set_forbidden_counterparty(taker, False, sender=maker)
    _, settled, skipped = settle(create_fill(create_order(maker, True), create_order(taker, False)))
    assert len(settled) == 1 and skipped == []


# ---------------------------------------------------------------- nonce floor of a contract account


@pytest.fixture(scope="module")
def pool(project, usdc, exchange, admin):
    """A contract account (the liquidity pool) whose agent is `manager`."""
    pool = project.LiquidityPool.deploy(usdc, exchange, 10**12 * USDC, sender=admin)
    return pool


def test_cancel_all_below_for__agent_of_contract_account__reverts(exchange, pool, admin, manager):
    pool.set_agent(manager, True, sender=admin)
    assert exchange.is_agent(pool, manager)
    with ape.reverts("exchange: contract floor"):
        exchange.cancel_all_below_for(pool, 2**64 - 1, sender=manager)
    assert exchange.min_nonce(pool) == 0


def test_cancel_all_below_for__agent_of_eoa__raises_floor(exchange, maker, manager):
    exchange.approve_agent(manager, True, sender=maker)
    tx = exchange.cancel_all_below_for(maker, 7, sender=manager)
    assert exchange.min_nonce(maker) == 7
    assert [(l.account, l.min_nonce) for l in tx.decode_logs(exchange.MinNonceSet)] == [(maker.address, 7)]


def test_settle__contract_account_order_signed_by_agent__still_valid_after_agent_cancel_attempt(
    exchange, pool, admin, manager, create_order, hash_of
):
    pool.set_agent(manager, True, sender=admin)
    order = create_order(pool.address, True, nonce=5)
    with ape.reverts("exchange: contract floor"):
        exchange.cancel_all_below_for(pool, 6, sender=manager)
    assert exchange.min_nonce(pool) < order.nonce
    assert not exchange.cancelled(hash_of(order))
