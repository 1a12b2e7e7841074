"""Client SDK for traders and bots: sign and place, cancel, batch, stream fills; sync and async.

    from offchain.client import Trader, KeeperClient, AsyncKeeperClient

    with KeeperClient("http://127.0.0.1:8080", private_key) as kc:      # sync
        order = kc.order(market=1, is_buy=True, price=2_000_000_000, size=10**17)
        ack = kc.place(order)                  # signs with the key, POST /orders
        kc.cancel([ack["hash"]]); kc.cancel_all()
        for event in kc.stream_fills(): ...    # WebSocket, blocking iterator

    async with AsyncKeeperClient(url, private_key) as kc:                # async
        await kc.place_batch([kc.order(...), ...])
        async for event in kc.stream(fills=True, orders=True): ...

The key can be an agent's: pass `account=` the trading account and the agent's key.
The EIP-712 domain (chain id, Exchange address) is read once from GET /info.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, AsyncIterator, Iterable, Iterator

import httpx

from offchain.intent import Intent, sign_intent
from offchain.nonces import OrderNonces
from offchain.order import ONE_FILL, Domain, Order, Signature, address_of, order_hash, sign_hash, sign_order
from offchain.wire import CancelByClientId, ScheduleCancel, amend_digest, amend_request, ws_auth_digest

from .messages import Cancel, hash_hex, place_request


class KeeperError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Trader:
    """Signs orders and cancels for `account` with `private_key` (the account's or an agent's)."""

    def __init__(self, private_key: str, account: str | None = None) -> None:
        self.private_key = private_key
        self.signer = address_of(private_key)
        self.account = account or self.signer
        # sequential from the clock; single-fill orders from their own 256-nonce words
        # (offchain/nonces.py: one fresh bitmap word per 256 of them, not per few)
        self._nonces = OrderNonces(time.time_ns())
        self.domain: Domain | None = None
        self._last_ms = 0  # timestamps of replay-protected messages strictly increase

    def _timestamp(self) -> int:
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def order(self, market: int, is_buy: bool, price: int, size: int, *, nonce: int | None = None,
              expiry: int | None = None, flags: int = 0, ttl: int = 86_400) -> Order:
        return Order(self.account, market, is_buy, price, size,
                     self._nonces.take(bool(flags & ONE_FILL)) if nonce is None else nonce,
                     int(time.time()) + ttl if expiry is None else expiry, flags)

    def sign(self, order: Order) -> Signature:
        assert self.domain is not None, "domain unknown: call info() first"
        return sign_order(order, self.domain, self.private_key)

    def _ws_auth_frame(self, account: str, challenge: dict) -> dict:
        """The `auth` message for a keeper's `challenge` reply: EIP-712 WsAuth signed by this
        client's key (the account itself or an agent it approved)."""
        if challenge.get("op") != "challenge":
            raise KeeperError(challenge.get("status", 400), challenge.get("detail"))
        assert self.domain is not None, "domain unknown: call info() first"
        digest = ws_auth_digest(account, bytes.fromhex(challenge["challenge"][2:]), self.domain)
        return {"op": "auth", "account": account, "signature": sign_hash(digest, self.private_key).to_hex()}

    def sign_intent(self, order: Order, intent: Intent) -> Signature:
        """The OrderIntent signature (offchain/intent.py) binding `intent` to `order`."""
        assert self.domain is not None, "domain unknown: call info() first"
        return sign_intent(order, intent, self.domain, self.private_key)

    def signed(self, order: Order, tif: str = "GTC", intent: Intent | None = None) -> dict:
        """A place request; with `intent` (stop, market, trailing, STP, client id, ...) both
        the order and the intent are signed, and `tif` is the intent's."""
        if intent is None:
            return place_request(order, self.sign(order), tif)
        return place_request(order, self.sign(order), intent=intent,
                             intent_signature=self.sign_intent(order, intent))

    def cancel_message(self, hashes: Iterable[str | bytes] = (), market: int = 0) -> dict:
        raw = tuple(h if isinstance(h, bytes) else bytes.fromhex(h.removeprefix("0x")) for h in hashes)
        message = Cancel(self.account, market, raw, self._timestamp())
        return message.to_json(message.sign(self.domain, self.private_key))

    def amend_message(self, replaces: str | bytes, order: Order, tif: str = "GTC",
                      intent: Intent | None = None) -> dict:
        """An amend body: `order` (signed, with its intent if any) replaces the live order
        `replaces`, bound by a signed Amend(replaces, order)."""
        raw = replaces if isinstance(replaces, bytes) else bytes.fromhex(replaces.removeprefix("0x"))
        binding = sign_hash(amend_digest(raw, order_hash(order, self.domain), self.domain), self.private_key)
        return amend_request(raw, self.signed(order, tif, intent), binding)

    def cancel_by_client_id_message(self, client_ids: Iterable[str]) -> dict:
        message = CancelByClientId(self.account, tuple(client_ids), self._timestamp())
        return message.to_json(message.sign(self.domain, self.private_key))

    def schedule_cancel_message(self, deadline_ms: int) -> dict:
        """A signed dead-man's switch: cancel all at `deadline_ms` (unix ms; 0 clears)."""
        message = ScheduleCancel(self.account, deadline_ms, self._timestamp())
        return message.to_json(message.sign(self.domain, self.private_key))

    def hash(self, order: Order) -> str:
        return hash_hex(order, self.domain)


