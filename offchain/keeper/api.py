"""HTTP + WebSocket API (FastAPI). OpenAPI at /openapi.json, docs at /docs.

Integers are accepted as JSON numbers or decimal strings and always returned as decimal
strings (uint256 safety in JavaScript clients). Bad input is a 4xx with {"detail": reason};
the service keeps running. docs/api.md lists every route and channel.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal, Protocol

from fastapi import FastAPI, HTTPException, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from offchain.client.messages import Cancel
from offchain.order import InvalidSignature

from .admission import Rejection
from .gateway import Gateway, halt_event

UInt = int | str


class OrderModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(description="0x address of the trading account")
    market: UInt
    is_buy: bool
    price: UInt = Field(description="USDC units (1e-6) per whole base unit")
    size: UInt = Field(description="base units (1e-18)")
    nonce: UInt
    expiry: UInt = Field(description="unix seconds")
    flags: UInt = 0


class PlaceModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: OrderModel
    signature: str = Field(description="65-byte hex r|s|v, by the account or its agent")
    tif: Literal["GTC", "IOC", "FOK"] = "GTC"
    client_id: str | None = None


class PlaceBatchModel(BaseModel):
    orders: list[PlaceModel]


class CancelModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    market: UInt = 0
    hashes: list[str] = Field(default_factory=list, description="empty: cancel all in market (0 = all)")
    timestamp: UInt = Field(description="unix milliseconds")
    signature: str


class PlaceResult(BaseModel):
    status: Literal["accepted", "rejected"]
    hash: str | None = None
    reason: str | None = None
    seq: int | None = None
    fills: int | None = None
    open: str | None = None
    order_status: str | None = None


class PlaceBatchResult(BaseModel):
    results: list[PlaceResult]


class CancelResult(BaseModel):
    status: str
    cancelled: list[str]


class ServiceView(Protocol):
    """What the API reads from the running service (offchain.keeper.service.Keeper)."""

    gateway: Gateway

    def info(self) -> dict: ...
    def account_view(self, address: str) -> dict: ...


def _bad(exc: Exception) -> HTTPException:
    if isinstance(exc, Rejection):
        return HTTPException(exc.status, exc.reason)
    return HTTPException(400, str(exc) or "bad request")


def _address(text: str) -> str:
    from eth_utils import is_address, to_checksum_address

    if not is_address(text):
        raise HTTPException(400, "not an address")
    return to_checksum_address(text)


def _hash(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise HTTPException(400, "not a hash") from None
    if len(raw) != 32:
        raise HTTPException(400, "not a hash")
    return raw


def create_app(service: ServiceView) -> FastAPI:
    app = FastAPI(title="MMX keeper", version="1", description="Signed orders in, settled fills out.")
    gw = service.gateway
    core = gw.core
    contracts = getattr(getattr(service, "config", None), "contracts", None)
    if contracts is not None and getattr(contracts, "exchange", ""):
        # GET /analytics/pool, /analytics/vault/{address}, /analytics/{account} (docs/runners.md):
        # read from chain logs over the keeper's RPC URL; sync handlers, run in the thread
        # pool, so they never block the keeper's loop. Offline services (no chain) go without.
        from .analytics_api import router_for_keeper

        app.include_router(router_for_keeper(service))

    @app.exception_handler(Rejection)
    async def _rejection(_request, exc: Rejection):
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "seq": core.seq}

    @app.get("/info")
    async def info() -> dict:
        return service.info()

    @app.post("/orders", response_model=PlaceResult, response_model_exclude_none=True)
    async def place(body: PlaceModel) -> dict:
        result = await gw.place(body.model_dump())
        if result["status"] == "rejected":
            raise HTTPException(409 if result["reason"] == "duplicate order" else 400, result["reason"])
        return result

    @app.post("/orders/batch", response_model=PlaceBatchResult, response_model_exclude_none=True)
    async def place_batch(body: PlaceBatchModel) -> dict:
        """Per-order results in request order; a rejected order does not sink the batch."""
        try:
            results = await gw.place_batch([item.model_dump() for item in body.orders])
        except Rejection as exc:
            raise _bad(exc) from None
        return {"results": results}

    @app.post("/orders/cancel", response_model=CancelResult)
    async def cancel(body: CancelModel) -> dict:
        """Signed cancel of some orders (hashes) or all (hashes empty); see docs/api.md."""
        try:
            message, signature = Cancel.from_json(body.model_dump())
        except (ValueError, InvalidSignature) as exc:
            raise _bad(exc) from None
        return await gw.cancel(message, signature)

    @app.get("/orders/{order_hash}")
    async def get_order(order_hash: str) -> dict:
        signed = core.orders.get(_hash(order_hash))
        if signed is None:
            raise HTTPException(404, "unknown order")
        return signed.to_json()

    @app.get("/book/{market}")
    async def book(market: int, depth: int = Query(20, ge=1, le=500)) -> dict:
        if market not in core.markets:
            raise HTTPException(404, "unknown market")
        return gw.depth(market, depth)

    @app.get("/accounts/{address}")
    async def account(address: str) -> dict:
        return service.account_view(_address(address))

    @app.get("/accounts/{address}/orders")
    async def open_orders(address: str) -> dict:
        orders = sorted(core.open_orders(_address(address)), key=lambda s: s.seq)
        return {"orders": [o.to_json() for o in orders]}

    @app.get("/accounts/{address}/fills")
    async def account_fills(address: str, limit: int = Query(100, ge=1, le=10_000)) -> dict:
        ids = core.account_fills.get(_address(address), [])[-limit:]
        return {"fills": [core.fills[i].to_json() for i in ids]}

    @app.get("/fills/{fill_id}")
    async def fill(fill_id: int) -> dict:
        record = core.fills.get(fill_id)
        if record is None:
            raise HTTPException(404, "unknown fill")
        return record.to_json()

    @app.get("/stats")
    async def stats() -> dict:
        return dict(gw.stats) | getattr(service, "settlement_stats", lambda: {})()

    @app.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        """JSON messages. Client -> keeper:
        {"op": "subscribe", "channel": "book", "market": 1}
        {"op": "subscribe", "channel": "orders" | "fills", "account": "0x.." | "*"(fills only)}
        {"op": "place", "id": any, "orders": [PlaceModel, ...]}   -> {"op": "ack", "id", "results"}
        {"op": "cancel", "id": any, ...CancelModel}               -> {"op": "ack", "id", "result"}
        Keeper -> client: {"channel", ...event} and {"op": "error", "id", "detail"}."""
        await socket.accept()
        queue: asyncio.Queue = asyncio.Queue()
        sender = asyncio.create_task(_pump(socket, queue))
        try:
            while True:
                try:
                    text = await socket.receive_text()
                    msg = json.loads(text)
                    if not isinstance(msg, dict):
                        raise ValueError("message must be an object")
                except (ValueError, KeyError) as exc:
                    queue.put_nowait({"op": "error", "detail": f"bad message: {exc}"})
                    continue
                asyncio.create_task(_handle(msg, queue))
        except WebSocketDisconnect:
            pass
        finally:
            gw.hub.unsubscribe_all(queue)
            sender.cancel()

    async def _handle(msg: dict, queue: asyncio.Queue) -> None:
        op, mid = msg.get("op"), msg.get("id")
        try:
            if op == "subscribe":
                channel = msg.get("channel")
                if channel == "book":
                    market = int(msg.get("market", 0))
                    if market not in core.markets:
                        raise Rejection("unknown market")
                    gw.hub.subscribe(("book", market), queue)
                    queue.put_nowait({"channel": "book", "type": "book", **gw.depth(market, 20)})
                    if core.is_halted(market):  # so a subscriber learns of a halt already running
                        queue.put_nowait({"channel": "book",
                                          **halt_event(market, True, core.oracle.halted[market])})
                elif channel in ("orders", "fills"):
                    account = msg.get("account", "")
                    key = "*" if channel == "fills" and account == "*" else _address(account)
                    gw.hub.subscribe((channel, key), queue)
                else:
                    raise Rejection("unknown channel")
                queue.put_nowait({"op": "subscribed", "id": mid, "channel": channel})
            elif op == "place":
                orders = msg.get("orders")
                if not isinstance(orders, list):
                    raise Rejection("orders must be a list")
                results = await gw.place_batch(orders)
                queue.put_nowait({"op": "ack", "id": mid, "results": results})
            elif op == "cancel":
                message, signature = Cancel.from_json({k: v for k, v in msg.items() if k not in ("op", "id")})
                result = await gw.cancel(message, signature)
                queue.put_nowait({"op": "ack", "id": mid, "result": result})
            else:
                raise Rejection("unknown op")
        except HTTPException as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": exc.detail, "status": exc.status_code})
        except Rejection as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": exc.reason, "status": exc.status})
        except (ValueError, TypeError, InvalidSignature) as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": str(exc), "status": 400})

    return app


async def _pump(socket: WebSocket, queue: asyncio.Queue) -> None:
    try:
        while True:
            message = await queue.get()
            batch = [message]
            while not queue.empty() and len(batch) < 256:
                batch.append(queue.get_nowait())
            for item in batch:
                await socket.send_text(json.dumps(item, separators=(",", ":")))
    except Exception:  # noqa: BLE001 - the socket closed
        return
