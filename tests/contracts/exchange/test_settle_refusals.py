"""Every check of settle refuses its bad case with the FillSkipped reason and no state change."""

import ape
import pytest

from offchain.order import SECP256K1_N, Domain, sign_order
from tests.constants import ETH, ETH_PRICE, LOT, ONE, POST_ONLY, REDUCE_ONLY, TICK, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def pair(create_order, maker, taker, price=ETH_PRICE, size=ONE, maker_kw=None, taker_kw=None):
    m = create_order(maker, True, price, size, **(maker_kw or {}))
    t = create_order(taker, False, price, size, **(taker_kw or {}))
    return m, t


def test_settle__other_chain_signature__skipped(create_order, create_fill, sign, maker, taker, exchange, chain, assert_skipped):
    m, t = pair(create_order, maker, taker)
    wrong = Domain(chain_id=chain.chain_id + 1, exchange=exchange.address)
    fill = create_fill(m, t, maker_sig=sign(m, domain_=wrong))
    assert_skipped(fill, m, t, "bad signature")


def test_settle__other_contract_signature__skipped(create_order, create_fill, sign, maker, taker, usdc, chain, assert_skipped):
    m, t = pair(create_order, maker, taker)
    wrong = Domain(chain_id=chain.chain_id, exchange=usdc.address)
    fill = create_fill(m, t, taker_sig=sign(t, domain_=wrong))
    assert_skipped(fill, m, t, "bad signature")


def test_settle__foreign_signer__skipped(create_order, create_fill, sign, maker, taker, agent_key, assert_skipped):
    m, t = pair(create_order, maker, taker)
    fill = create_fill(m, t, maker_sig=sign(m, key=agent_key))
    assert_skipped(fill, m, t, "bad signature")


def test_settle__revoked_agent__skipped(create_order, create_fill, sign, maker, taker, agent, agent_key, exchange, settle, assert_skipped):
    exchange.approve_agent(agent, True, sender=maker)
    m, t = pair(create_order, maker, taker, size=2 * LOT)
    _, settled, _ = settle(create_fill(m, t, size=LOT, maker_sig=sign(m, key=agent_key)))
    assert len(settled) == 1
    exchange.approve_agent(agent, False, sender=maker)
    assert_skipped(create_fill(m, t, size=LOT, maker_sig=sign(m, key=agent_key)), m, t, "bad signature")


def test_settle__high_s_signature__skipped(create_order, create_fill, sign, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker)
    v, r, s = sign(m)
    twin = (55 - v, r, (SECP256K1_N - int.from_bytes(s, "big")).to_bytes(32, "big"))
    assert_skipped(create_fill(m, t, maker_sig=twin), m, t, "bad signature")


@pytest.mark.parametrize("v", [0, 1, 29])
def test_settle__bad_v__skipped(create_order, create_fill, sign, maker, taker, assert_skipped, v):
    m, t = pair(create_order, maker, taker)
    _, r, s = sign(t)
    assert_skipped(create_fill(m, t, taker_sig=(v, r, s)), m, t, "bad signature")


def test_settle__overfill__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, size=ONE)
    assert_skipped(create_fill(m, t, size=ONE + LOT), m, t, "overfill")


def test_settle__overfill_after_partial__skipped(create_order, create_fill, maker, taker, other, settle, assert_skipped):
    m = create_order(maker, True, size=ONE)
    t1 = create_order(other, False, size=ONE)
    _, settled, _ = settle(create_fill(m, t1, size=ONE // 2))
    assert len(settled) == 1
    t2 = create_order(taker, False, size=ONE)
    assert_skipped(create_fill(m, t2, size=ONE // 2 + LOT), m, t2, "overfill")


def test_settle__cancelled_order__skipped(create_order, create_fill, maker, taker, exchange, assert_skipped):
    m, t = pair(create_order, maker, taker)
    exchange.cancel_order(m.as_tuple(), sender=maker)
    assert_skipped(create_fill(m, t), m, t, "cancelled")


def test_settle__below_nonce_floor__skipped(create_order, create_fill, maker, taker, exchange, assert_skipped):
    m, t = pair(create_order, maker, taker, taker_kw={"nonce": 10})
    exchange.cancel_all_below(11, sender=taker)
    assert_skipped(create_fill(m, t), m, t, "nonce")


def test_settle__expired_order__skipped(create_order, create_fill, maker, taker, chain, assert_skipped):
    m, t = pair(create_order, maker, taker, maker_kw={"expiry": chain.pending_timestamp - 1})
    assert_skipped(create_fill(m, t), m, t, "expired")


def test_settle__post_only_taker__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, taker_kw={"flags": POST_ONLY})
    assert_skipped(create_fill(m, t), m, t, "post only")


def test_settle__reduce_only_that_grows__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, taker_kw={"flags": REDUCE_ONLY})
    assert_skipped(create_fill(m, t), m, t, "reduce only")


def test_settle__reduce_only_that_flips__skipped(create_order, create_fill, maker, taker, other, settle, assert_skipped):
    # taker is short 1 ETH; a reduce-only buy of 2 ETH would flip it long
    _, settled, _ = settle(create_fill(*pair(create_order, other, taker)))
    assert len(settled) == 1
    m = create_order(maker, False, size=2 * ONE)
    t = create_order(taker, True, size=2 * ONE, flags=REDUCE_ONLY)
    assert_skipped(create_fill(m, t), m, t, "reduce only")


def test_settle__unknown_flag_bits__skipped(create_order, create_fill, maker, taker, assert_skipped):
    # bits 4 (LIQUIDATION) and 8 (ONE_FILL) are known; bit 16 is not
    m, t = pair(create_order, maker, taker, maker_kw={"flags": 16})
    assert_skipped(create_fill(m, t), m, t, "flags")


def test_settle__self_trade__skipped(create_order, create_fill, maker, assert_skipped):
    m, t = pair(create_order, maker, maker)
    assert_skipped(create_fill(m, t), m, t, "self trade")


def test_settle__same_side__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m = create_order(maker, True)
    t = create_order(taker, True)
    assert_skipped(create_fill(m, t), m, t, "side")


def test_settle__market_mismatch__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, taker_kw={"market": 2})
    assert_skipped(create_fill(m, t), m, t, "market mismatch")


def test_settle__unknown_market__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, maker_kw={"market": 5}, taker_kw={"market": 5})
    assert_skipped(create_fill(m, t), m, t, "inactive")


