"""The Oracle's halt and staleness in the keeper: `market_halt` and `mark` commands (live
and on replay), admission (`halted`, `stale` for crossing orders only), the watcher's
Halted / Resumed / PriceUpdated / MaxAgeSet handling and the start-up read of the Oracle."""

from __future__ import annotations

import asyncio
import json

import pytest
from eth_abi import encode

from offchain.keeper.admission import AccountState, AdmissionContext, MarketInfo, OracleState, Rejection, check_order
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.journal import Journal
from offchain.matching import Engine
from offchain.order import sign_order

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, OfflineKeeper, order, signed
from .replay import replay as replay_journal
from .test_watcher import ORACLE, FakeChain, log, word

MARKET2 = MarketInfo(market=2, tick=10_000, lot=10**15, band_bps=500, min_size=10**15)
T = FakeChain().oracle_topics


def keeper(offline_keeper, url: str) -> OfflineKeeper:
    """A started offline keeper (the `offline_keeper` fixture's) with two markets and the
    service's oracle wiring."""
    k = offline_keeper(url)
    k.core.engine.add_market(market_config(MARKET2))
    k.core.markets[2] = MARKET2
    ctx = k.gateway.ctx
    ctx.markets[2] = MARKET2
    ctx.oracle, ctx.crosses = k.core.oracle, k.core.crosses
    k.core.marks[2] = PRICE
    return k


async def halt(k: OfflineKeeper, market: int, halted: bool, reason: str = "guardian") -> None:
    seq = k.core.next_seq()
    await k.gateway.run_command(lambda ws, out: k.core.market_halt(seq, 1_000, market, halted, reason, ws, out))


async def mark(k: OfflineKeeper, market: int, price: int, updated_at: int) -> None:
    seq = k.core.next_seq()
    await k.gateway.run_command(lambda ws, out: k.core.set_mark(seq, 1_000, market, price, ws, out, updated_at))


def statuses(results):
    return [r["status"] if r["status"] == "accepted" else r["reason"] for r in results]


def replay(url: str, markets=(MARKET, MARKET2)) -> Core:
    return replay_journal(url, markets)


# -- admission ------------------------------------------------------------------------------
def test_check_order__halted_market__rejected_before_the_signature():
    oracle = OracleState(halted={1: "breaker"})
    ctx = AdmissionContext(DOMAIN, {1: MARKET, 2: MARKET2}, margin_check=False, oracle=oracle)
    o = order(0, True)
    bad_sig = sign_order(o, DOMAIN, KEYS[1])  # the wrong key: "halted" is checked first
    try:
        check_order(o, bad_sig, None, ctx, 0)
        raise AssertionError("admitted")
    except Rejection as exc:
        assert (exc.reason, exc.status) == ("halted", 400)
    o2 = order(0, True, market=2)
    assert check_order(o2, sign_order(o2, DOMAIN, KEYS[0]), None, ctx, 0).signer == ADDR[0]


def _refusal(o, account, ctx):
    try:
        check_order(o, sign_order(o, DOMAIN, KEYS[0]), account, ctx, 0)
    except Rejection as exc:
        return exc.reason
    return "accepted"