def _domain(info: dict) -> Domain:
    return Domain(int(info["chain_id"]), info["exchange"])


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise KeeperError(response.status_code, detail)
    return response.json()


def _items(trader: Trader, orders: Iterable, tif: str) -> list[dict]:
    items = []
    for o in orders:
        if isinstance(o, Order):
            items.append(trader.signed(o, tif))
        elif isinstance(o, tuple) and len(o) == 2 and isinstance(o[1], Intent):
            items.append(trader.signed(o[0], intent=o[1]))  # (Order, Intent)
        elif isinstance(o, tuple):
            order, signature, *rest = o
            items.append(place_request(order, signature, rest[0] if rest else tif))
        else:
            items.append(o)  # an already-built request dict
    return items


class KeeperClient(Trader):
    """Synchronous client (httpx.Client; websockets' sync client for streams)."""

    def __init__(self, url: str, private_key: str, account: str | None = None, timeout: float = 30.0) -> None:
        super().__init__(private_key, account)
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self.info()

    def __enter__(self) -> "KeeperClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def info(self) -> dict:
        info = _check(self.http.get("/info"))
        self.domain = _domain(info)
        return info

    def place(self, order: Order | dict, tif: str = "GTC", intent: Intent | None = None) -> dict:
        body = self.signed(order, tif, intent) if isinstance(order, Order) else order
        return _check(self.http.post("/orders", json=body))

    def place_batch(self, orders: Iterable, tif: str = "GTC") -> list[dict]:
        return _check(self.http.post("/orders/batch", json={"orders": _items(self, orders, tif)}))["results"]

    def cancel(self, hashes: Iterable[str | bytes], market: int = 0) -> dict:
        return _check(self.http.post("/orders/cancel", json=self.cancel_message(hashes, market)))

    def cancel_all(self, market: int = 0) -> dict:
        return _check(self.http.post("/orders/cancel", json=self.cancel_message((), market)))

    def amend(self, replaces: str, order: Order, tif: str = "GTC", intent: Intent | None = None) -> dict:
        """Replace the live order `replaces` by `order` (docs/api.md "Amend"): the answer's
        `priority` is "kept" when only the size went down at the same price."""
        return _check(self.http.post("/orders/amend", json=self.amend_message(replaces, order, tif, intent)))

    def cancel_by_client_id(self, client_ids: Iterable[str]) -> dict:
        """Cancel this account's orders by their signed client ids."""
        return _check(self.http.post("/orders/cancel-by-client-id",
                                     json=self.cancel_by_client_id_message(client_ids)))

    def schedule_cancel(self, deadline_ms: int) -> dict:
        """Set (or, 0, clear) the dead-man's switch; send again before the deadline to refresh."""
        return _check(self.http.post("/orders/schedule-cancel", json=self.schedule_cancel_message(deadline_ms)))

    def book(self, market: int, depth: int = 20) -> dict:
        return _check(self.http.get(f"/book/{market}", params={"depth": depth}))

    def open_orders(self, account: str | None = None) -> list[dict]:
        return _check(self.http.get(f"/accounts/{account or self.account}/orders"))["orders"]

    def fills(self, account: str | None = None, limit: int = 100) -> list[dict]:
        return _check(self.http.get(f"/accounts/{account or self.account}/fills", params={"limit": limit}))["fills"]

    def account_state(self, account: str | None = None) -> dict:
        return _check(self.http.get(f"/accounts/{account or self.account}"))

    def order_status(self, order_hash: str) -> dict:
        return _check(self.http.get(f"/orders/{order_hash}"))

    def order_by_client_id(self, client_id: str, account: str | None = None) -> dict:
        """The account's order with this signed client id (404 KeeperError if none)."""
        return _check(self.http.get(f"/accounts/{account or self.account}/orders/by-client-id/{client_id}"))

    # -- risk engine (docs/liquidation.md) --------------------------------------------------
    def risk(self) -> dict:
        """The liquidation runner's summary and the open bad debt."""
        return _check(self.http.get("/risk"))

    def liquidations(self, account: str | None = None, limit: int = 500) -> list[dict]:
        params: dict = {"limit": limit} | ({"account": account} if account else {})
        return _check(self.http.get("/risk/liquidations", params=params))["liquidations"]

    def adl_ranks(self) -> dict:
        return _check(self.http.get("/risk/adl"))["ranks"]

    def account_risk(self, account: str | None = None) -> dict:
        """Health (equity, maintenance, liquidatable) and ADL rank per market."""
        return _check(self.http.get(f"/accounts/{account or self.account}/risk"))

    # funding (docs/funding.md): rates are fractions scaled by 1e12, positive = longs pay
    def funding(self, market: int) -> dict:
        """Current rate, predicted next rate and next funding time of a market."""
        return _check(self.http.get(f"/funding/{market}"))

    def funding_history(self, market: int, limit: int = 100) -> list[dict]:
        return _check(self.http.get(f"/funding/{market}/history", params={"limit": limit}))["rates"]

    def funding_payments(self, account: str | None = None) -> list[dict]:
        """The account's settled funding (amount > 0: paid), from the chain's events."""
        return _check(self.http.get(f"/accounts/{account or self.account}/funding"))["payments"]

    # sub-accounts and position transfers (docs/subaccounts.md; on-chain calls: client.subaccounts)
    def relay_transfer(self, transfer, from_sig: Signature | None, to_sig: Signature | None) -> dict:
        """POST /transfers: the keeper checks and sends a signed PositionTransfer."""
        from .subaccounts import relay_body

        return _check(self.http.post("/transfers", json=relay_body(transfer, from_sig, to_sig)))

    def subaccounts(self, owner: str | None = None) -> list[dict]:
        """The owner's sub-accounts the keeper saw opened: [{index, account}]."""
        return _check(self.http.get(f"/accounts/{owner or self.account}/subaccounts"))["subaccounts"]

    def funding_account(self, account: str | None = None) -> dict:
        """The account's funding: payments, paid, received, net and unsettled per market."""
        return _check(self.http.get(f"/accounts/{account or self.account}/funding"))

    def stream_fills(self, account: str | None = None, timeout: float | None = None,
                     ready: Any = None) -> Iterator[dict]:
        """Blocking iterator over fill events (new fills and settlement state changes);
        `ready` (a threading.Event) is set once the subscription is confirmed."""
        from websockets.sync.client import connect

        ws_url = "ws" + self.url[4:] + "/ws"
        who = account or self.account
        with connect(ws_url) as socket:
            if self.domain is None:
                self.info()
            socket.send(json.dumps({"op": "challenge"}))  # the fills channel is private: authenticate
            while (reply := json.loads(socket.recv(timeout=timeout))).get("op") != "challenge":
                pass
            socket.send(json.dumps(self._ws_auth_frame(who, reply)))
            while (reply := json.loads(socket.recv(timeout=timeout))).get("op") not in ("authed", "error"):
                pass
            if reply.get("op") != "authed":
                raise KeeperError(reply.get("status", 401), reply.get("detail"))
            socket.send(json.dumps({"op": "subscribe", "channel": "fills", "account": who}))
            while (reply := json.loads(socket.recv(timeout=timeout))).get("op") not in ("subscribed", "error"):
                pass
            if reply.get("op") == "error":
                raise KeeperError(reply.get("status", 400), reply.get("detail"))
            if ready is not None:
                ready.set()
            while True:
                try:
                    message = json.loads(socket.recv(timeout=timeout))
                except TimeoutError:
                    return
                if message.get("channel") == "fills" and "op" not in message:
                    yield message


