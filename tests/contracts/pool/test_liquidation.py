"""Exchange.liquidate with the pool as backstop: conservation, penalty, clean failures."""
import ape
import pytest

from tests.constants import MARKET, ONE, PRICE, USDC

SIZE = 45 * ONE // 10  # 4.5 at 2000 = 9k notional, 900 initial margin
LOW = 1_850 * USDC  # -675 on 1k collateral: equity ~325 < 416 maintenance


@pytest.fixture
def underwater_follower(pool, lp, follower, taker, trade, fund, exchange, pool_deposit, set_price):
    """Pool holds 10k; `follower` is long 4.5 with 1k collateral and the mark drops to 1850."""
    pool_deposit(pool, lp, 10_000 * USDC)
    fund(follower, 1_000 * USDC, spender=exchange)
    exchange.deposit(1_000 * USDC, sender=follower)
    fund(taker, 100_000 * USDC, spender=exchange)
    exchange.deposit(100_000 * USDC, sender=taker)
    trade(taker, taker, follower, follower, False, SIZE)  # follower buys as taker
    set_price(LOW)
    assert exchange.equity(follower) < exchange.margin_requirement(follower, False)
    return follower


def _snapshot(exchange, usdc, accounts):
    return {
        "size": sum(exchange.position(a, MARKET)[0] for a in accounts),
        "equity": sum(exchange.equity(a) for a in accounts),
        "collateral": sum(exchange.collateral(a) for a in accounts),
        "usdc": usdc.balanceOf(exchange),
    }


def test_liquidate__underwater__position_moves_to_pool_with_penalty(underwater_follower, pool, stranger, exchange, usdc):
    trader = underwater_follower
    before = _snapshot(exchange, usdc, [trader, pool])
    trader_equity = exchange.equity(trader)
    trader_upnl = trader_equity - exchange.collateral(trader)
    pool_assets = pool.totalAssets()
    receipt = exchange.liquidate(trader, MARKET, sender=stranger)
    notional = SIZE * LOW // ONE
    penalty = min(notional * exchange.liquidation_penalty_bps() // 10_000, trader_equity)
    assert receipt.events.filter(exchange.Liquidation) == [
        exchange.Liquidation(
            account=trader.address, market=MARKET, backstop=pool.address, size=SIZE, price=LOW,
            penalty=penalty, caller=stranger.address,
        )
    ]
    assert exchange.position(trader, MARKET)[0] == 0
    assert exchange.position(pool, MARKET)[0] == SIZE
    after = _snapshot(exchange, usdc, [trader, pool])
    # positions and USDC are conserved; the penalty moves from the trader to the
    # Exchange's insurance fund (docs/exchange.md, Liquidation), not to the pool
    assert after["size"] == before["size"]
    assert after["usdc"] == before["usdc"]
    assert abs(after["equity"] - (before["equity"] - penalty)) <= 1
    assert exchange.equity(trader) == trader_equity - penalty
    assert exchange.insurance_fund() == penalty
    assert abs(pool.totalAssets() - pool_assets) <= 1
    # collateral: the trader's unrealised loss is realised, the penalty leaves it
    assert abs(after["collateral"] - before["collateral"] - trader_upnl + penalty) <= 1


def test_liquidate__healthy__reverts(underwater_follower, pool, stranger, exchange, set_price):
    set_price(PRICE)
    with ape.reverts("exchange: not liquidatable"):
        exchange.liquidate(underwater_follower, MARKET, sender=stranger)


def test_liquidate__no_position__reverts(underwater_follower, lp, stranger, exchange):
    with ape.reverts("exchange: no position"):
        exchange.liquidate(lp, MARKET, sender=stranger)


def test_liquidate__pool_would_breach_margin__reverts_and_nothing_moves(
    create_pool, lp, follower, taker, trade, fund, exchange, pool_deposit, set_price, stranger, usdc
):
    pool = create_pool()  # the new backstop, with too little capital for 8.3k notional
    pool_deposit(pool, lp, 100 * USDC)
    fund(follower, 1_000 * USDC, spender=exchange)
    exchange.deposit(1_000 * USDC, sender=follower)
    fund(taker, 100_000 * USDC, spender=exchange)
    exchange.deposit(100_000 * USDC, sender=taker)
    trade(taker, taker, follower, follower, False, SIZE)
    set_price(LOW)
    before = _snapshot(exchange, usdc, [follower, pool])
    with ape.reverts("exchange: backstop margin"):
        exchange.liquidate(follower, MARKET, sender=stranger)
    assert _snapshot(exchange, usdc, [follower, pool]) == before


def test_liquidate__backstop_itself__reverts(underwater_follower, pool, lp, admin, keeper_agent, taker, trade, exchange, stranger):
    pool.set_agent(keeper_agent, True, sender=admin)
    trade(pool, keeper_agent, taker, taker, True, ONE, price=LOW)
    with ape.reverts("exchange: backstop"):
        exchange.liquidate(pool, MARKET, sender=stranger)


def test_liquidate__pool_lp_can_exit_after_backstop_closes(
    underwater_follower, pool, lp, admin, keeper_agent, taker, trade, stranger, exchange, after_lockup, set_price, usdc
):
    exchange.liquidate(underwater_follower, MARKET, sender=stranger)
    pool.set_agent(keeper_agent, True, sender=admin)
    trade(pool, keeper_agent, taker, taker, False, SIZE, price=LOW, maker_flags=2)
    assert exchange.position(pool, MARKET)[0] == 0
    pool.distribute_fees(sender=stranger)  # the keeper's scheduled sync books the gains
    after_lockup()
    set_price(LOW)
    pool.set_daily_withdraw_limit(10_000, sender=admin)
    pool.redeem(pool.balanceOf(lp), sender=lp)
    assert usdc.balanceOf(lp) > 10_000 * USDC  # penalty + maker rebate, minus rounding
