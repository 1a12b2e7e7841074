from offchain.strategies import AccountState, QuoteConfig, QuoteEngine
from tests.constants import USDC

ETH = 10**18


def _quotes(at, position, **kw):
    cfg = QuoteConfig(1, spread_bps=20, order_size=ETH, inventory_limit=10 * ETH, skew_bps=10, **kw)
    orders = QuoteEngine(cfg).update(at(3000 * USDC), AccountState(position, 0), 0)
    bids = [o for o in orders if o.is_buy]
    asks = [o for o in orders if not o.is_buy]
    return bids, asks


def test_quote__flat__symmetric_around_mid(at):
    bids, asks = _quotes(at, 0)
    assert [(b.price, b.size) for b in bids] == [(2997 * USDC, ETH)]  # 3000 - 10 bps
    assert [(a.price, a.size) for a in asks] == [(3003 * USDC, ETH)]


def test_quote__long__quotes_lower_and_leans_to_selling(at):
    bids, asks = _quotes(at, 5 * ETH)  # half the limit: r = 0.5
    assert bids[0].price == 2995_500000 and asks[0].price == 3001_500000  # shifted 5 bps down
    assert bids[0].size == ETH // 2 and asks[0].size == 3 * ETH // 2


def test_quote__short__quotes_higher_and_leans_to_buying(at):
    bids, asks = _quotes(at, -5 * ETH)
    assert bids[0].price == 2998_490000 and asks[0].price == 3004_510000  # 10 bps of 3001.5, rounded outwards
    assert bids[0].size == 3 * ETH // 2 and asks[0].size == ETH // 2


def test_quote__target_inventory__skews_around_target(at):
    bids, asks = _quotes(at, 5 * ETH, target_inventory=5 * ETH)
    assert bids[0].price == 2997 * USDC and bids[0].size == asks[0].size == ETH


def test_quote__levels__spacing_and_size_growth(at):
    cfg = QuoteConfig(1, spread_bps=20, order_size=ETH, levels=3, level_spacing_bps=10, size_growth_bps=5000)
    orders = QuoteEngine(cfg).update(at(3000 * USDC), AccountState(0, 0), 0)
    assert [(o.is_buy, o.price, o.size) for o in orders] == [
        (True, 2997 * USDC, ETH), (True, 2994 * USDC, 3 * ETH // 2), (True, 2991 * USDC, 9 * ETH // 4),
        (False, 3003 * USDC, ETH), (False, 3006 * USDC, 3 * ETH // 2), (False, 3009 * USDC, 9 * ETH // 4)]


def test_quote__rounding__bid_down_ask_up_never_crossed(at):
    cfg = QuoteConfig(1, spread_bps=1, order_size=ETH)
    orders = QuoteEngine(cfg).update(at(3000 * USDC + 3_333), AccountState(0, 0), 0)
    bid, ask = orders
    assert bid.price % 10_000 == 0 and ask.price % 10_000 == 0 and bid.price < ask.price


def test_quote__ceiling_and_floor__drop_the_side(at):
    high = QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, price_ceiling=2990 * USDC))
    assert all(not o.is_buy for o in high.update(at(3000 * USDC), AccountState(0, 0), 0))
    low = QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, price_floor=3010 * USDC))
    assert all(o.is_buy for o in low.update(at(3000 * USDC), AccountState(0, 0), 0))


def test_quote__post_only__never_at_or_through_the_book(at):
    from offchain.strategies import MarketState
    # Mark far above a book whose ask is 2990: our bid must stay below the best ask.
    state = MarketState(1, None, 2990 * USDC, 3100 * USDC, 0, False, 10_000, 10**15, 10**15)
    bid = next(o for o in QuoteEngine(QuoteConfig(1, 20, ETH)).update(state, AccountState(0, 0), 0) if o.is_buy)
    assert bid.price < 2990 * USDC