def test_settle__inactive_market__skipped(create_order, create_fill, maker, taker, exchange, admin, assert_skipped):
    exchange.update_market(ETH, TICK, LOT, LOT, 1_000, 500, 500, False, sender=admin)
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t), m, t, "inactive")


def test_settle__prices_do_not_cross__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m = create_order(maker, True, ETH_PRICE)
    t = create_order(taker, False, ETH_PRICE + TICK)
    assert_skipped(create_fill(m, t), m, t, "no cross")


def test_settle__price_off_tick__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker, price=ETH_PRICE + 1)
    assert_skipped(create_fill(m, t), m, t, "tick")


def test_settle__size_off_lot__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t, size=LOT + 1), m, t, "lot")


def test_settle__zero_size__skipped(create_order, create_fill, maker, taker, assert_skipped):
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t, size=0), m, t, "size")


def test_settle__below_min_size__skipped(create_order, create_fill, maker, taker, exchange, admin, assert_skipped):
    exchange.update_market(ETH, TICK, LOT, 10 * LOT, 1_000, 500, 500, True, sender=admin)
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t, size=5 * LOT), m, t, "min size")


def test_settle__final_remainder_below_min_size__settles(create_order, create_fill, maker, taker, exchange, admin, settle):
    exchange.update_market(ETH, TICK, LOT, 10 * LOT, 1_000, 500, 500, True, sender=admin)
    m, t = pair(create_order, maker, taker, size=15 * LOT)
    _, settled, _ = settle(create_fill(m, t, size=10 * LOT))
    assert len(settled) == 1
    _, settled, skipped = settle(create_fill(m, t, size=5 * LOT))
    assert len(settled) == 1 and skipped == []


def test_settle__outside_band__skipped(create_order, create_fill, maker, taker, assert_skipped):
    price = ETH_PRICE * 10_501 // 10_000 // TICK * TICK
    m, t = pair(create_order, maker, taker, price=price)
    assert_skipped(create_fill(m, t), m, t, "band")


def test_settle__halted_market__skipped(create_order, create_fill, maker, taker, oracle, admin, assert_skipped):
    oracle.halt(ETH, sender=admin)
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t), m, t, "halted")


def test_settle__stale_price__skipped(create_order, create_fill, maker, taker, oracle, chain, assert_skipped):
    chain.pending_timestamp += oracle.max_age() + 10
    m, t = pair(create_order, maker, taker)
    assert_skipped(create_fill(m, t), m, t, "stale")


def test_settle__margin_breach__skipped(create_order, create_fill, maker, lp, fund, assert_skipped):
    fund(lp, 150 * USDC)  # 1 ETH at 2,000 needs 200 USDC initial margin
    m, t = pair(create_order, maker, lp)
    assert_skipped(create_fill(m, t), m, t, "margin")


def test_settle__margin_does_not_cover_taker_fee__skipped(create_order, create_fill, maker, lp, fund, assert_skipped):
    fund(lp, 200 * USDC)  # exactly the initial margin; the 1 USDC taker fee breaches it
    m, t = pair(create_order, maker, lp)
    assert_skipped(create_fill(m, t), m, t, "margin")


def test_settle__reducing_fill_below_margin__settles(create_order, create_fill, maker, taker, lp, fund, settle, oracle, admin, exchange):
    fund(lp, 300 * USDC)
    m = create_order(maker, False)
    t = create_order(lp, True)
    _, settled, _ = settle(create_fill(m, t))  # lp long 1 ETH at 2,000
    assert len(settled) == 1
    oracle.set_price(ETH, 1_850 * USDC, sender=admin)  # equity 150 - fee < 185 initial
    assert exchange.free_collateral(lp) < 0
    m = create_order(taker, True, 1_850 * USDC, ONE // 2)
    t = create_order(lp, False, 1_850 * USDC, ONE // 2)
    _, settled, skipped = settle(create_fill(m, t))
    assert len(settled) == 1 and skipped == []
    assert exchange.position(lp, ETH)[0] == ONE // 2


def test_settle__caller_without_operator_role__reverts(create_order, create_fill, maker, taker, exchange, stranger):
    m, t = pair(create_order, maker, taker)
    with ape.reverts("exchange: not operator"):
        exchange.settle([create_fill(m, t)], sender=stranger)


def test_settle__one_bad_fill__rest_of_batch_settles(create_order, create_fill, maker, taker, other, settle, exchange, hash_of):
    good1 = pair(create_order, maker, taker, size=LOT)
    bad = pair(create_order, maker, maker, size=LOT)
    good2 = pair(create_order, other, taker, size=LOT)
    tx, settled, skipped = settle(create_fill(*good1), create_fill(*bad), create_fill(*good2))
    assert [s.maker_hash for s in settled] == [hash_of(good1[0]), hash_of(good2[0])]
    assert [(s.maker_hash, s.reason) for s in skipped] == [(hash_of(bad[0]), "self trade")]
    assert exchange.position(taker, ETH)[0] == -2 * LOT
