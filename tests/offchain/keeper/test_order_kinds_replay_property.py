"""Property: whatever mix of order kinds, marks (large gaps included), cancels, expiry sweeps,
schedule-cancels, amends and cancels by client id the keeper sequences, replaying its journal
rebuilds the same book, waiting triggers, order statuses, fills and client ids. Adversarial
actors: two accounts that trade against each other and themselves (STP), amend into and
across the book, and marks that jump by up to 50%. Amend invariant: the old and the new order
never rest together; "kept" means the replacement holds the old order's exact queue place;
a refused amend leaves the old order as it was."""

import json
from dataclasses import replace

from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.intent import Intent
from offchain.keeper.core import Core, Outbox, SignedOrder, market_config
from offchain.keeper.journal import WriteSet
from offchain.matching import Engine
from offchain.order import POST_ONLY, Domain, Order, Signature, order_hash

from .helpers import ADDR, MARKET, PRICE

TICK = MARKET.tick
LOT = MARKET.lot
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
SIG = Signature(27, 1, 1)  # the core does not verify (admission did); replay carries it as is
ACCOUNTS = ADDR[:2]

INTENTS = st.one_of(
    st.builds(Intent, stp=st.sampled_from(["default", "expire_taker", "expire_maker", "expire_both", "decrement"])),
    st.builds(lambda bps: Intent(kind="market", tif="IOC", slippage_bps=bps), st.integers(0, 300)),
    st.builds(lambda d: Intent(kind="stop_market", tif="IOC", trigger_price=PRICE + d * TICK),
              st.integers(-400, 400).filter(bool)),
    st.builds(lambda d: Intent(kind="stop_limit", trigger_price=PRICE + d * TICK), st.integers(-400, 400).filter(bool)),
    st.builds(lambda d: Intent(kind="take_profit", tif="IOC", trigger_price=PRICE + d * TICK),
              st.integers(-400, 400).filter(bool)),
    st.builds(lambda a: Intent(kind="trailing_stop", tif="IOC", trail_amount=a * TICK), st.integers(1, 200)),
    st.builds(lambda b: Intent(kind="trailing_stop", tif="IOC", trail_bps=b), st.integers(1, 500)),
    st.just(Intent(post_only="slide")),
    st.builds(lambda c: Intent(client_id=f"c{c}"), st.integers(0, 5)),
)
PLACE = st.tuples(st.just("place"), st.integers(0, 1), st.booleans(), st.integers(-300, 300),
                  st.integers(1, 20), INTENTS)
# bps from the current mark: mostly small moves, sometimes a gap of up to 50%
MARK = st.tuples(st.just("mark"), st.one_of(st.integers(-100, 100), st.integers(-5000, 5000)))
CANCEL = st.tuples(st.just("cancel"), st.integers(0, 1))
EXPIRE = st.tuples(st.just("expire"), st.integers(0, 3))
SWITCH = st.tuples(st.just("switch"), st.integers(0, 1), st.integers(0, 3))
# amend the account's n-th live order: price moved by ticks (often 0), size in lots (often down)
AMEND = st.tuples(st.just("amend"), st.integers(0, 1), st.integers(0, 30),
                  st.one_of(st.just(0), st.integers(-40, 40)), st.integers(1, 8))
CID_CANCEL = st.tuples(st.just("cid_cancel"), st.integers(0, 1), st.integers(0, 5))
ACTIONS = st.lists(st.one_of(PLACE, PLACE, PLACE, MARK, CANCEL, EXPIRE, SWITCH, AMEND, AMEND, CID_CANCEL),
                   min_size=20, max_size=50)


def new_core() -> Core:
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    core.engine.set_mark(1, PRICE, ts=0)
    core.marks[1] = PRICE
    return core


def view(core: Core):
    bids, asks = core.engine.book_orders(1)
    return ([(o.id, o.price, o.size) for o in bids], [(o.id, o.price, o.size) for o in asks],
            sorted((s.hex, str(s.status), s.open, s.filled) for s in core.orders.values()),
            [(f.id, f.maker_hash, f.taker_hash, f.price, f.size) for f in core.fills.values()],
            sorted(core.client_ids.items()), sorted(core.cancel_deadlines.items()),
            sorted(core.replaced.items()), sorted(core.cid_cancel_ts.items()))


def queue_place(core: Core, h: bytes):
    """(price, index among the live orders of its level) of a resting order, or None."""
    bids, asks = core.engine.book_orders(1)
    for side in (bids, asks):
        for o in side:
            if o.id == h:
                level = [x.id for x in side if x.price == o.price]
                return o.price, level.index(h)
    return None


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(actions=ACTIONS)
def test_replay__any_mix_of_kinds_marks_and_cancels__same_state(actions):
    check(actions)


