"""The chain watcher against an in-memory log source: watched addresses (Watcher.watch,
vaults re-derived from VaultCreated logs), Exchange account-config logs forwarded to the
runners' hook, and agent revocation journaled as a command that replay reproduces."""

from __future__ import annotations

import json

import pytest

from offchain.artifacts import abi
from offchain.keeper.chain import event_topics
from offchain.keeper.core import Core, Outbox, market_config
from offchain.keeper.watcher import Watcher
from offchain.matching import Engine

from .helpers import ADDR, EXCHANGE, KEYS, MARKET, OfflineKeeper, order, signed

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)

EX = event_topics(abi("Exchange"))
FACTORY_T = event_topics(abi("VaultFactory"))
ORACLE = "0x" + "0a" * 20
FACTORY = "0x" + "fa" * 20
POOL = "0x" + "b0" * 20
VAULT = "0x" + "5a" * 20


def word(x: int | str) -> str:
    if isinstance(x, str):
        return "0x" + "00" * 12 + x[2:].lower()
    return "0x" + x.to_bytes(32, "big").hex()


def log(address, block, topics, data=b"", index=0):
    return {"address": address, "blockNumber": hex(block), "logIndex": hex(index), "topics": topics,
            "data": "0x" + data.hex()}


class FakeContract:
    def __init__(self, address):
        self.address = address


class FakeChain:
    def __init__(self, logs=None, head=100, time=0):
        self.logs = list(logs or [])
        self.head = head
        self.time = time
        self.topics = EX
        self.oracle_topics = event_topics(abi("Oracle"))
        self.exchange = FakeContract(EXCHANGE)
        self.oracle = FakeContract(ORACLE)
        self.queries = []

    async def block_number(self):
        return self.head

    async def head_block(self):
        return self.head, self.time

    async def account_snapshots(self, accounts, markets, block="latest", by_market=False):
        return {a: (0, {}, 0, {} if by_market else 0) for a in accounts}

    async def get_logs(self, address, lo, hi, topics=None):
        wanted = {a.lower() for a in ([address] if isinstance(address, str) else address)}
        self.queries.append((sorted(wanted), lo, hi))
        return [e for e in self.logs if e["address"].lower() in wanted and lo <= int(e["blockNumber"], 16) <= hi
                and (not topics or e["topics"][0] in (topics[0] if isinstance(topics[0], list) else topics[0:1]))]


def watcher(keeper, chain, seen, cursor=None):
    return Watcher(keeper.core, chain, keeper.committer, keeper.gateway.publish, cursor, confirmations=0,
                   extra_addresses=[POOL], factory=FACTORY, on_log=seen.append)


OTHER = "0x" + "77" * 20


def other_contract_logs(tmp_path):
    """A watcher at head 10 over a chain where OTHER (not watched yet) logs at blocks 5
    and 50: (keeper, chain, watcher, the logs its hook saw)."""
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    chain = FakeChain([log(OTHER, 5, ["0x" + "01" * 32]), log(OTHER, 50, ["0x" + "02" * 32])], head=10)
    seen: list = []
    return k, chain, watcher(k, chain, seen), seen


async def test_watcher__watch__idempotent_and_logs_reach_hook(tmp_path):
    k, chain, w, seen = other_contract_logs(tmp_path)

    await w.poll()
    assert seen == []  # not watched yet
    assert w.watch(OTHER) and not w.watch(OTHER.upper().replace("0X", "0x"))
    assert w.watching(OTHER)
    chain.head = 60
    await w.poll()
    await k.stop()
    assert [e["topics"][0] for e in seen] == ["0x" + "02" * 32]


async def test_watcher__watch_from_block__back_fills_passed_blocks(tmp_path):
    k, chain, w, seen = other_contract_logs(tmp_path)

    await w.poll()
    w.watch(OTHER, from_block=0)
    chain.head = 60
    await w.poll()
    await k.stop()
    assert [e["topics"][0] for e in seen] == ["0x" + "01" * 32, "0x" + "02" * 32]


