"""The runners' IOC / FOK takers go single-fill (ONE_FILL, the chain's cheap path) exactly
when the keeper will take them as such: the book's first opposite order is another
account's, crosses, and covers the whole size (docs/keeper.md, "Single-fill orders");
otherwise, or when the keeper refuses one anyway, they go as ordinary orders and no hedge is
lost. Their nonces share 256-nonce bitmap words (offchain/nonces.py)."""

import pytest

from offchain.keeper.keys import Key
from offchain.keeper.runners.signer import OrderSigner
from offchain.keeper.runners.takers import one_fill_choices, place_takers
from offchain.order import ONE_FILL, REDUCE_ONLY
from offchain.strategies import DesiredOrder

from .fakes import AGENT, AGENT_KEY, DOMAIN, ETH, MARK, OTHER, VAULT, FakeVenue

pytestmark = pytest.mark.anyio

TICK = 10_000


def taker(is_buy=True, size=ETH, price=MARK, reduce_only=False, post_only=False, market=1):
    return DesiredOrder(market, is_buy, price, size, post_only=post_only, reduce_only=reduce_only)


def choices(orders, heads, position=0):
    return one_fill_choices(orders, VAULT, lambda m, bids: heads.get((m, bids)), lambda m: position)


def test_one_fill_choices__head_of_another_account_covers__single_fill():
    assert choices([taker()], {(1, False): (OTHER, ETH, MARK)}) == [True]
    assert choices([taker(False)], {(1, True): (OTHER, 2 * ETH, MARK)}) == [True]  # a sell meets the bids


@pytest.mark.parametrize("head", [
    None,  # empty side
    (OTHER, ETH - 1, MARK),  # would fill in two parts
    (OTHER, ETH, MARK + TICK),  # does not cross the limit
    (VAULT.upper().replace("0X", "0x"), ETH, MARK),  # its own order (any address case)
])
def test_one_fill_choices__head_does_not_cover__ordinary(head):
    assert choices([taker()], {(1, False): head} if head else {}) == [False]


def test_one_fill_choices__post_only__never_single_fill():
    assert choices([taker(post_only=True)], {(1, False): (OTHER, ETH, MARK)}) == [False]


def test_one_fill_choices__earlier_orders_of_the_batch_take_from_the_head_first():
    heads = {(1, False): (OTHER, 3 * ETH, MARK)}
    # the second fits in what the first leaves, the third does not; another market is apart
    orders = [taker(size=2 * ETH), taker(size=ETH), taker(size=ETH), taker(size=ETH, market=2)]
    heads[(2, False)] = (OTHER, ETH, MARK)
    assert choices(orders, heads) == [True, True, False, True]


