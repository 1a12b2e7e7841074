"""Single-fill (ONE_FILL) orders: settled only by one fill of their whole size, consumed by
one bit of the account's nonce bitmap instead of a filled[hash] slot (docs/exchange.md,
"Single-fill orders"). Invariant kept: an order settles at most its signed size, and a
consumed nonce (filled or cancelled) never settles again, whichever order carries it."""

import ape
import pytest

from tests.constants import ETH_PRICE, ONE, ONE_FILL, USDC


@pytest.fixture(scope="module", autouse=True)
def _funded(funded):
    return funded


def one_fill_pair(create_order, maker, taker, size=ONE, maker_flags=ONE_FILL, taker_flags=ONE_FILL, **kw):
    m = create_order(maker, True, ETH_PRICE, size, flags=maker_flags, **kw)
    t = create_order(taker, False, ETH_PRICE, size, flags=taker_flags)
    return m, t


def test_settle__one_fill_orders__settle_and_consume_nonce_bits(exchange, create_order, create_fill, settle, maker, taker, hash_of):
    m, t = one_fill_pair(create_order, maker, taker)
    assert not exchange.nonce_used(maker, m.nonce)
    tx, settled, skipped = settle(create_fill(m, t))
    assert skipped == []
    assert [(e.maker_hash, e.taker_hash, e.size) for e in settled] == [(hash_of(m), hash_of(t), ONE)]
    assert exchange.nonce_used(maker, m.nonce) and exchange.nonce_used(taker, t.nonce)
    # no filled[hash] slot: the views keyed by hash stay at their zero values
    assert exchange.filled(hash_of(m)) == 0 and not exchange.cancelled(hash_of(m))
    assert exchange.position(maker, m.market)[0] == ONE


def test_settle__one_fill_replayed__skipped_nonce_used(exchange, create_order, create_fill, settle, maker, taker, other, assert_skipped):
    m, t = one_fill_pair(create_order, maker, taker)
    settle(create_fill(m, t))
    t2 = create_order(other, False, ETH_PRICE, ONE)
    assert_skipped(create_fill(m, t2), m, t2, "nonce used")


def test_settle__one_fill_twice_in_one_batch__second_skipped(exchange, create_order, create_fill, settle, maker, taker, other, hash_of):
    m, t = one_fill_pair(create_order, maker, taker)
    t2 = create_order(other, False, ETH_PRICE, ONE)
    _, settled, skipped = settle(create_fill(m, t), create_fill(m, t2))
    assert [e.taker_hash for e in settled] == [hash_of(t)]
    assert [(s.taker_hash, s.reason) for s in skipped] == [(hash_of(t2), "nonce used")]
    assert exchange.position(other, m.market)[0] == 0


def test_settle__one_fill_partial__skipped_one_fill(create_order, create_fill, maker, taker, assert_skipped):
    # the maker's single-fill order is larger than the fill: a partial fill is refused
    m, t = one_fill_pair(create_order, maker, taker, size=2 * ONE, taker_flags=0)
    assert_skipped(create_fill(m, t, size=ONE), m, t, "one fill")
    m, t = one_fill_pair(create_order, maker, taker, size=2 * ONE, maker_flags=0)
    assert_skipped(create_fill(m, t, size=ONE), m, t, "one fill")


def test_settle__one_fill_taker_against_partially_filled_maker__both_paths(
    exchange, create_order, create_fill, settle, maker, taker, other, hash_of
):
    # a resting order filled in parts keeps filled[hash]; each single-fill taker its bit
    m = create_order(maker, True, ETH_PRICE, 2 * ONE)
    t1 = create_order(taker, False, ETH_PRICE, ONE, flags=ONE_FILL)
    t2 = create_order(other, False, ETH_PRICE, ONE, flags=ONE_FILL)
    _, settled, skipped = settle(create_fill(m, t1), create_fill(m, t2))
    assert skipped == [] and len(settled) == 2
    assert exchange.filled(hash_of(m)) == 2 * ONE
    assert exchange.nonce_used(taker, t1.nonce) and exchange.nonce_used(other, t2.nonce)


