"""An in-memory Venue for runner unit tests: a book of our placed orders, no keeper, no chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from offchain.keeper.keys import Key
from offchain.keeper.runners.configs import PoolGridParams
from offchain.keeper.runners.plan import VaultSnapshot
from offchain.order import ONE_FILL, REDUCE_ONLY, Domain, address_of, order_hash
from offchain.strategies import AccountState, LiveOrder, MarketState

DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
AGENT_KEY = "0x" + "11" * 32
OTHER_KEY = "0x" + "22" * 32
AGENT = address_of(AGENT_KEY)
OTHER = address_of(OTHER_KEY)
POOL = "0x" + "aa" * 20
VAULT = "0x" + "bb" * 20
TICK, LOT = 10_000, 10**15
MARK = 2_000 * 10**6
ETH = 10**18


@dataclass
class FakeChain:
    grids: dict[int, PoolGridParams] = field(default_factory=dict)
    vault_states: dict[str, VaultSnapshot] = field(default_factory=dict)

    async def grid_markets(self):
        return sorted(self.grids)

    async def pool_grid(self, market):
        return self.grids[market]

    async def vaults(self):
        return list(self.vault_states)

    async def read_vault(self, address):
        return self.vault_states[address]


class FakeVenue:
    def __init__(self, keys=(AGENT_KEY,), agents=None) -> None:
        self.domain = DOMAIN
        self.chain = FakeChain()
        self.keys = {address_of(k).lower(): Key(address_of(k), k) for k in keys}
        self.agents = agents if agents is not None else {}
        self.now = 1_000_000
        self.marks: dict[int, MarketState] = {1: self.market(MARK)}
        self.live: dict[str, list] = {}  # account -> [(hash, Order, tif)]
        self.pos: dict[tuple[str, int], int] = {}
        self.equity: dict[str, int] = {}
        self.placed: list = []  # every (Order, Signature, tif) ever placed
        self.cancelled: list[bytes] = []
        self.transacted: list = []
        self.watched: list[str] = []
        # (market, bids) -> (account, open size, price) of that side's first order (book_head);
        # empty: no book seen, every taker goes ordinary
        self.heads: dict[tuple[int, bool], tuple[str, int, int]] = {}
        self.refuse_one_fill = False  # the keeper's book moved: refuse single-fill orders

    @staticmethod
    def market(mark, halted=False, mark_ts=None, market=1):
        return MarketState(market, None, None, mark, 1_000_000 if mark_ts is None else mark_ts, halted, TICK, LOT, LOT)

    # Venue protocol
    def agent_key(self, address):
        return self.keys.get(address.lower())

    def held_agents(self):
        return [k.address for k in self.keys.values()]

    def approved_agents(self, account):
        return self.agents.get(account, set())

    def now_ms(self):
        return self.now

    def first_nonce(self):
        return 1

    def markets(self):
        return sorted(self.marks)

    def book_head(self, market, bids):
        return self.heads.get((market, bids))

    async def market_state(self, market, account=None):
        return self.marks.get(market)

    def account_state(self, account, market):
        live = tuple(LiveOrder(h, o.market, o.is_buy, o.price, o.size, bool(o.flags & REDUCE_ONLY))
                     for h, o, tif in self.live.get(account, []) if o.market == market and tif == "GTC")
        return AccountState(self.pos.get((account, market), 0), self.equity.get(account, 10**12), live)

    def positions(self, account):
        return {m: p for (a, m), p in self.pos.items() if a == account and p}

    async def place(self, items):
        out = []
        for order, sig, tif in items:
            h = order_hash(order, DOMAIN)
            self.placed.append((order, sig, tif))
            if order.flags & ONE_FILL and self.refuse_one_fill:
                out.append({"status": "rejected", "reason": "one fill"})
                continue
            if tif == "GTC":
                self.live.setdefault(order.account, []).append((h, order, tif))
            out.append({"status": "accepted", "hash": "0x" + h.hex()})
        return out

    async def cancel(self, signer, market, hashes):
        self.cancelled += hashes
        gone = set(hashes)
        self.live[signer.account] = [x for x in self.live.get(signer.account, []) if x[0] not in gone]

    def watch(self, address):
        self.watched.append(address)

    async def transact(self, contract, fn, *args):
        self.transacted.append((contract.address, fn, args))

    # helpers
    def resting(self, account):
        return [o for _, o, _ in self.live.get(account, [])]


class FakeKeeper:
    class config:
        class contracts:
            pool = POOL
            factory = "0x" + "cc" * 20


@dataclass
class FakeFill:
    market: int
    maker_account: str
    maker_is_buy: bool
    price: int
    size: int
    taker_account: str = "0x" + "dd" * 20
    ts: int = 0
    id: int | None = None
