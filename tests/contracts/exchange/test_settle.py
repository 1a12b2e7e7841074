"""settle happy paths: positions, cost basis, realised PnL, fees, events, partial fills."""

import pytest

from tests.constants import ETH, ETH_PRICE, LOT, MAKER_REBATE_BPS, ONE, POST_ONLY, REDUCE_ONLY, TAKER_FEE_BPS, TICK, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def fee_of(notional):
    return -(-notional * TAKER_FEE_BPS // 10_000)


def rebate_of(notional):
    return notional * MAKER_REBATE_BPS // 10_000


def test_settle__one_fill__opens_positions_and_charges_fees(exchange, create_order, create_fill, maker, taker, settle, hash_of, funded):
    m = create_order(maker, True, flags=POST_ONLY)
    t = create_order(taker, False, ETH_PRICE - 50 * TICK)  # taker limit below: fills at the maker's price
    tx, settled, skipped = settle(create_fill(m, t))
    notional = ETH_PRICE
    assert skipped == []
    assert len(settled) == 1
    log = settled[0]
    assert (log.maker_hash, log.taker_hash, log.market) == (hash_of(m), hash_of(t), ETH)
    assert (log.maker, log.taker, log.taker_is_buy) == (maker.address, taker.address, False)
    assert (log.price, log.size) == (ETH_PRICE, ONE)
    assert (log.taker_fee, log.maker_rebate) == (fee_of(notional), rebate_of(notional))
    assert exchange.position(maker, ETH) == (ONE, notional)
    assert exchange.position(taker, ETH) == (-ONE, -notional)
    assert exchange.collateral(maker) == funded + rebate_of(notional)
    assert exchange.collateral(taker) == funded - fee_of(notional)
    assert exchange.fees_accrued() == fee_of(notional) - rebate_of(notional)
    assert exchange.filled(hash_of(m)) == ONE
    assert exchange.filled(hash_of(t)) == ONE


def test_settle__returns_number_settled(exchange, create_order, create_fill, maker, taker, operator):
    fills = [create_fill(create_order(maker, True, size=LOT), create_order(taker, False, size=LOT)) for _ in range(3)]
    fills.append(create_fill(create_order(maker, True), create_order(maker, False)))
    assert exchange.settle.call(fills, sender=operator) == 3


def test_settle__partial_fills__track_filled_by_hash(exchange, create_order, create_fill, maker, taker, other, settle, hash_of):
    m = create_order(maker, False, size=ONE)
    t1 = create_order(taker, True, size=ONE // 4)
    t2 = create_order(other, True, size=ONE)
    _, settled, _ = settle(create_fill(m, t1), create_fill(m, t2, size=ONE // 2))
    assert len(settled) == 2
    assert exchange.filled(hash_of(m)) == 3 * ONE // 4
    assert exchange.filled(hash_of(t2)) == ONE // 2
    assert exchange.position(maker, ETH) == (-3 * ONE // 4, -3 * ETH_PRICE // 4)


def test_settle__close_at_profit__realises_pnl(exchange, create_order, create_fill, maker, taker, other, settle, oracle, admin, funded):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))  # maker long 1 @ 2,000
    new_price = 2_050 * USDC
    oracle.set_price(ETH, new_price, sender=admin)
    before = exchange.collateral(maker)
    m = create_order(other, True, new_price)
    t = create_order(maker, False, new_price)  # maker closes as taker
    _, settled, _ = settle(create_fill(m, t))
    assert len(settled) == 1
    assert exchange.position(maker, ETH) == (0, 0)
    assert exchange.collateral(maker) == before + 50 * USDC - fee_of(new_price)


def test_settle__partial_close__keeps_average_entry(exchange, create_order, create_fill, maker, taker, other, settle, oracle, admin):
    settle(create_fill(create_order(maker, False), create_order(taker, True)))  # taker long 1 @ 2,000
    settle(create_fill(create_order(maker, False, 2_010 * USDC), create_order(taker, True, 2_010 * USDC)))
    assert exchange.position(taker, ETH) == (2 * ONE, 4_010 * USDC)  # average 2,005
    before = exchange.collateral(taker)
    m = create_order(other, True, 2_020 * USDC, ONE // 2)
    t = create_order(taker, False, 2_020 * USDC, ONE // 2)
    settle(create_fill(m, t))
    # closes 0.5 of 2: cost removed 4,010 / 4 = 1,002.5; proceeds 1,010 -> +7.5 USDC
    assert exchange.position(taker, ETH) == (3 * ONE // 2, 4_010 * USDC - 4_010 * USDC // 4)
    assert exchange.collateral(taker) == before + 1_010 * USDC - 4_010 * USDC // 4 - fee_of(1_010 * USDC)


def test_settle__flip__realises_and_reopens_at_fill_price(exchange, create_order, create_fill, maker, taker, other, settle, oracle, admin):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))  # taker short 1 @ 2,000
    price = 1_990 * USDC
    before = exchange.collateral(taker)
    m = create_order(other, False, price, 3 * ONE)
    t = create_order(taker, True, price, 3 * ONE)
    settle(create_fill(m, t))
    assert exchange.position(taker, ETH) == (2 * ONE, 2 * price)
    assert exchange.collateral(taker) == before + 10 * USDC - fee_of(3 * price)


def test_settle__reduce_only_that_reduces__settles(exchange, create_order, create_fill, maker, taker, other, settle):
    settle(create_fill(create_order(maker, True), create_order(taker, False)))  # taker short 1
    m = create_order(other, False, size=ONE // 2)
    t = create_order(taker, True, size=ONE, flags=REDUCE_ONLY)
    _, settled, skipped = settle(create_fill(m, t))
    assert len(settled) == 1 and skipped == []
    assert exchange.position(taker, ETH)[0] == -ONE // 2


def test_settle__agent_signature__settles(exchange, create_order, create_fill, sign, maker, taker, agent, agent_key, settle):
    exchange.approve_agent(agent, True, sender=taker)
    m = create_order(maker, True)
    t = create_order(taker, False)
    _, settled, skipped = settle(create_fill(m, t, taker_sig=sign(t, key=agent_key)))
    assert len(settled) == 1 and skipped == []


def test_settle__maker_price_inside_band__settles(exchange, create_order, create_fill, maker, taker, settle):
    price = ETH_PRICE * 10_500 // 10_000
    _, settled, skipped = settle(create_fill(create_order(maker, False, price), create_order(taker, True, price)))
    assert len(settled) == 1 and skipped == []


def test_settle__positions_sum_to_zero(exchange, create_order, create_fill, maker, taker, other, settle):
    settle(
        create_fill(create_order(maker, True, size=3 * LOT), create_order(taker, False, size=3 * LOT)),
        create_fill(create_order(other, True, size=5 * LOT), create_order(maker, False, size=5 * LOT)),
    )
    assert sum(exchange.position(a, ETH)[0] for a in (maker, taker, other)) == 0


def test_settle__empty_batch__returns_zero(exchange, operator):
    assert exchange.settle.call([], sender=operator) == 0