async def test_watcher__vault_created__vault_watched_and_same_range_back_filled(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    created = log(FACTORY, 7, [FACTORY_T["VaultCreated"], word(VAULT), word(ADDR[0]), word(ADDR[1])])
    vault_log = log(VAULT, 8, ["0x" + "03" * 32])
    chain = FakeChain([created, vault_log, log(VAULT, 30, ["0x" + "04" * 32])], head=20)
    seen: list = []
    w = watcher(k, chain, seen)

    await w.poll()  # 0..20 read without the vault: its block-8 log comes from the back-fill
    chain.head = 40
    await w.poll()
    await k.stop()
    assert w.watching(VAULT)
    assert [e["topics"][0] for e in seen] == [FACTORY_T["VaultCreated"], "0x" + "03" * 32, "0x" + "04" * 32]


async def test_watcher__restart__vaults_re_derived_from_vault_created(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    created = log(FACTORY, 7, [FACTORY_T["VaultCreated"], word(VAULT), word(ADDR[0]), word(ADDR[1])])
    chain = FakeChain([created, log(VAULT, 30, ["0x" + "04" * 32])], head=40)
    seen: list = []
    w = watcher(k, chain, seen, cursor=20)  # the journal's cursor is past the VaultCreated

    await w.load_watched()
    await w.poll()
    await k.stop()
    assert w.watching(VAULT) and [e["topics"][0] for e in seen] == ["0x" + "04" * 32]


async def test_watcher__exchange_account_config_logs__forwarded_to_hook(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    logs = [log(EXCHANGE, 3, [EX["CloseOnlySet"], word(VAULT)], (1).to_bytes(32, "big"), 0),
            log(EXCHANGE, 3, [EX["LeverageCapSet"], word(VAULT)], (20_000).to_bytes(32, "big"), 1),
            log(EXCHANGE, 3, [EX["PositionCapSet"], word(VAULT), word(1)], (10**18).to_bytes(32, "big"), 2),
            log(EXCHANGE, 3, [EX["AgentSet"], word(VAULT), word(ADDR[2])], (1).to_bytes(32, "big"), 3),
            log(EXCHANGE, 3, [EX["Deposit"], word(VAULT)], (5).to_bytes(32, "big"), 4)]
    seen: list = []
    w = watcher(k, FakeChain(logs, head=5), seen)

    await w.poll()
    await k.stop()
    names = {v: n for n, v in EX.items()}
    assert [names[e["topics"][0]] for e in seen] == ["CloseOnlySet", "LeverageCapSet", "PositionCapSet", "AgentSet"]
    vault = next(a for a in k.core.accounts if a.lower() == VAULT)
    assert ADDR[2] in k.core.account(vault).agents


async def test_watcher__agent_revoked__orders_it_signed_leave_book_and_replay_agrees(tmp_path):
    url = f"sqlite:///{tmp_path}/j.db"
    k = OfflineKeeper(url)
    agent = ADDR[5]
    k.core.account(ADDR[0]).agents.add(agent)
    revoke = log(EXCHANGE, 9, [EX["AgentSet"], word(ADDR[0]), word(agent)], (0).to_bytes(32, "big"))
    chain = FakeChain([revoke], head=10)
    seen: list = []
    w = watcher(k, chain, seen, cursor=5)
    updates: list = []

    k.start()
    q = __import__("asyncio").Queue()
    k.gateway.hub.subscribe(("orders", ADDR[0]), q)
    by_agent = [signed(0, order(0, True, nonce=n, price=1_990 * 10**6 - n * 10_000), KEYS[5]) for n in (1, 2)]
    own = signed(0, order(0, True, nonce=3, price=1_980 * 10**6))
    results = await k.gateway.place_batch(by_agent + [own])
    assert [r["status"] for r in results] == ["accepted"] * 3
    while not q.empty():
        q.get_nowait()
    await w.poll()
    while not q.empty():
        updates.append(q.get_nowait())
    book = k.core.engine.depth(1, 10)
    await k.stop()
    assert agent not in k.core.account(ADDR[0]).agents
    assert book == ([(1_980 * 10**6, 10**17)], [])  # only the account's own order rests
    assert sorted(u["order"]["hash"] for u in updates if u["order"]["status"] == "cancelled") == sorted(
        r["hash"] for r in results[:2])
    assert seen and seen[0]["topics"][0] == EX["AgentSet"]
    from offchain.keeper.journal import Journal

    journal = Journal(url)
    rows = list(journal.commands())
    assert [r.kind for r in rows] == ["place", "place", "place", "agent_revoked"]
    assert json.loads(rows[-1].body) == {"account": ADDR[0], "agent": agent}
    assert journal.cursor("watcher") == 10
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    out = Outbox.new()
    for row in rows:
        core.apply(row.seq, row.ts, row.kind, json.loads(row.body), out)
    assert core.engine.depth(1, 10) == book
    journal.close()


async def test_watcher__agent_revoked_without_its_orders__nothing_journaled(tmp_path):
    url = f"sqlite:///{tmp_path}/j.db"
    k = OfflineKeeper(url)
    k.core.account(ADDR[0]).agents.add(ADDR[5])
    revoke = log(EXCHANGE, 9, [EX["AgentSet"], word(ADDR[0]), word(ADDR[5])], (0).to_bytes(32, "big"))
    w = watcher(k, FakeChain([revoke], head=10), [], cursor=5)

    k.start()
    await k.gateway.place_batch([signed(0, order(0, True))])  # signed by the account itself
    await w.poll()
    await k.stop()
    from offchain.keeper.journal import Journal

    journal = Journal(url)
    assert [r.kind for r in journal.commands()] == ["place"]
    assert k.core.engine.depth(1, 10)[0]
    journal.close()
