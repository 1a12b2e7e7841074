"""Flip-on-fill: a scripted price path run against a tiny matching simulator."""

from offchain.strategies import Fill, GridConfig, GridEngine, LiveOrder, Spacing, reconcile

from offchain.strategies import MarketState
from tests.constants import USDC


def market_at(price: int, *, tick: int = 10_000, halted: bool = False) -> MarketState:
    return MarketState(1, price - tick, price + tick, price, 0, halted, tick, 10**15, 10**15)

ETH = 10**18


class Sim:
    """Resting orders fill when the price trades through them; tracks cash and position."""

    def __init__(self, engine: GridEngine):
        self.engine = engine
        self.live: list[LiveOrder] = []
        self.next_id = 0
        self.cash = 0
        self.position = 0
        self.fills: list[Fill] = []

    def step(self, price: int) -> None:
        state = market_at(price)
        for _ in range(3):  # fills can trigger flips that fill again at the same price
            plan = reconcile(self.live, self.engine.desired(state), min_size=state.min_size)
            self.live = [o for o in self.live if o.order_id not in set(plan.cancels)]
            for d in plan.places:
                self.next_id += 1
                self.live.append(LiveOrder(self.next_id, d.market, d.is_buy, d.price, d.size))
            hit = [o for o in self.live if (o.is_buy and price <= o.price) or (not o.is_buy and price >= o.price)]
            if not hit:
                return
            for o in hit:
                self.live.remove(o)
                fill = Fill(1, o.is_buy, o.price, o.size)
                self.fills.append(fill)
                sign = 1 if o.is_buy else -1
                self.position += sign * o.size
                self.cash -= sign * o.price * o.size // ETH
                assert self.engine.on_fill(fill)


def test_grid__level_fills__flips_one_step_away(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    engine.desired(at(150 * USDC))
    assert engine.on_fill(Fill(1, True, 125 * USDC, ETH))
    orders = {(o.is_buy, o.price) for o in engine.desired(at(125 * USDC))}
    assert (False, 150 * USDC) in orders  # one level up, not at 125
    assert (True, 125 * USDC) not in orders and (False, 125 * USDC) not in orders
    assert engine.on_fill(Fill(1, False, 150 * USDC, ETH))
    orders = {(o.is_buy, o.price) for o in engine.desired(at(150 * USDC))}
    assert (True, 125 * USDC) in orders and (False, 150 * USDC) not in orders


def test_grid__scripted_path__each_round_trip_earns_one_step():
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    sim = Sim(engine)
    path = [150, 140, 124, 130, 151, 160, 176, 170, 149, 150]
    for p in path:
        sim.step(p * USDC)
    # 124 fills buy@125, 151 sells it @150; 176 fills sell@175, 149 buys it back @150.
    assert sim.position == 0
    assert len(sim.fills) == 4
    assert sim.cash == 2 * 25 * USDC  # two round trips x one step x 1 ETH


def test_grid__partial_fill__flips_only_the_filled_size(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    engine.desired(at(150 * USDC))
    engine.on_fill(Fill(1, True, 125 * USDC, ETH // 4))
    sizes = {(o.is_buy, o.price): o.size for o in engine.desired(at(130 * USDC))}
    assert sizes[(True, 125 * USDC)] == 3 * ETH // 4
    assert sizes[(False, 150 * USDC)] == ETH // 4


def test_grid__foreign_price__ignored(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    engine.desired(at(150 * USDC))
    before = engine.quantities
    assert not engine.on_fill(Fill(1, True, 126 * USDC, ETH))
    assert engine.quantities == before


def test_grid__snapshot__restores_state(at):
    cfg = GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC)
    engine = GridEngine(cfg)
    engine.desired(at(150 * USDC))
    engine.on_fill(Fill(1, True, 125 * USDC, ETH))
    restored = GridEngine(cfg, engine.snapshot())
    assert restored.desired(at(140 * USDC)) == engine.desired(at(140 * USDC))


def test_grid__hip2_geometric_round_trip__earns_at_least_one_step():
    cfg = GridConfig.from_step(1, 2_900 * USDC, 30, 20, ETH // 10)
    engine = GridEngine(cfg)
    sim = Sim(engine)
    levels = engine.raw_levels
    mid = levels[10]
    tick = 10_000
    for p in (mid, levels[9] - tick, mid + tick, mid):  # down through one buy, back up through its flip
        sim.step(p)
    assert sim.position == 0 and len(sim.fills) == 2
    step_value = (levels[10] - levels[9]) * (ETH // 10) // ETH
    assert sim.cash >= step_value > 0
    assert step_value * 10_000 // (levels[9] * (ETH // 10) // ETH) >= 29  # ~30 bps of the level


def test_grid__fill_undone__flip_withdrawn_and_level_restored(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    before = engine.desired(at(150 * USDC))
    fill = Fill(1, True, 125 * USDC, ETH // 4)
    taken = engine.apply_fill(fill)
    assert taken == ETH // 4
    assert engine.undo_fill(fill, taken)
    assert engine.desired(at(150 * USDC)) == before


def test_grid__out_of_order_fills_undone__exact_inverse(at):
    """A flip lands on a level holding the other side (fills out of order): undoing with
    what apply_fill took restores every level exactly, in any undo order."""
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    engine.desired(at(150 * USDC))
    start = engine.quantities
    fills = [Fill(1, True, 125 * USDC, ETH), Fill(1, True, 150 * USDC, ETH), Fill(1, False, 175 * USDC, ETH // 2),
             Fill(1, True, 100 * USDC, ETH)]
    taken = [engine.apply_fill(f) for f in fills]
    assert None not in taken and taken[1] == 0  # nothing rested at the gap: a flip without a take
    for f, t in [(fills[2], taken[2]), (fills[0], taken[0]), (fills[3], taken[3]), (fills[1], taken[1])]:
        assert engine.undo_fill(f, t)
    assert engine.quantities == start


def test_grid__undo_foreign_price__ignored(at):
    engine = GridEngine(GridConfig(1, 100 * USDC, 200 * USDC, 5, ETH, Spacing.ARITHMETIC))
    engine.desired(at(150 * USDC))
    before = engine.quantities
    assert engine.apply_fill(Fill(1, True, 126 * USDC, ETH)) is None
    assert not engine.undo_fill(Fill(1, True, 126 * USDC, ETH))
    assert engine.quantities == before