def check(actions) -> Core:
    """Run `actions` on a core (journaling), replay the journal, compare; the live core."""
    core, ws = new_core(), WriteSet()
    ts, nonce = 1_000, 0
    for d in range(1, 8):  # a two-sided ladder, both accounts on both sides, for takers to meet
        for who, is_buy in ((0, True), (1, False), (1, True), (0, False)):
            nonce += 1
            price = PRICE - d * 20 * TICK if is_buy else PRICE + d * 20 * TICK
            o = Order(ACCOUNTS[who], 1, is_buy, price, 3 * LOT, nonce, 10**10, 0)
            core.place(SignedOrder(order_hash(o, DOMAIN), o, SIG, o.account, core.next_seq(), "GTC", Intent(), SIG),
                       ts, ws, Outbox.new())
    for action in actions:
        ts += 1_000
        out = Outbox.new()
        kind = action[0]
        if kind == "place":
            _, who, is_buy, ticks, lots, intent = action
            if intent.client_id and (ACCOUNTS[who], intent.client_id) in core.client_ids:
                continue  # the gateway refuses a reused client id before sequencing
            nonce += 1
            flags = POST_ONLY if intent.post_only != "none" else 0
            mark = core.marks[1]
            if intent.trigger_price:  # the strategies' triggers are offsets from PRICE: move them to the mark
                intent = replace(intent, trigger_price=intent.trigger_price - PRICE + mark)
            o = Order(ACCOUNTS[who], 1, is_buy, mark + ticks * TICK, lots * LOT, nonce, 10**10, flags)
            h = order_hash(o, DOMAIN)
            core.place(SignedOrder(h, o, SIG, o.account, core.next_seq(), intent.tif, intent, SIG), ts, ws, out)
        elif kind == "mark":
            price = core.marks[1] * (10_000 + action[1]) // 10_000 // TICK * TICK
            core.set_mark(core.next_seq(), ts, 1, price, ws, out)
        elif kind == "cancel":
            core.cancel(core.next_seq(), ts, ACCOUNTS[action[1]], [], 0, ws, out)
        elif kind == "expire":
            ts += action[1] * 10_000
            core.expire(core.next_seq(), ts, ws, out)
        elif kind == "amend":
            _, who, n, ticks, lots = action
            account = ACCOUNTS[who]
            live = sorted((core.orders[h] for h in core.by_nonce_account.get(account, ())), key=lambda x: x.seq)
            if not live:
                continue
            old = live[n % len(live)]
            nonce += 1
            o = Order(account, 1, old.order.is_buy, old.order.price + ticks * TICK, lots * LOT, nonce, 10**10,
                      old.order.flags)
            new = SignedOrder(order_hash(o, DOMAIN), o, SIG, account, core.next_seq(), old.intent.tif, old.intent, SIG)
            before = queue_place(core, old.hash)
            priority, reason = core.amend(old, new, ts, ws, out)
            assert core.engine.get_order(old.hash) is None or reason is not None
            if reason is not None:  # refused: the old order is as it was, the new one nowhere
                assert core.engine.get_order(new.hash) is None and queue_place(core, old.hash) == before
            elif priority == "kept":
                assert queue_place(core, new.hash) == before and new.open == o.size
        elif kind == "cid_cancel":
            _, who, c = action
            h = core.client_ids.get((ACCOUNTS[who], f"c{c}"))
            core.cancel(core.next_seq(), ts, ACCOUNTS[who], [h] if h else [], 0, ws, out, timestamp=ts,
                        client_ids=[f"c{c}"])
        else:
            _, who, k = action
            core.schedule_cancel(core.next_seq(), ts, ACCOUNTS[who], ts + k * 5_000 if k else 0, ts, ws, out)
    replayed = new_core()
    for row in ws.commands:
        replayed.apply(row["seq"], row["ts"], row["kind"], json.loads(row["body"]), Outbox.new())
    assert view(replayed) == view(core)
    # no self trade was ever matched (STP), whatever the mode
    assert all(f.maker_account != f.taker_account for f in core.fills.values())
    return core


def test_replay__scenario_with_fills_and_fired_triggers__same_state():
    """The property's check is not vacuous: a fixed mix that matches and fires triggers."""
    actions = [
        # worst prices (order.price) leave room to trade once fired; 1 bps of PRICE = 20 ticks
        ("place", 0, False, -200, 5, Intent(kind="stop_market", tif="IOC", trigger_price=PRICE - 30 * TICK)),
        ("place", 1, True, 300, 2, Intent(kind="trailing_stop", tif="IOC", trail_bps=20)),
        ("place", 0, True, 30, 4, Intent()),                                   # crosses the asks
        ("place", 1, False, -30, 4, Intent(stp="decrement")),                  # crosses the bids
        ("mark", -20), ("mark", 40), ("switch", 1, 1), ("expire", 1),
        ("place", 0, True, 200, 6, Intent(kind="market", tif="IOC", slippage_bps=50)),
        ("mark", -3000), ("cancel", 0),
        ("place", 0, True, -50, 6, Intent(client_id="c1")), ("amend", 0, 0, 0, 3),    # kept
        ("amend", 0, 0, 5, 3), ("amend", 0, 0, 200, 9), ("cid_cancel", 0, 1),          # lost; across; by id
    ]
    core = check(actions)
    assert len(core.replaced) >= 3 and core.cid_cancel_ts
    fired = [s for s in core.orders.values() if s.intent.is_trigger and s.filled]
    assert len(core.fills) >= 4 and fired, (len(core.fills), len(fired))