def test_cancel_order__one_fill__sets_nonce_bit_and_voids_the_nonce(
    exchange, create_order, create_fill, maker, taker, hash_of, assert_skipped
):
    m, t = one_fill_pair(create_order, maker, taker)
    tx = exchange.cancel_order(m.as_tuple(), sender=maker)
    assert [(e.account, e.order_hash) for e in tx.decode_logs(exchange.OrderCancelled)] == [(maker.address, hash_of(m))]
    assert exchange.nonce_used(maker, m.nonce)
    assert exchange.filled(hash_of(m)) == 0  # no filled[hash] slot for a single-fill order
    assert_skipped(create_fill(m, t), m, t, "nonce used")
    # another single-fill order of the same account and nonce is void too (the nonce terms)
    m2 = create_order(maker, True, ETH_PRICE + 10**4, ONE, nonce=m.nonce, flags=ONE_FILL)
    t2 = create_order(taker, False, ETH_PRICE, ONE, flags=ONE_FILL)
    assert_skipped(create_fill(m2, t2), m2, t2, "nonce used")


def test_settle__same_nonce_without_flag__unaffected_by_the_bit(exchange, create_order, create_fill, settle, maker, taker):
    # the bitmap is only for ONE_FILL orders: an ordinary order with the same nonce settles
    m, t = one_fill_pair(create_order, maker, taker)
    exchange.cancel_order(m.as_tuple(), sender=maker)
    m2 = create_order(maker, True, ETH_PRICE, ONE, nonce=m.nonce)
    _, settled, skipped = settle(create_fill(m2, t))
    assert skipped == [] and len(settled) == 1


def test_cancel_order__one_fill_by_stranger__reverts(exchange, create_order, maker, stranger):
    order = create_order(maker, True, flags=ONE_FILL)
    with ape.reverts("exchange: not authorised"):
        exchange.cancel_order(order.as_tuple(), sender=stranger)
    assert not exchange.nonce_used(maker, order.nonce)


def test_settle__nonce_bits__one_word_per_256_nonces(exchange, create_order, create_fill, settle, maker, taker):
    # bits of neighbouring nonces are independent; nonce 256 starts the next word
    fills = []
    for nonce in (255, 256, 2**200 + 7):
        m = create_order(maker, True, ETH_PRICE, ONE, nonce=nonce, flags=ONE_FILL)
        fills.append(create_fill(m, create_order(taker, False, ETH_PRICE, ONE, flags=ONE_FILL)))
    _, settled, skipped = settle(*fills)
    assert skipped == [] and len(settled) == 3
    assert [exchange.nonce_used(maker, n) for n in (254, 255, 256, 257, 2**200 + 6, 2**200 + 7)] == [
        False, True, True, False, False, True
    ]


def test_settle__one_fill_below_nonce_floor__skipped_nonce(exchange, create_order, create_fill, maker, taker, assert_skipped):
    m, t = one_fill_pair(create_order, maker, taker)
    exchange.cancel_all_below(m.nonce + 1, sender=maker)
    assert_skipped(create_fill(m, t), m, t, "nonce")
    assert not exchange.nonce_used(maker, m.nonce)


def test_settle__liquidation_order_with_one_fill__skipped_flags(create_order, create_fill, maker, taker, assert_skipped):
    m = create_order(maker, True, ETH_PRICE, ONE)
    t = create_order(taker, False, ETH_PRICE, ONE, flags=4 | ONE_FILL)
    no_sig = (0, b"\x00" * 32, b"\x00" * 32)
    assert_skipped(create_fill(m, t, taker_sig=no_sig), m, t, "flags")


def test_settle__one_fill_margin_refusal__nonce_not_consumed(exchange, create_order, create_fill, fund, accounts, maker, assert_skipped, settle):
    # a skipped fill consumes nothing: the same order settles once the account can pay
    poor = accounts[7]
    fund(poor, 10 * USDC)
    m = create_order(maker, True, ETH_PRICE, ONE, flags=ONE_FILL)
    t = create_order(poor, False, ETH_PRICE, ONE, flags=ONE_FILL)
    assert_skipped(create_fill(m, t), m, t, "margin")
    assert not exchange.nonce_used(poor, t.nonce) and not exchange.nonce_used(maker, m.nonce)
    fund(poor, 10_000 * USDC)
    _, settled, skipped = settle(create_fill(m, t))
    assert skipped == [] and len(settled) == 1
