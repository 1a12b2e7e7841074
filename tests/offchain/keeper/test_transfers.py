"""The keeper's sub-account side (offchain/keeper/transfers.py): SubaccountOpened links the
sub-account's signers to its owner's, transfers and collateral moves refresh both accounts
at once and then reach the runners, the start-up rebuild agrees with live processing, and
the relay's pre-check refuses with the Exchange's reasons."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from offchain.keeper.admission import Rejection
from offchain.keeper.transfers import TransferRelay, touched
from offchain.subaccounts import PositionTransfer, sign_transfer, subaccount_address

from .helpers import ADDR, DOMAIN, EXCHANGE, KEYS, PRICE, signed
from .test_watcher import EX, FakeChain, log, watcher, word

OWNER, AGENT, OTHER = ADDR[0], ADDR[1], ADDR[2]
SUB = subaccount_address(OWNER, 1)


def _open_logs(block=3):
    return [log(EXCHANGE, block, [EX["SubaccountOpened"], word(OWNER), word(SUB)], (1).to_bytes(32, "big"), 0),
            log(EXCHANGE, block, [EX["AgentSet"], word(SUB), word(OWNER)], (1).to_bytes(32, "big"), 1),
            log(EXCHANGE, block, [EX["AgentSet"], word(OWNER), word(AGENT)], (1).to_bytes(32, "big"), 2)]


@pytest.mark.anyio
async def test_opened__sub_account_signers_are_owner_and_owners_agents(offline_keeper):
    k = offline_keeper()
    w = watcher(k, FakeChain(_open_logs(), head=5), [])
    await w.poll()
    sub = k.core.account(SUB)
    sub.collateral, sub.loaded = 10**13, True
    # an order of the sub-account signed by the owner's agent is admitted, a stranger's is not
    results = await k.gateway.place_batch([signed(0, _sub_order(1), KEYS[1]), signed(0, _sub_order(2), KEYS[3])])
    assert w.subaccounts.owners == {SUB: OWNER} and w.subaccounts.view(OWNER) == [{"index": 1, "account": SUB}]
    assert {OWNER, AGENT} <= k.core.account(SUB).agents
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["reason"] == "not an agent"


def _sub_order(nonce=1):
    from offchain.order import Order

    return Order(SUB, 1, True, PRICE - 10_000, 10**17, nonce, int(time.time()) + 3600, 0)


@pytest.mark.anyio
async def test_opened__owner_revokes_agent__sub_account_loses_it(offline_keeper):
    k = offline_keeper()
    revoke = log(EXCHANGE, 7, [EX["AgentSet"], word(OWNER), word(AGENT)], (0).to_bytes(32, "big"))
    w = watcher(k, FakeChain(_open_logs() + [revoke], head=9), [])
    await w.poll()
    assert AGENT not in k.core.account(SUB).agents and OWNER in k.core.account(SUB).agents


@pytest.mark.anyio
async def test_load_agents__start_up_rebuild_links_sub_accounts(offline_keeper):
    k = offline_keeper()
    w = watcher(k, FakeChain(_open_logs(), head=5), [], cursor=5)  # the journal is past the logs
    await w.load_agents()
    assert w.subaccounts.owners == {SUB: OWNER}
    assert k.core.account(SUB).agents is k.core.account(OWNER).agents
    assert AGENT in k.core.account(SUB).agents


class SnapshotChain(FakeChain):
    """FakeChain whose snapshots come from a table (what the chain holds now)."""

    def __init__(self, logs, head, snaps):
        super().__init__(logs, head)
        self.snaps = snaps
        self.snapshot_calls = []

    async def account_snapshots(self, accounts, markets, block="latest", by_market=False):
        self.snapshot_calls.append(sorted(accounts))
        snaps = {a: self.snaps.get(a, (0, {}, 0, 0)) for a in accounts}
        return {a: (c, p, n, {} if by_market else f) for a, (c, p, n, f) in snaps.items()}


@pytest.mark.anyio
async def test_transferred__both_accounts_refreshed_at_once_then_runners_told(offline_keeper):
    k = offline_keeper()
    data = (10**17).to_bytes(32, "big") + PRICE.to_bytes(32, "big") + bytes(32)
    moved = log(EXCHANGE, 8, [EX["PositionTransferred"], word(OWNER), word(OTHER), word(1)], data, 0)
    chain = SnapshotChain(_open_logs() + [moved], 9, {OWNER: (5, {1: (0, 0)}, 0, 0), OTHER: (7, {1: (10**17, PRICE // 10)}, 0, 0)})
    seen: list = []
    w = watcher(k, chain, seen)
    w.refresh_interval = 3600  # the debounced refresh would not run in this poll
    await w.poll()
    assert sorted([OWNER, OTHER]) in chain.snapshot_calls  # not left to the debounced refresh
    assert k.core.account(OTHER).positions[1] == [10**17, PRICE // 10] and k.core.account(OTHER).collateral == 7
    assert touched(seen[-1]) == (OWNER, OTHER)


def _relay(k):
    service = SimpleNamespace(core=k.core, gateway=k.gateway,
                              chain=SimpleNamespace(exchange=SimpleNamespace(address=EXCHANGE)))
    return TransferRelay(service)


@pytest.mark.parametrize("change, reason", [
    ({"expiry": 1}, "expired"),
    ({"size": 10**15 + 1}, "bad lot"),
    ({"price": PRICE + 1}, "bad price"),
    ({"price": PRICE * 106 // 100}, "band"),
    ({"market": 9}, "unknown market"),
    ({"to_account": OWNER}, "same account"),
])
@pytest.mark.anyio
async def test_relay_check__bad_transfer__refused_with_exchange_reason(offline_keeper, change, reason):
    k = offline_keeper()
    fields = dict(from_account=OWNER, to_account=OTHER, market=1, size=10**17, price=PRICE, nonce=1,
                  expiry=int(time.time()) + 60) | change
    t = PositionTransfer(**fields)
    with pytest.raises(Rejection) as err:
        _relay(k).check(t, sign_transfer(t, DOMAIN, KEYS[0]), sign_transfer(t, DOMAIN, KEYS[2]), int(time.time()))
    assert err.value.reason == reason


@pytest.mark.anyio
async def test_relay_check__signatures(offline_keeper):
    k = offline_keeper()
    t = PositionTransfer(OWNER, OTHER, 1, 10**17, PRICE, 1, int(time.time()) + 60)
    relay, now = _relay(k), int(time.time())
    mine, theirs, foreign = (sign_transfer(t, DOMAIN, KEYS[i]) for i in (0, 2, 3))
    with pytest.raises(Rejection, match="missing signature"):
        relay.check(t, mine, None, now)
    with pytest.raises(Rejection, match="bad signature"):
        relay.check(t, mine, foreign, now)
    k.core.account(OTHER).agents.add(ADDR[3])  # an approved agent of the target signs for it
    assert relay.check(t, mine, foreign, now) == relay.check(t, mine, theirs, now)


@pytest.mark.anyio
async def test_owner_revokes_agent__sub_account_orders_it_signed_leave_book(offline_keeper):
    k = offline_keeper()
    revoke = log(EXCHANGE, 7, [EX["AgentSet"], word(OWNER), word(AGENT)], (0).to_bytes(32, "big"))
    chain = FakeChain(_open_logs(), head=5)
    w = watcher(k, chain, [])
    await w.poll()
    sub = k.core.account(SUB)
    sub.collateral, sub.loaded = 10**13, True
    by_agent, by_owner = _sub_order(1), _sub_order(2)
    results = await k.gateway.place_batch([signed(0, by_agent, KEYS[1]), signed(0, by_owner, KEYS[0])])
    chain.logs.append(revoke)
    chain.head = 9
    await w.poll()
    open_orders = {h for h, o in k.core.orders.items() if o.open}
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    hashes = [bytes.fromhex(r["hash"][2:]) for r in results]
    assert hashes[0] not in open_orders and hashes[1] in open_orders


@pytest.mark.anyio
async def test_liquidation_runner__transfer_log__rescans_at_once():
    from offchain.keeper.runners.liquidation import LiquidationRunner

    runner, kicks = LiquidationRunner(), []
    runner.kick = lambda full=False: kicks.append(full)
    data = (10**17).to_bytes(32, "big") + PRICE.to_bytes(32, "big") + bytes(32)
    await runner.on_chain_log(log(EXCHANGE, 8, [EX["PositionTransferred"], word(OWNER), word(OTHER), word(1)], data))
    await runner.on_chain_log(log(EXCHANGE, 8, [EX["CollateralMoved"], word(OWNER), word(SUB)], (5).to_bytes(32, "big")))
    await runner.on_chain_log(log(EXCHANGE, 8, [EX["Deposit"], word(OWNER), word(OWNER)], (5).to_bytes(32, "big")))
    assert kicks == [False, False]
