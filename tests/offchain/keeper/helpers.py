"""Offline keeper pieces for unit tests: a real Engine, Core, journal and Gateway, no chain."""

from __future__ import annotations

import asyncio
import time

from offchain.keeper.admission import AdmissionContext, MarketInfo
from offchain.keeper.core import Core, market_config
from offchain.keeper.gateway import Gateway, GroupCommitter, Hub, RecoveryThread
from offchain.keeper.journal import Journal
from offchain.keeper.ratelimit import RateLimiter
from offchain.matching import Engine
from offchain.order import Domain, Order, address_of, sign_order

EXCHANGE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = Domain(31337, EXCHANGE)
MARKET = MarketInfo(market=1, tick=10_000, lot=10**15, initial_margin_bps=1000, maintenance_margin_bps=500,
                    band_bps=500, min_size=10**15)
PRICE = 2_000 * 10**6
KEYS = ["0x" + f"{i:064x}" for i in range(1, 9)]
ADDR = [address_of(k) for k in KEYS]


class OfflineKeeper:
    """What the API needs from the service, without a chain."""

    def __init__(self, db_url: str, rate: float = 1e9, burst: float = 1e9, collateral: int = 10**13,
                 recovery: bool = False) -> None:
        self.journal = Journal(db_url)
        self.core = Core(Engine([market_config(MARKET)]), {1: MARKET})
        self.core.marks[1] = PRICE
        for a in ADDR:
            state = self.core.account(a)
            state.collateral = collateral
            state.loaded = True
        self.committer = GroupCommitter(self.journal)
        self.gateway = Gateway(self.core, AdmissionContext(DOMAIN, self.core.markets, self.core.marks, oracle=self.core.oracle),
                               self.committer, Hub(), RateLimiter(rate, burst),
                               recovery=RecoveryThread() if recovery else None)
        self.fills: list = []
        self.gateway.fill_sinks.append(self.fills.extend)

        self.stopped = False

    def start(self) -> None:
        self.committer.start()

    async def stop(self) -> None:
        await self.committer.stop()
        if self.gateway.recovery is not None:
            self.gateway.recovery.close()
        self.journal.close()
        self.stopped = True

    def info(self) -> dict:
        return {"chain_id": DOMAIN.chain_id, "exchange": EXCHANGE, "markets": {"1": {}}}

    def account_view(self, address: str) -> dict:
        state = self.core.accounts.get(address)
        return {"account": address, "known": state is not None,
                "collateral": str(state.collateral if state else 0)}


def order_of(k, h: bytes):
    """An order's state: the live SignedOrder, or, once it finished and left the sequencer's
    live state (docs/keeper.md "Live state"), its journaled final state with the fields
    tests read (status, filled, open, replaced_by, hash, hex, order.account)."""
    import types

    signed = k.core.orders.get(h)
    if signed is not None:
        return signed
    row, state, _ = k.journal.order("0x" + h.hex())
    return types.SimpleNamespace(hash=h, hex=row.hash, status=state.status, filled=state.filled, open=0,
                                 replaced_by=state.replaced_by or None,
                                 order=types.SimpleNamespace(account=row.account, market=row.market))


def order(i: int, is_buy: bool, price: int = PRICE, size: int = 10**17, nonce: int = 1, **kw) -> Order:
    return Order(ADDR[i], kw.pop("market", 1), is_buy, price, size, nonce,
                 kw.pop("expiry", int(time.time()) + 3600), kw.pop("flags", 0))


def signed(i: int, o: Order, key: str | None = None, tif: str = "GTC"):
    return (o, sign_order(o, DOMAIN, key or KEYS[i]), tif)


def run(coro):
    return asyncio.run(coro)


async def place_again(k: OfflineKeeper, item) -> list[dict]:
    """Place one more signed item on a keeper whose committer a test already stopped (to
    read or replay its journal): a fresh committer on the same journal, stopped after."""
    k.committer = k.gateway.committer = type(k.committer)(k.journal)
    k.start()
    out = await k.gateway.place_batch([item])
    await k.committer.stop()
    return out


def ws_auth(ws, i: int, key: str | None = None, account: str | None = None) -> dict:
    """Authenticate a test WebSocket (Starlette TestClient) as ADDR[i] (or `account`):
    challenge, then the EIP-712 WsAuth signature by `key` (default KEYS[i]); the reply."""
    from offchain.order import sign_hash
    from offchain.wire import ws_auth_digest

    ws.send_json({"op": "challenge", "id": "c"})
    challenge = ws.receive_json()
    who = account or ADDR[i]
    digest = ws_auth_digest(who, bytes.fromhex(challenge["challenge"][2:]), DOMAIN)
    ws.send_json({"op": "auth", "id": "a", "account": who, "signature": sign_hash(digest, key or KEYS[i]).to_hex()})
    return ws.receive_json()
