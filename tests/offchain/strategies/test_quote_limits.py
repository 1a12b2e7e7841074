from offchain.strategies import AccountState, Fill, QuoteConfig, QuoteEngine
from tests.constants import USDC

ETH = 10**18


def _engine(**kw):
    return QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, inventory_limit=3 * ETH, **kw))


def test_quote__at_inventory_limit__growing_side_withdrawn(at):
    orders = _engine().update(at(3000 * USDC), AccountState(3 * ETH, 0), 0)
    assert orders and all(not o.is_buy for o in orders)
    orders = _engine().update(at(3000 * USDC), AccountState(-3 * ETH, 0), 0)
    assert orders and all(o.is_buy for o in orders)


def test_quote__near_limit__growing_side_cut_to_room(at):
    # 2.5 ETH long of a 3 ETH limit: room to buy 0.5. Size skew makes each bid
    # 2 ETH x (1 - 2.5/3) = 0.333; the second is cut to the 0.167 left, the third withdrawn.
    cfg = QuoteConfig(1, spread_bps=20, order_size=2 * ETH, levels=3, level_spacing_bps=5,
                      inventory_limit=3 * ETH)
    orders = QuoteEngine(cfg).update(at(3000 * USDC), AccountState(5 * ETH // 2, 0), 0)
    assert [o.size for o in orders if o.is_buy] == [333 * 10**15, 167 * 10**15]


def test_quote__halted__pulls_everything(at):
    engine = _engine()
    engine.update(at(3000 * USDC), AccountState(0, 0), 0)
    assert engine.update(at(3000 * USDC, halted=True), AccountState(0, 0), 1) == []


def test_quote__hanging_order__other_side_kept_after_fill(at):
    engine = _engine(hanging_orders=True, hanging_cancel_bps=100)
    first = engine.update(at(3000 * USDC), AccountState(0, 0), 0)
    ask = next(o for o in first if not o.is_buy)
    bid = next(o for o in first if o.is_buy)
    engine.on_fill(Fill(1, True, bid.price, bid.size), now=10)
    orders = engine.update(at(2990 * USDC), AccountState(ETH, 0), 20)
    assert ask in orders  # still resting at the old price
    assert sum(1 for o in orders if not o.is_buy) == 2
    # drifts too far (> 100 bps from the reference): dropped
    orders = engine.update(at(2900 * USDC), AccountState(ETH, 0), 30)
    assert ask not in orders and engine.hanging == ()


def test_quote__hanging_order_fills__forgotten(at):
    engine = _engine(hanging_orders=True)
    first = engine.update(at(3000 * USDC), AccountState(0, 0), 0)
    bid = next(o for o in first if o.is_buy)
    ask = next(o for o in first if not o.is_buy)
    engine.on_fill(Fill(1, True, bid.price, bid.size), now=1)
    assert engine.hanging == (ask,)
    engine.on_fill(Fill(1, False, ask.price, ask.size), now=2)
    assert engine.hanging == ()