class AsyncKeeperClient(Trader):
    """Asynchronous client (httpx.AsyncClient; websockets for streams and WS placing)."""

    def __init__(self, url: str, private_key: str, account: str | None = None, timeout: float = 30.0) -> None:
        super().__init__(private_key, account)
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout,
                                      limits=httpx.Limits(max_connections=64))
        self._ws = None
        self._ws_ids = itertools.count(1)
        self._ws_waiters: dict[int, Any] = {}
        self._ws_reader = None

    async def __aenter__(self) -> "AsyncKeeperClient":
        await self.info()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            if self._ws_reader is not None:
                self._ws_reader.cancel()
        await self.http.aclose()

    async def info(self) -> dict:
        info = _check(await self.http.get("/info"))
        self.domain = _domain(info)
        return info

    async def place(self, order: Order | dict, tif: str = "GTC", intent: Intent | None = None) -> dict:
        body = self.signed(order, tif, intent) if isinstance(order, Order) else order
        return _check(await self.http.post("/orders", json=body))

    async def place_batch(self, orders: Iterable, tif: str = "GTC") -> list[dict]:
        body = {"orders": _items(self, orders, tif)}
        return _check(await self.http.post("/orders/batch", json=body))["results"]

    async def place_batch_raw(self, body: bytes) -> list[dict]:
        """POST a pre-encoded /orders/batch body (benchmarks: measure the keeper, not JSON)."""
        response = await self.http.post("/orders/batch", content=body, headers={"content-type": "application/json"})
        return _check(response)["results"]

    async def cancel(self, hashes: Iterable[str | bytes], market: int = 0) -> dict:
        return _check(await self.http.post("/orders/cancel", json=self.cancel_message(hashes, market)))

    async def schedule_cancel(self, deadline_ms: int) -> dict:
        """Set (or, 0, clear) the dead-man's switch; send again before the deadline to refresh."""
        return _check(await self.http.post("/orders/schedule-cancel", json=self.schedule_cancel_message(deadline_ms)))

    async def cancel_all(self, market: int = 0) -> dict:
        return _check(await self.http.post("/orders/cancel", json=self.cancel_message((), market)))

    async def amend(self, replaces: str, order: Order, tif: str = "GTC", intent: Intent | None = None) -> dict:
        """Replace the live order `replaces` by `order` (docs/api.md "Amend")."""
        return _check(await self.http.post("/orders/amend", json=self.amend_message(replaces, order, tif, intent)))

    async def cancel_by_client_id(self, client_ids: Iterable[str]) -> dict:
        return _check(await self.http.post("/orders/cancel-by-client-id",
                                           json=self.cancel_by_client_id_message(client_ids)))

    async def book(self, market: int, depth: int = 20) -> dict:
        return _check(await self.http.get(f"/book/{market}", params={"depth": depth}))

    async def order_status(self, order_hash: str) -> dict:
        return _check(await self.http.get(f"/orders/{order_hash}"))

    async def order_by_client_id(self, client_id: str, account: str | None = None) -> dict:
        """The account's order with this signed client id (404 KeeperError if none)."""
        return _check(await self.http.get(f"/accounts/{account or self.account}/orders/by-client-id/{client_id}"))

    async def open_orders(self, account: str | None = None) -> list[dict]:
        return _check(await self.http.get(f"/accounts/{account or self.account}/orders"))["orders"]

    async def fills(self, account: str | None = None, limit: int = 100) -> list[dict]:
        r = await self.http.get(f"/accounts/{account or self.account}/fills", params={"limit": limit})
        return _check(r)["fills"]

    async def account_state(self, account: str | None = None) -> dict:
        return _check(await self.http.get(f"/accounts/{account or self.account}"))

    async def risk(self) -> dict:
        return _check(await self.http.get("/risk"))

    async def liquidations(self, account: str | None = None, limit: int = 500) -> list[dict]:
        params: dict = {"limit": limit} | ({"account": account} if account else {})
        return _check(await self.http.get("/risk/liquidations", params=params))["liquidations"]

    async def adl_ranks(self) -> dict:
        return _check(await self.http.get("/risk/adl"))["ranks"]

    async def account_risk(self, account: str | None = None) -> dict:
        return _check(await self.http.get(f"/accounts/{account or self.account}/risk"))

    async def funding(self, market: int) -> dict:
        return _check(await self.http.get(f"/funding/{market}"))

    async def funding_history(self, market: int, limit: int = 100) -> list[dict]:
        return _check(await self.http.get(f"/funding/{market}/history", params={"limit": limit}))["rates"]

    async def funding_payments(self, account: str | None = None) -> list[dict]:
        return _check(await self.http.get(f"/accounts/{account or self.account}/funding"))["payments"]

    async def relay_transfer(self, transfer, from_sig: Signature | None, to_sig: Signature | None) -> dict:
        from .subaccounts import relay_body

        return _check(await self.http.post("/transfers", json=relay_body(transfer, from_sig, to_sig)))

    async def subaccounts(self, owner: str | None = None) -> list[dict]:
        return _check(await self.http.get(f"/accounts/{owner or self.account}/subaccounts"))["subaccounts"]

    async def funding_account(self, account: str | None = None) -> dict:
        return _check(await self.http.get(f"/accounts/{account or self.account}/funding"))

    async def stream(self, *, fills: bool = True, orders: bool = False, book: int | None = None,
                     account: str | None = None, user: bool = False, l2: int | None = None,
                     trades: int | None = None, ready: Any = None) -> AsyncIterator[dict]:
        """Async iterator over stream events of the chosen channels. `user`: the account's
        authenticated channel (order events and fills; the SDK signs the keeper's challenge),
        `l2` / `trades`: a market's sequenced book deltas / public trades (docs/api.md).
        `ready` (an asyncio.Event): set once the keeper confirmed every subscription (the
        iterator must be running, e.g. `asyncio.ensure_future(it.__anext__())`)."""
        import websockets

        ws_url = "ws" + self.url[4:] + "/ws"
        async with websockets.connect(ws_url, max_size=None) as socket:
            who = account or self.account
            if user or fills or orders:  # the account's private channels: sign the challenge first
                if self.domain is None:
                    await self.info()
                await socket.send(json.dumps({"op": "challenge"}))
                while (reply := json.loads(await socket.recv())).get("op") != "challenge":
                    pass
                await socket.send(json.dumps(self._ws_auth_frame(who, reply)))
                while (reply := json.loads(await socket.recv())).get("op") not in ("authed", "error"):
                    pass
                if reply.get("op") != "authed":
                    raise KeeperError(reply.get("status", 401), reply.get("detail"))
            subscribes = []
            if user:
                subscribes.append({"op": "subscribe", "channel": "user", "account": who})
            for channel, market in (("trades", trades), ("l2", l2)):  # l2's snapshot last: all subscribed
                if market is not None:
                    subscribes.append({"op": "subscribe", "channel": channel, "market": market})
            if fills:
                subscribes.append({"op": "subscribe", "channel": "fills", "account": who})
            if orders:
                subscribes.append({"op": "subscribe", "channel": "orders", "account": who})
            if book is not None:
                subscribes.append({"op": "subscribe", "channel": "book", "market": book})
            for message in subscribes:
                await socket.send(json.dumps(message))
            # every subscription confirmed before the first event is yielded (and `ready`
            # set): a caller that acts after `ready` cannot miss an event of it
            early, confirmed = [], 0
            while confirmed < len(subscribes):
                message = json.loads(await socket.recv())
                if message.get("op") == "subscribed":
                    confirmed += 1
                elif message.get("op") == "error":
                    raise KeeperError(message.get("status", 400), message.get("detail"))
                elif "channel" in message:
                    early.append(message)
            if ready is not None:
                ready.set()
            for message in early:
                yield message
            async for text in socket:
                message = json.loads(text)
                if "channel" in message and "op" not in message:
                    yield message

    async def ws_place_batch(self, orders: Iterable, tif: str = "GTC") -> list[dict]:
        """Place over the WebSocket place channel (one persistent connection)."""
        return await self.ws_place_raw(_items(self, orders, tif))

    async def ws_place_raw(self, items: list[dict]) -> list[dict]:
        import asyncio

        import websockets

        if self._ws is None:
            self._ws = await websockets.connect("ws" + self.url[4:] + "/ws", max_size=None)
            self._ws_reader = asyncio.get_running_loop().create_task(self._read_ws())
        mid = next(self._ws_ids)
        fut = asyncio.get_running_loop().create_future()
        self._ws_waiters[mid] = fut
        await self._ws.send(json.dumps({"op": "place", "id": mid, "orders": items}))
        return await fut

    async def _read_ws(self) -> None:
        async for text in self._ws:
            message = json.loads(text)
            fut = self._ws_waiters.pop(message.get("id"), None)
            if fut is None or fut.done():
                continue
            if message.get("op") == "ack":
                fut.set_result(message["results"])
            else:
                fut.set_exception(KeeperError(message.get("status", 400), message.get("detail")))