def test_one_fill_choices__reduce_only__whole_size_reducible_after_earlier_orders():
    heads = {(1, True): (OTHER, 10 * ETH, MARK), (1, False): (OTHER, 10 * ETH, MARK)}
    long = 2 * ETH
    assert choices([taker(False, 2 * ETH, reduce_only=True)], heads, long) == [True]
    assert choices([taker(False, 3 * ETH, reduce_only=True)], heads, long) == [False]  # the engine would clip it
    assert choices([taker(True, ETH, reduce_only=True)], heads, long) == [False]  # a buy does not reduce a long
    # an earlier sell of the batch leaves 0.5 ETH to reduce
    assert choices([taker(False, 3 * ETH // 2), taker(False, ETH, reduce_only=True)], heads, long) == [True, False]


def signer():
    return OrderSigner(DOMAIN, Key(AGENT, AGENT_KEY), VAULT, first_nonce=1_000)


async def test_place_takers__covered__signed_single_fill_nonce_in_a_reserved_word():
    venue = FakeVenue()
    venue.heads[(1, False)] = (OTHER, 5 * ETH, MARK)
    s = signer()
    s.sign(taker(post_only=True), 0)  # an ordinary order first: nonce 1,000
    results = await place_takers(venue, s, [taker(), taker()], "IOC", 0)
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    orders = [o for o, _, tif in venue.placed]
    assert [o.flags for o in orders] == [ONE_FILL, ONE_FILL]
    # the first whole 256-nonce word above the ordinary counter, consecutive inside it
    assert [o.nonce for o in orders] == [1_024, 1_025]
    assert s.sign(taker(post_only=True), 0)[0].nonce == 1_280  # ordinary nonces stay outside the word


async def test_place_takers__not_covered__ordinary():
    venue = FakeVenue()
    venue.heads[(1, False)] = (OTHER, ETH // 2, MARK)
    await place_takers(venue, signer(), [taker()], "IOC", 0)
    [(order, _, tif)] = venue.placed
    assert (order.flags, tif) == (0, "IOC")


async def test_place_takers__refused_one_fill__resent_once_as_ordinary():
    venue = FakeVenue()
    venue.heads[(1, False)] = (OTHER, 5 * ETH, MARK)
    venue.refuse_one_fill = True  # the head left between the look and the admission
    [result] = await place_takers(venue, signer(), [taker(reduce_only=False)], "IOC", 0)
    assert result["status"] == "accepted"
    first, second = (o for o, _, _ in venue.placed)
    assert first.flags == ONE_FILL and second.flags == 0
    assert (second.is_buy, second.size, second.price) == (first.is_buy, first.size, first.price)
    assert second.nonce != first.nonce


async def test_place_takers__venue_without_book_view__ordinary():
    venue = FakeVenue()
    venue.book_head = None  # the bot over the SDK has no book view
    await place_takers(venue, signer(), [taker()], "IOC", 0)
    assert [o.flags for o, _, _ in venue.placed] == [0]


async def test_place_takers__keeper_venue__hedge_taken_single_fill_by_the_keeper(tmp_path):
    """Through the keeper's real gateway and book: a resting ask of another account covers
    the runner's IOC buy, which the keeper takes single-fill (its nonce remembered); a
    second one, larger than what is left at the head, goes ordinary and sweeps on."""
    import time
    import types

    from offchain.keeper.runners.venue import KeeperVenue
    from tests.offchain.keeper.helpers import ADDR, KEYS, PRICE, OfflineKeeper, order, signed

    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    k.start()
    try:
        for i, nonce in ((0, 1), (2, 1)):
            (r,) = await k.gateway.place_batch([signed(i, order(i, False, size=ETH, nonce=nonce))])
            assert r["status"] == "accepted"
        host = types.SimpleNamespace(core=k.core, gateway=k.gateway, domain=k.gateway.ctx.domain, agent_keys=[])
        venue = KeeperVenue(host, chain=object())
        s = OrderSigner(venue.domain, Key(ADDR[1], KEYS[1]), ADDR[1], first_nonce=5_000)
        now = int(time.time())
        (r,) = await place_takers(venue, s, [taker(size=ETH // 2, price=PRICE)], "IOC", now)
        assert r["status"] == "accepted" and r["fills"] == 1
        (ours,) = [o for o in k.core.one_fill_nonces if o[0] == ADDR[1]]
        assert ours == (ADDR[1], 5_120)  # the first whole word above 5,000
        # 1 ETH against the head's 0.5 left: two fills, so an ordinary order
        (r,) = await place_takers(venue, s, [taker(size=ETH, price=PRICE)], "IOC", now)
        assert r["status"] == "accepted" and r["fills"] == 2
        assert len(k.core.one_fill_nonces) == 1
    finally:
        await k.stop()


def _keeper_book_case():
    from hypothesis import strategies as st

    lot = 10**15
    # a book that does not cross itself (asks at 0..3 ticks above PRICE, bids 1..4 below),
    # the runner (account 1) among its makers; takers smaller than most resting orders, so
    # many are covered by the head and many are not
    # a book that does not cross itself (asks at 0..3 ticks above PRICE, bids 1..4 below),
    # the runner (account 1) among its makers; takers mostly crossing (aggression -1..4
    # ticks past PRICE) and smaller than most resting orders, so many are covered by the
    # head and many are not
    resting = st.lists(st.tuples(st.sampled_from([0, 0, 2, 3, 1]), st.booleans(), st.integers(0, 3),
                                 st.integers(1, 400)), min_size=1, max_size=8)
    takers = st.lists(st.tuples(st.booleans(), st.integers(-1, 4), st.integers(1, 150), st.booleans()),
                      min_size=1, max_size=4)
    return st.tuples(st.integers(-300, 300), resting, takers).map(
        lambda c: (c[0] * lot, [(a, b, -p - 1 if b else p, s * lot) for a, b, p, s in c[1]],
                   [(b, a if b else -a - 1, s * lot, r) for b, a, s, r in c[2]]))


def test_place_takers__any_keeper_book__a_chosen_single_fill_is_never_refused(tmp_path_factory):
    """Stateful check of the runner's rule against the keeper's (Core.one_fill_refusal) on
    the keeper's real book: for any resting orders (several accounts, the runner's own
    among them), any starting position of the runner and any batch of its takers (buy /
    sell, crossing or not, reduce-only or not), every order `one_fill_choices` makes
    single-fill is taken by the keeper as one (never refused `one fill`, so the ordinary
    retry is only for a book that moved), and fills whole in one fill."""
    import asyncio
    import time
    import types

    from hypothesis import HealthCheck, given, settings

    from offchain.keeper.runners.venue import KeeperVenue
    from tests.offchain.keeper.helpers import ADDR, KEYS, PRICE, OfflineKeeper, order, signed

    tick = 10_000
    runs = iter(range(10**6))

    @settings(max_examples=50, derandomize=True, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_keeper_book_case())
    def check(case):
        start, resting, takers = case

        async def run():
            k = OfflineKeeper(f"sqlite:///{tmp_path_factory.mktemp('k')}/j{next(runs)}.db")
            k.start()
            try:
                nonce = iter(range(1, 10**6))
                if start:  # the runner's position, from a trade with account 0
                    await k.gateway.place_batch([signed(0, order(0, start < 0, size=abs(start), nonce=next(nonce)))])
                    await k.gateway.place_batch([signed(1, order(1, start > 0, size=abs(start), nonce=next(nonce)),
                                                        tif="IOC")])
                for who, is_buy, p, size in resting:
                    price = PRICE + p * tick
                    await k.gateway.place_batch([signed(who, order(who, is_buy, price=price, size=size,
                                                                   nonce=next(nonce)))])
                host = types.SimpleNamespace(core=k.core, gateway=k.gateway, domain=k.gateway.ctx.domain,
                                             agent_keys=[])
                venue = KeeperVenue(host, chain=object())
                sent = []
                place = venue.place

                async def recording(items):
                    results = await place(items)
                    sent.extend(zip((o for o, _, _ in items), results))
                    return results

                venue.place = recording
                s = OrderSigner(venue.domain, Key(ADDR[1], KEYS[1]), ADDR[1], first_nonce=10**6)
                wanted = [taker(b, s_, PRICE + p * tick, r) for b, p, s_, r in takers]
                await place_takers(venue, s, wanted, "IOC", int(time.time()))
                for o, r in sent:
                    if o.flags & ONE_FILL:
                        assert r.get("reason") != "one fill", (o, r)
                        taker_hash = bytes.fromhex(r["hash"][2:])
                        sizes = [f.size for f in k.fills if f.taker_hash == taker_hash]
                        assert r["status"] == "accepted" and sizes == [o.size], (o, r, sizes)
            finally:
                await k.stop()

        asyncio.run(run())

    check()
