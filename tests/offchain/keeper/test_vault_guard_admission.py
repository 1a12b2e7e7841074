"""Admission mirrors an account's own trade limits on chain (vaults: trade guard, close-only,
position cap, leverage cap): an order the Exchange would skip is refused with the chain's
reason and changes nothing; the watcher keeps the limits from the Exchange's logs."""

from __future__ import annotations

import time

import pytest

from offchain.artifacts import abi
from offchain.keeper.admission import AccountGuard, AccountState, AdmissionContext, Rejection, check_order
from offchain.keeper.chain import event_topics
from offchain.keeper.journal import Journal
from offchain.order import REDUCE_ONLY, sign_order

from .helpers import ADDR, DOMAIN, EXCHANGE, KEYS, MARKET, PRICE, OfflineKeeper, order, signed
from .test_watcher import FakeChain, log, watcher, word

pytestmark = pytest.mark.anyio

NOW = int(time.time())
ETH = 10**18
EX = event_topics(abi("Exchange"))
GUARD = AccountGuard(max_mark_distance_bps=50)


def vault_state(guard: AccountGuard, position: int = 0, collateral: int = 10**12) -> AccountState:
    state = AccountState(ADDR[0])
    state.collateral = collateral
    if position:
        state.positions[1] = [position, position * PRICE // ETH]
    state.guard = guard
    return state


def reason(o, state) -> str | None:
    try:
        check_order(o, sign_order(o, DOMAIN, KEYS[0]), state, AdmissionContext(DOMAIN, {1: MARKET}, {1: PRICE}),
                    NOW)
    except Rejection as exc:
        return str(exc.reason)
    return None


@pytest.mark.parametrize("price,expected", [
    (PRICE * 10_050 // 10_000, None),           # exactly 50 bps away: the chain's rule is "farther than"
    (PRICE * 10_050 // 10_000 + 10_000, "mark distance"),
    (PRICE * 9_950 // 10_000, None),
    (PRICE * 9_950 // 10_000 - 10_000, "mark distance"),
])
def test_guard__mark_distance__refused_beyond_the_vaults_distance(price, expected):
    assert reason(order(0, True, price=price), vault_state(GUARD)) == expected


def test_guard__mark_distance__reducing_and_reduce_only_orders_too():
    # the chain skips a reducing fill too far from mark ("reducing fills included")
    far = PRICE * 10_100 // 10_000
    assert reason(order(0, False, price=far, size=ETH, flags=REDUCE_ONLY), vault_state(GUARD, 2 * ETH)) \
        == "mark distance"


def test_guard__no_guard__far_order_admitted():
    state = vault_state(GUARD)
    state.guard = None
    assert reason(order(0, True, price=PRICE * 10_300 // 10_000), state) is None


@pytest.mark.parametrize("is_buy,size,expected", [
    (False, ETH, None),                 # reduces a 2 ETH long
    (False, 2 * ETH, None),             # closes it
    (False, 3 * ETH, "close only"),     # flips: the chain counts a flip as not reducing
    (True, ETH // 10, "close only"),    # grows
])
def test_guard__close_only__only_reducing_orders(is_buy, size, expected):
    assert reason(order(0, is_buy, size=size), vault_state(AccountGuard(close_only=True), 2 * ETH)) == expected


@pytest.mark.parametrize("position,is_buy,size,expected", [
    (0, True, 3 * ETH, None),            # at the cap
    (0, True, 3 * ETH + 10**15, "position cap"),
    (2 * ETH, True, 2 * ETH, "position cap"),
    (4 * ETH, False, ETH // 2, None),   # over the cap already (cap lowered), reducing
    (-2 * ETH, True, 5 * ETH, None),     # flips to +3: at the cap
    (-2 * ETH, True, 6 * ETH, "position cap"),
])
def test_guard__position_cap__growing_past_cap_refused(position, is_buy, size, expected):
    guard = AccountGuard().with_position_cap(1, 3 * ETH)
    assert reason(order(0, is_buy, size=size), vault_state(guard, position)) == expected


def test_guard__drawdown_floor__growing_orders_refused_below_floor():
    guard = AccountGuard(equity_floor=10_000 * 10**6)
    assert reason(order(0, True), vault_state(guard, collateral=9_000 * 10**6)) == "drawdown"
    assert reason(order(0, True), vault_state(guard, collateral=20_000 * 10**6)) is None
    # reducing stays allowed below the floor (the chain's rule), a flip does not
    state = vault_state(guard, ETH, collateral=9_000 * 10**6)
    assert reason(order(0, False, size=ETH), state) is None
    assert reason(order(0, False, size=2 * ETH), state) == "drawdown"


def test_guard__drawdown_floor__fill_price_against_mark_counts():
    # buying 1 ETH 40 bps above mark costs 8 USDC of equity at mark: 10,005 -> 9,997 < 10,000
    guard = AccountGuard(equity_floor=10_000 * 10**6)
    state = vault_state(guard, collateral=10_005 * 10**6)
    assert reason(order(0, True, price=PRICE * 10_040 // 10_000, size=ETH), state) == "drawdown"
    assert reason(order(0, True, price=PRICE, size=ETH), state) is None


def test_guard__leverage_cap__total_notional_over_cap_times_equity_refused():
    guard = AccountGuard(leverage_cap_bps=20_000)  # 2x
    state = vault_state(guard, collateral=10_000 * 10**6)  # 2x = 20,000 USDC = 10 ETH at 2,000
    assert reason(order(0, True, size=10 * ETH), state) is None
    assert reason(order(0, True, size=10 * ETH + 10**15), state) == "leverage"
    assert reason(order(0, False, size=10 * ETH + 10**15), state) == "leverage"


def test_guard__leverage_cap__reducing_order_passes_when_over_cap():
    state = vault_state(AccountGuard(leverage_cap_bps=10_000), 10 * ETH, collateral=1_000 * 10**6)
    # (reduce-only: admission's margin pre-check counts a plain order at its worst case)
    assert reason(order(0, False, size=ETH, flags=REDUCE_ONLY), state) is None
    assert reason(order(0, True, size=10**15), state) == "leverage"


async def test_guard__gateway__refused_order_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/j.db"
    k = OfflineKeeper(url)
    k.core.account(ADDR[0]).guard = GUARD
    k.start()
    far = signed(0, order(0, True, price=PRICE * 10_100 // 10_000, nonce=1))
    near = signed(0, order(0, True, price=PRICE * 10_040 // 10_000, nonce=2))
    ioc = signed(0, order(0, False, price=PRICE * 9_900 // 10_000, nonce=3), tif="IOC")
    results = await k.gateway.place_batch([far, near, ioc])
    book = k.core.engine.depth(1, 10)
    await k.stop()
    assert [(r["status"], r.get("reason")) for r in results] == [
        ("rejected", "mark distance"), ("accepted", None), ("rejected", "mark distance")]
    assert book == ([(PRICE * 10_040 // 10_000, 10**17)], [])
    assert k.core.account(ADDR[0]).open_buy == {1: 10**17}
    journal = Journal(url)
    assert [r.kind for r in journal.commands()] == ["place"]
    journal.close()


async def test_guard__watcher__limits_follow_the_exchange_logs(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    a = word(ADDR[3])
    logs = [log(EXCHANGE, 2, [EX["TradeGuardSet"], a], (50).to_bytes(32, "big") + (7).to_bytes(32, "big"), 0),
            log(EXCHANGE, 2, [EX["CloseOnlySet"], a], (1).to_bytes(32, "big"), 1),
            log(EXCHANGE, 2, [EX["LeverageCapSet"], a], (30_000).to_bytes(32, "big"), 2),
            log(EXCHANGE, 2, [EX["PositionCapSet"], a, word(1)], (5 * ETH).to_bytes(32, "big"), 3),
            log(EXCHANGE, 2, [EX["PositionCapSet"], a, word(2)], (ETH).to_bytes(32, "big"), 4)]
    chain = FakeChain(logs, head=3)
    w = watcher(k, chain, [])
    await w.poll()
    assert k.core.account(ADDR[3]).guard == AccountGuard(50, 7, True, 30_000, ((1, 5 * ETH), (2, ETH)))
    # lifted again: no guard left
    chain.logs += [log(EXCHANGE, 4, [EX["TradeGuardSet"], a], bytes(64), 0),
                   log(EXCHANGE, 4, [EX["CloseOnlySet"], a], bytes(32), 1),
                   log(EXCHANGE, 4, [EX["LeverageCapSet"], a], bytes(32), 2),
                   log(EXCHANGE, 4, [EX["PositionCapSet"], a, word(1)], bytes(32), 3),
                   log(EXCHANGE, 4, [EX["PositionCapSet"], a, word(2)], bytes(32), 4)]
    chain.head = 5
    await w.poll()
    await k.stop()
    assert k.core.account(ADDR[3]).guard is None


async def test_guard__restart__limits_rebuilt_from_logs_before_the_cursor(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    logs = [log(EXCHANGE, 2, [EX["TradeGuardSet"], word(ADDR[3])], (50).to_bytes(32, "big") + bytes(32))]
    w = watcher(k, FakeChain(logs, head=10), [], cursor=8)  # the journal's cursor is past the log
    await w.load_agents()
    await k.stop()
    assert k.core.account(ADDR[3]).guard == AccountGuard(max_mark_distance_bps=50)