def test_check_order__position_in_a_halted_market__only_risk_adding_orders_refused():
    """The Exchange skips a fill that adds risk for an account holding a position in a
    halted market elsewhere ("halted", ledger._health): admission refuses such an order and
    still admits one that reduces, or any order of an account flat in the halted market."""
    oracle = OracleState(halted={2: "guardian"})
    ctx = AdmissionContext(DOMAIN, {1: MARKET, 2: MARKET2}, margin_check=False, oracle=oracle)
    account = AccountState(ADDR[0])
    account.positions[1] = [10**17, PRICE * 10**17 // 10**18]
    assert _refusal(order(0, True), account, ctx) == "accepted"   # flat in market 2
    account.pending[2] = [10**15, 0]                              # an unsettled fill there
    assert _refusal(order(0, True), account, ctx) == "halted"     # grows the long
    assert _refusal(order(0, False, size=2 * 10**17), account, ctx) == "halted"  # flips it
    assert _refusal(order(0, False), account, ctx) == "accepted"  # closes it
    assert _refusal(order(0, False, size=5 * 10**16), account, ctx) == "accepted"  # reduces


def test_check_order__position_in_a_stale_market__crossing_risk_refused_passive_rests():
    oracle = OracleState(updated_at={1: 1_000, 2: 900}, max_age=60, block_time=1_000)
    crossing = {True}
    ctx = AdmissionContext(DOMAIN, {1: MARKET, 2: MARKET2}, margin_check=False, oracle=oracle,
                           crosses=lambda o: o.is_buy in crossing)
    account = AccountState(ADDR[0])
    account.positions[2] = [-10**15, 0]
    assert _refusal(order(0, True), account, ctx) == "stale"      # would fill now
    crossing.clear()
    assert _refusal(order(0, True), account, ctx) == "accepted"   # rests: checked at its fill
    oracle.halted[2] = "breaker"
    crossing.add(True)
    assert _refusal(order(0, True), account, ctx) == "stale"      # the chain's max(): stale


def test_oracle_state__stale_rule_matches_is_fresh():
    s = OracleState(updated_at={1: 1_000}, max_age=60)
    assert not s.stale(1)  # no block time seen yet: no check
    s.block_time = 1_060
    assert not s.stale(1)  # block.timestamp <= updated_at + max_age is fresh
    s.block_time = 1_061
    assert s.stale(1) and s.stale(2)  # a market never priced is stale too
    s.max_age = 0
    assert not s.stale(1)  # max_age unknown: no check


# -- halt -----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_halt__rejects_new_orders_keeps_book_cancel_works_resume_matches(tmp_path, offline_keeper):
    url = f"sqlite:///{tmp_path}/j.db"
    k = keeper(offline_keeper, url)
    events: list = []

    q: asyncio.Queue = asyncio.Queue()
    k.gateway.hub.subscribe(("book", 1), q)
    rest = await k.gateway.place_batch([signed(0, order(0, True, nonce=1)),
                                        signed(0, order(0, True, price=PRICE - 10_000, nonce=2))])
    assert statuses(rest) == ["accepted", "accepted"]
    await halt(k, 1, True, "breaker")
    res = await k.gateway.place_batch([
        signed(1, order(1, False, nonce=1)),                        # would cross: halted
        signed(1, order(1, False, price=PRICE + 10**6, nonce=2)),   # passive: halted too
        signed(1, order(1, False, nonce=3, market=2)),              # the other market trades
    ])
    assert statuses(res) == ["halted", "halted", "accepted"]
    assert k.core.engine.depth(1, 5)[0] == [(PRICE, 10**17), (PRICE - 10_000, 10**17)]  # resting stays
    from offchain.client.messages import Cancel

    c = Cancel(ADDR[0], 1, (bytes.fromhex(rest[1]["hash"][2:]),), int(k.gateway.clock() * 1000))
    assert (await k.gateway.cancel(c, c.sign(DOMAIN, KEYS[0])))["cancelled"] == [rest[1]["hash"]]
    await halt(k, 1, False)
    res = await k.gateway.place_batch([signed(1, order(1, False, nonce=4), tif="IOC")])
    assert res[0]["status"] == "accepted" and res[0]["fills"] == 1
    while not q.empty():
        events.append(q.get_nowait())
    await k.stop()
    halts = [e for e in events if e["type"] == "halt"]
    assert halts == [{"channel": "book", "type": "halt", "market": "1", "halted": True, "reason": "breaker"},
                     {"channel": "book", "type": "halt", "market": "1", "halted": False, "reason": "guardian"}]
    core = replay(url)
    assert core.engine.depth(1, 5) == k.core.engine.depth(1, 5)
    assert [(f.id, f.size) for f in core.fills.values()] == [(f.id, f.size) for f in k.core.fills.values()]
    assert core.oracle.halted == {}


@pytest.mark.anyio
async def test_halt__marks_held_from_engine_until_resume__replay_agrees(tmp_path, offline_keeper):
    url = f"sqlite:///{tmp_path}/j.db"
    k = keeper(offline_keeper, url)

    await mark(k, 1, PRICE, 100)
    await halt(k, 1, True)
    await mark(k, 1, PRICE * 2, 110)  # the Oracle takes any price while halted
    assert k.core.marks[1] == PRICE * 2 and k.core.oracle.updated_at[1] == 110
    assert k.core.engine.mark(1) == PRICE  # no band move, no triggers while halted
    halted_core = replay(url)
    assert halted_core.oracle.halted == {1: "guardian"} and halted_core.engine.mark(1) == PRICE
    await halt(k, 1, False)
    assert k.core.engine.mark(1) == PRICE * 2  # caught up at the resume
    await k.stop()
    core = replay(url)
    assert core.engine.mark(1) == PRICE * 2 and core.marks[1] == PRICE * 2
    assert core.oracle.updated_at == {1: 110} and core.oracle.halted == {}
    kinds = [r.kind for r in Journal(url).commands()]
    assert kinds == ["mark", "market_halt", "mark", "market_halt"]


def test_replay__old_mark_body_without_updated_at():
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    core.apply(1, 0, "mark", {"market": 1, "price": str(PRICE)}, Outbox.new())
    assert core.marks[1] == PRICE and core.oracle.updated_at.get(1, 0) == 0


# -- stale ----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_stale_mark__crossing_rejected_passive_rests__fresh_mark_lets_it_through(tmp_path, offline_keeper):
    k = keeper(offline_keeper, f"sqlite:///{tmp_path}/j.db")

    await mark(k, 1, PRICE, 1_000)
    await mark(k, 2, PRICE, 1_000)
    k.core.oracle.max_age, k.core.oracle.block_time = 60, 1_061
    res = await k.gateway.place_batch([
        signed(0, order(0, True, nonce=1)),                         # empty book: rests
        signed(1, order(1, False, nonce=1)),                        # crosses the bid: stale
        signed(1, order(1, False, price=PRICE + 10_000, nonce=2)),  # passive ask: rests
        signed(2, order(2, True, price=PRICE + 10_000, nonce=1)),   # crosses the ask: stale
    ])
    assert statuses(res) == ["accepted", "stale", "accepted", "stale"]
    assert k.core.fills == {}
    await mark(k, 1, PRICE, 1_050)  # the same price reported again: fresh
    assert k.core.oracle.updated_at[1] == 1_050
    res = await k.gateway.place_batch([signed(1, order(1, False, nonce=3), tif="IOC")])
    assert res[0]["status"] == "accepted" and res[0]["fills"] == 1
    await k.stop()


# -- watcher --------------------------------------------------------------------------------
class OracleChain(FakeChain):
    """FakeChain plus the Oracle's views, as of `state` (market -> (price, updated_at, halted))."""

    def __init__(self, logs=None, head=100, time=0, state=None, max_age=3_600):
        super().__init__(logs, head, time)
        self.state = state or {}
        self.max_age = max_age
        self.calls = []

    async def call(self, contract, fn, *args, block="latest"):
        self.calls.append((fn, args, block))
        if fn == "max_age":
            return self.max_age
        return self.state.get(args[0], (0, 0, False))


def price_log(block, market, price, at, index=0):
    return log(ORACLE, block, [T["PriceUpdated"], word(market)], encode(["uint256", "uint256"], [price, at]), index)


def halted_log(block, market, reason, index=0):
    data = encode(["string", "uint256", "uint256", "address"], [reason, PRICE, PRICE, ADDR[7]])
    return log(ORACLE, block, [T["Halted"], word(market)], data, index)


def resumed_log(block, market, index=0):
    return log(ORACLE, block, [T["Resumed"], word(market)], encode(["uint256", "address"], [PRICE, ADDR[7]]), index)


@pytest.mark.anyio
async def test_watcher__halted_resumed_price_max_age__commands_and_book_events(tmp_path, offline_keeper):
    url = f"sqlite:///{tmp_path}/j.db"
    k = keeper(offline_keeper, url)
    logs = [price_log(3, 1, PRICE, 500), price_log(4, 1, PRICE, 510),   # same price, newer: journaled
            halted_log(4, 1, "breaker", 1), halted_log(5, 1, "guardian"),  # already halted: nothing
            log(ORACLE, 6, [T["MaxAgeSet"]], (90).to_bytes(32, "big")),
            halted_log(7, 2, "guardian"), resumed_log(8, 2), resumed_log(9, 7)]  # market 7 unknown
    chain = OracleChain(logs, head=10, time=1_234)
    from offchain.keeper.watcher import Watcher

    w = Watcher(k.core, chain, k.committer, k.gateway.publish, None, confirmations=0)
    got: list = []

    q: asyncio.Queue = asyncio.Queue()
    k.gateway.hub.subscribe(("book", 1), q)
    await w.poll()
    while not q.empty():
        got.append(q.get_nowait())
    await k.stop()
    assert k.core.oracle.halted == {1: "breaker"} and k.core.oracle.updated_at[1] == 510
    assert (k.core.oracle.max_age, k.core.oracle.block_time) == (90, 1_234)
    assert [(r.kind, json.loads(r.body)) for r in Journal(url).commands()] == [
        ("mark", {"market": 1, "price": str(PRICE), "updated_at": "500"}),
        ("mark", {"market": 1, "price": str(PRICE), "updated_at": "510"}),
        ("market_halt", {"market": 1, "halted": True, "reason": "breaker"}),
        ("market_halt", {"market": 2, "halted": True, "reason": "guardian"}),
        ("market_halt", {"market": 2, "halted": False, "reason": "guardian"}),
    ]
    assert [(e["type"], e.get("updated_at"), e.get("reason")) for e in got] == [
        ("mark", "500", None), ("mark", "510", None), ("halt", None, "breaker")]
    assert replay(url).oracle.halted == {1: "breaker"}


@pytest.mark.anyio
async def test_watcher__load_oracle__started_during_a_halt_knows_it(tmp_path, offline_keeper):
    url = f"sqlite:///{tmp_path}/j.db"
    k = keeper(offline_keeper, url)
    # the Halted log is before the start block: only price_info tells; the reason is not found
    chain = OracleChain([halted_log(3, 1, "breaker")], head=20, time=5_000,
                        state={1: (PRICE, 4_990, True), 2: (PRICE, 4_000, False)}, max_age=600)
    from offchain.keeper.watcher import Watcher

    w = Watcher(k.core, chain, k.committer, k.gateway.publish, None, confirmations=2, start_block=10)
    k.core.marks.clear()

    await w.load_oracle()
    res = await k.gateway.place_batch([signed(0, order(0, True, nonce=1)),
                                       signed(0, order(0, True, nonce=2, market=2))])
    await k.stop()
    assert statuses(res) == ["halted", "accepted"]
    assert k.core.oracle.halted == {1: "oracle"}
    assert (k.core.oracle.max_age, k.core.oracle.block_time) == (600, 5_000)
    assert k.core.oracle.updated_at == {1: 4_990, 2: 4_000} and k.core.marks == {1: PRICE, 2: PRICE}
    assert {b for _, _, b in chain.calls} == {18}  # read at the confirmed head
    core = replay(url)
    assert core.oracle.halted == {1: "oracle"} and core.marks == {1: PRICE, 2: PRICE}

    # with the Halted log in range, its reason is used
    k2 = keeper(offline_keeper, f"sqlite:///{tmp_path}/j2.db")
    w2 = Watcher(k2.core, chain, k2.committer, k2.gateway.publish, None, confirmations=2)

    await w2.load_oracle()
    await k2.stop()
    assert k2.core.oracle.halted == {1: "breaker"}
