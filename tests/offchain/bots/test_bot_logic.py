"""The bot's pure decisions: order tracking in any arrival order, the book top without our
orders, our side of a fill, back-off (the decision itself: tests/offchain/strategies/test_step_decide.py)."""

from __future__ import annotations

import itertools

import pytest

from offchain.bots import Backoff, MarketInfo, OrderTracker, book_top_excluding, our_fill
from offchain.bots.config import BotConfig
from offchain.bots.logic import account_numbers, check_sizes, market_state
from offchain.order import Order, encode_flags
from offchain.strategies import LiveOrder, QuoteConfig

ME = "0x00000000000000000000000000000000000000aa"
OTHER = "0x00000000000000000000000000000000000000bb"
INFO = MarketInfo(1, tick=10_000, lot=10**15, min_size=10**15, mark=2_000_000_000)
SIZE = 5 * 10**16


def view(h, *, is_buy=True, price=1_998_000_000, open_=SIZE, status="open", market=1, flags=1):
    return {"hash": h, "market": str(market), "is_buy": is_buy, "price": str(price), "size": str(SIZE),
            "open": str(open_), "status": status, "flags": str(flags)}


def order(is_buy=True, price=1_998_000_000, size=SIZE, flags=1):
    return Order(ME, 1, is_buy, price, size, 1, 2**40, flags)


# -- MarketInfo ---------------------------------------------------------------------------------
def test_market_info__from_info__and_unknown_market():
    info = {"markets": {"1": {"tick": "10000", "lot": "1000", "min_size": "2000", "mark": "2000000000"}}}
    assert MarketInfo.from_info(info, 1) == MarketInfo(1, 10_000, 1_000, 2_000, 2_000_000_000)
    with pytest.raises(ValueError, match="market 2"):
        MarketInfo.from_info(info, 2)


def test_check_sizes__below_min_or_off_lot__refused():
    ok = BotConfig("http://k", "env:K", 1, quote=QuoteConfig(1, 20, SIZE))
    check_sizes(ok, INFO)
    with pytest.raises(ValueError, match="min size"):
        check_sizes(BotConfig("http://k", "env:K", 1, quote=QuoteConfig(1, 20, 10**14)), INFO)
    with pytest.raises(ValueError, match="lot"):
        check_sizes(BotConfig("http://k", "env:K", 1, quote=QuoteConfig(1, 20, SIZE + 1)), INFO)


# -- OrderTracker -------------------------------------------------------------------------------
@pytest.mark.parametrize("perm", list(itertools.permutations(range(4))))
def test_tracker__any_arrival_order__same_result(perm):
    """ack (open 0.05), order event open, partial fill event (0.03), then a filled event:
    whatever order they arrive in, the order ends gone and never comes back."""
    steps = [
        lambda t: t.on_ack("0xA", order(), {"status": "accepted", "open": str(SIZE), "order_status": "open"}),
        lambda t: t.on_order(view("0xA")),
        lambda t: t.on_order(view("0xA", open_=3 * 10**16)),
        lambda t: t.on_order(view("0xA", open_=0, status="filled")),
    ]
    t = OrderTracker(1)
    for i in perm:
        steps[i](t)
    assert t.live() == ()


@pytest.mark.parametrize("first_partial", [True, False])
def test_tracker__open_size_only_goes_down(first_partial):
    t = OrderTracker(1)
    updates = [view("0xA", open_=3 * 10**16), view("0xA")]
    for v in updates if first_partial else updates[::-1]:
        t.on_order(v)
    assert t.live() == (LiveOrder("0xa", 1, True, 1_998_000_000, 3 * 10**16, False),)


def test_tracker__other_market_ignored__reduce_only_flag__oldest_first():
    t = OrderTracker(1)
    t.on_order(view("0xB", market=2))
    t.on_order(view("0xA", flags=3))
    t.on_ack("0xC", order(False, 2_002_000_000), {"status": "accepted", "open": str(SIZE), "order_status": "open"})
    t.on_ack("0xD", order(), {"status": "rejected", "reason": "post only"})
    assert [o.order_id for o in t.live()] == ["0xa", "0xc"]
    assert t.live()[0].reduce_only and not t.live()[1].reduce_only
    assert "0xA" in t and "0xB" not in t


def test_tracker__gone_then_replace_resets():
    t = OrderTracker(1)
    t.on_order(view("0xA"))
    t.gone(["0xA"])
    t.on_order(view("0xA"))  # a late "open" event for a cancelled order
    assert len(t) == 0
    t.replace([view("0xA"), view("0xE", is_buy=False, price=2_002_000_000)])
    assert len(t) == 2


# -- book and fills -----------------------------------------------------------------------------
def test_book_top_excluding__our_size_taken_out():
    own = [LiveOrder("a", 1, True, 100, 5), LiveOrder("b", 1, False, 110, 5)]
    assert book_top_excluding([(100, 5), (99, 1)], [(110, 7)], own) == (99, 110)
    assert book_top_excluding([(100, 5)], [(110, 5)], own) == (None, None)
    state = market_state(INFO, [(100, 5), (99, 1)], [], own, 2_000_000_000, 5)
    assert (state.best_bid, state.best_ask, state.reference_price) == (99, None, 2_000_000_000)


def fill_view(maker=ME, taker=OTHER, taker_is_buy=True, market=1):
    return {"id": 7, "market": str(market), "price": "2002000000", "size": "20000000000000000",
            "maker_hash": "0xAA", "taker_hash": "0xBB", "maker": maker, "taker": taker,
            "taker_is_buy": taker_is_buy, "state": "matched", "ts": 123}


def test_our_fill__maker_taker_and_not_ours():
    mine = our_fill(fill_view(), ME.upper().replace("0X", "0x"), 1)
    assert mine.maker and mine.order_hash == "0xaa" and mine.fill_id == 7
    assert (mine.fill.is_buy, mine.fill.price, mine.fill.size, mine.fill.ts) == (False, 2_002_000_000, 2 * 10**16, 123)
    taken = our_fill(fill_view(maker=OTHER, taker=ME), ME, 1)
    assert not taken.maker and taken.fill.is_buy and taken.order_hash == "0xbb"
    assert our_fill(fill_view(maker=OTHER, taker=OTHER), ME, 1) is None
    assert our_fill(fill_view(market=2), ME, 1) is None


def test_account_numbers():
    v = {"positions": {"1": {"size": "-20000000000000000"}}, "equity_estimate": "9999000000"}
    assert account_numbers(v, 1) == (-2 * 10**16, 9_999_000_000)
    assert account_numbers({"known": False}, 1) == (0, 0)


def test_order_flags():
    assert encode_flags(post_only=True) == 1
    assert encode_flags(post_only=False, reduce_only=True) == 2


# -- back-off -----------------------------------------------------------------------------------
def test_backoff__doubles_to_cap_and_resets():
    b = Backoff(500, 3_000)
    assert [b.fail(0) for _ in range(5)] == [500, 1_000, 2_000, 3_000, 3_000]
    assert b.wait_ms(1_000) == 2_000 and b.wait_ms(5_000) == 0
    b.ok()
    assert b.wait_ms(0) == 0 and b.fail(0) == 500
