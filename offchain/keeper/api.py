"""HTTP + WebSocket API (FastAPI). OpenAPI at /openapi.json, docs at /docs.

Every request body is parsed by `offchain.wire` (the codec the client SDK shares) as a
whole into typed values before the gateway sequences anything; what does not parse is a
422 `{"detail": "<field> must be ..."}` and changes nothing. Any other exception in a
handler is answered (500 "internal error" / a WS error) and changes nothing either.
docs/api.md lists every route, channel, limit and close code.

Limits, cheapest first (`ApiLimits`, defaults in docs/api.md):
- body / WS message size (`max_body_bytes`): 413, or WS close 1009;
- a per-client-IP token bucket charged 1 per HTTP request or WS message plus 1 per order
  in it, before any parse or signature check: 429 "rate limited (client)";
- per WS connection: a message-rate bucket (close 1008 "message rate"), at most
  `ws_max_inflight` place/cancel ops in flight (the reader waits: backpressure), and an
  outgoing queue of `ws_max_queue` (close 1008 "send queue full" for a client that does
  not read its acks; stream events beyond it are dropped, as before);
- the per-account bucket in the gateway, charged only for valid signatures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from offchain.order import InvalidSignature, recover_hash_signer
from offchain.wire import (MAX_MESSAGE_BYTES, Cancel, CancelByClientId, ScheduleCancel, WireError, as_address,
                           as_hash, as_int, as_signature, decode_json, encode_json, parse_amend, ws_auth_digest)

from . import stages
from .admission import Reason, Rejection
from .gateway import Gateway, halt_event
from .params import UrlInt, bounded  # path and query integers: the wire's rule
from .ratelimit import RateLimiter

log = logging.getLogger("mmx.keeper.api")

# -- the documented request shapes (OpenAPI only: offchain.wire parses, with the same rules) --
UInt = Annotated[int, Field(ge=0, lt=2**256)] | Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,77})$")]


class OrderModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="0x address of the trading account")
    market: UInt
    is_buy: bool = Field(description="JSON true/false only")
    price: UInt = Field(description="USDC units (1e-6) per whole base unit")
    size: UInt = Field(description="base units (1e-18)")
    nonce: UInt
    expiry: UInt = Field(description="unix seconds")
    flags: UInt = 0


class IntentModel(BaseModel):
    """The signed OrderIntent (offchain/intent.py; docs/api.md "Signed intent")."""
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: Literal["limit", "market", "stop_market", "stop_limit", "take_profit", "take_profit_limit",
                  "trailing_stop"] = "limit"
    tif: Literal["GTC", "GTD", "IOC", "FOK"] = "GTC"
    trigger_price: UInt = Field(0, description="stop / take-profit kinds: the mark that fires it")
    trail_bps: UInt = Field(0, description="trailing_stop: distance in bps (or trail_amount)")
    trail_amount: UInt = Field(0, description="trailing_stop: distance in price units (or trail_bps)")
    slippage_bps: UInt = Field(0, description="market-executing kinds: worst = ref +- bps")
    slippage_ref: Literal["best", "mark"] = "best"
    stp: Literal["default", "expire_taker", "expire_maker", "expire_both", "decrement"] = "default"
    post_only: Literal["none", "reject", "slide"] = "none"
    client_id: str = Field("", pattern=r"^[\x21-\x7e]{0,64}$")


class PlaceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    order: OrderModel
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{128}1[bcBC]$",
                           description="65-byte hex r|s|v, v 27/28, by the account or its agent")
    tif: Literal["GTC", "IOC", "FOK"] = Field("GTC", description="absent when an intent is sent")
    client_id: None = Field(None, description="refused (422): a client id is signed, as intent.client_id")
    intent: IntentModel | None = Field(None, description="the signed OrderIntent (with intent_signature)")
    intent_signature: str | None = Field(None, pattern=r"^0x[0-9a-fA-F]{128}1[bcBC]$",
                                         description="EIP-712 OrderIntent signature by the order's signer")


class AmendModel(PlaceModel):
    """A place request for the replacement plus the old order's hash and the Amend binding."""
    replaces: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$", description="hash of the live order to replace")
    amend_signature: str = Field(pattern=r"^0x[0-9a-fA-F]{128}1[bcBC]$",
                                 description="EIP-712 Amend(bytes32 replaces,bytes32 order) by the account or its agent")


class CancelByClientIdModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    client_ids: list[Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,64}$")]] = Field(min_length=1, max_length=1000)
    timestamp: UInt = Field(description="unix milliseconds, above the account's previous one")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{128}1[bcBC]$")


class PlaceBatchModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    orders: list[PlaceModel] = Field(description="at most api.max_batch")


class CancelModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    market: UInt = 0
    hashes: list[Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]] = Field(
        default_factory=list, max_length=1000, description="empty: cancel all in market (0 = all)")
    timestamp: UInt = Field(description="unix milliseconds")
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{128}1[bcBC]$")


class PlaceResult(BaseModel):
    status: Literal["accepted", "rejected"]
    hash: str | None = None
    reason: str | None = None
    seq: int | None = None
    fills: int | None = None
    open: str | None = None
    order_status: str | None = None
    client_id: str | None = Field(None, description="the order's client id, when it has one")


class AmendResult(BaseModel):
    status: Literal["accepted"]
    hash: str
    replaces: str
    priority: Literal["kept", "lost"]
    seq: int
    fills: int
    open: str
    order_status: str
    client_id: str | None = None


class CancelByClientIdResult(BaseModel):
    status: str
    cancelled: list[str]
    unknown: list[str]


class PlaceBatchResult(BaseModel):
    results: list[PlaceResult]


class CancelResult(BaseModel):
    status: str
    cancelled: list[str]


REQUEST_MODELS = (PlaceModel, PlaceBatchModel, CancelModel, AmendModel, CancelByClientIdModel)


@dataclass(frozen=True, slots=True)
class ApiLimits:
    """Per-client and per-connection limits (docs/api.md, "Limits")."""

    max_body_bytes: int = MAX_MESSAGE_BYTES
    client_rate: float = 20_000.0   # per client IP: requests + WS messages + orders, per second
    client_burst: float = 40_000.0
    ws_rate: float = 2_000.0        # messages per second per WS connection
    ws_burst: float = 4_000.0
    ws_max_inflight: int = 16       # place/cancel ops of one connection in flight
    ws_max_queue: int = 10_000      # outgoing messages queued for one connection
    ws_stall_s: float = 10.0        # a full queue the peer took nothing from for this long: shed
    ws_close_wait_s: float = 5.0    # how long a close frame may wait for a peer that does not read
    ws_max_connections: int = 1_000  # open WebSockets per client IP
    ws_max_accounts: int = 256      # accounts one connection may authenticate as

    @classmethod
    def of(cls, api_config: Any) -> "ApiLimits":
        names = cls.__dataclass_fields__
        return cls(**{n: getattr(api_config, n) for n in names if hasattr(api_config, n)})


class ServiceView(Protocol):
    """What the API reads from the running service (offchain.keeper.service.Keeper)."""

    gateway: Gateway

    def info(self) -> dict: ...
    def account_view(self, address: str) -> dict: ...


def fill_row_json(row) -> dict:
    """A journaled fill as the API shows it (core.FillRecord.to_json's shape)."""
    return {
        "id": row.id, "market": str(row.market), "price": str(row.price), "size": str(row.size),
        "maker_hash": row.maker_hash, "taker_hash": row.taker_hash, "maker": row.maker_account,
        "taker": row.taker_account, "taker_is_buy": not row.maker_is_buy, "state": row.state,
        "batch_id": row.batch_id, "reason": row.reason, "tx_hash": row.tx_hash, "ts": row.ts,
    }


def archived_order_json(row, state, body: str | None) -> dict:
    """A finished order from the journal (orders row, order_states row, its place command)
    as core.SignedOrder.to_json shows it."""
    place = json.loads(body) if body else {}
    out = {
        "hash": row.hash, "account": row.account, "market": str(row.market), "is_buy": row.is_buy,
        "price": str(row.price), "size": str(row.size), "nonce": str(row.nonce), "expiry": str(row.expiry),
        "flags": str(row.flags), "tif": place.get("tif", "GTC"), "open": "0",
        "filled": str(state.filled if state is not None else 0),
        "status": state.status if state is not None else "done", "signer": row.signer,
    }
    if "intent" in place:
        out["intent"] = place["intent"]
    if state is not None and state.replaced_by:
        out["replaced_by"] = state.replaced_by
    return out


def validation_detail(exc: RequestValidationError) -> str:
    """'<param>: <rule>' for the first parameter FastAPI refused, e.g.
    'depth: Input should be greater than or equal to 1'."""
    errors = exc.errors()
    if not errors:
        return "bad request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body", "header")]
    return f"{'.'.join(loc)[:40] or 'request'}: {str(first.get('msg', 'invalid'))[:80]}"


def _address(text: str) -> str:
    from eth_utils import is_address, to_checksum_address

    if not is_address(text):
        raise HTTPException(400, "not an address")
    return to_checksum_address(text)


def _hash(text: str) -> bytes:
    """An order hash in a URL by the wire's rule (as_hash: 0x + 64 hex digits); before,
    bytes.fromhex also took it without 0x and with spaces between the bytes."""
    try:
        return as_hash(text, "hash")
    except WireError:
        raise HTTPException(400, Reason.NOT_A_HASH) from None


class BodyLimit:
    """ASGI middleware: reads an HTTP body up to `limit` bytes (413 beyond it, before any
    parse), then hands the app the buffered body; also charges the client-IP budget."""

    def __init__(self, app, limit: int, clients: RateLimiter) -> None:
        self.app = app
        self.limit = limit
        self.clients = clients

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.clients.take(client_key(scope), 1, time.monotonic()):
            return await JSONResponse({"detail": "rate limited (client)"}, 429)(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await JSONResponse({"detail": Reason.BODY_TOO_LARGE}, 413)(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await JSONResponse({"detail": Reason.BODY_TOO_LARGE}, 413)(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def client_key(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "?"


def create_app(service: ServiceView, limits: ApiLimits | None = None) -> FastAPI:
    limits = limits or ApiLimits.of(getattr(getattr(service, "config", None), "api", None))
    # /docs is served from local files (fastapi-offline's Swagger UI bundle), not a CDN
    app = FastAPI(title="MMX keeper", version="1", description="Signed orders in, settled fills out.",
                  docs_url=None, redoc_url=None)
    _offline_docs(app)
    clients = RateLimiter(limits.client_rate, limits.client_burst)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes, clients=clients)
    app.state.clients = clients
    contracts = getattr(getattr(service, "config", None), "contracts", None)
    if contracts is not None and getattr(contracts, "exchange", ""):
        # GET /analytics/pool, /analytics/vault/{address}, /analytics/{account} (docs/runners.md):
        # read from chain logs over the keeper's RPC URL; sync handlers, run in the thread
        # pool, so they never block the keeper's loop. Offline services (no chain) go without.
        from .analytics_api import router_for_keeper

        app.include_router(router_for_keeper(service))
        from offchain.web import mount as mount_web_app  # the wallet app at /app/ (docs/web.md)

        mount_web_app(app, service)

    from .risk_api import router_for_keeper as risk_router  # liquidations, ADL ranks (docs/liquidation.md)

    app.include_router(risk_router(service))

    from offchain.funding.api import router_for as funding_router  # docs/funding.md

    app.include_router(funding_router(service))

    from .transfers import router_for_keeper as transfers_router  # docs/subaccounts.md

    app.include_router(transfers_router(service))

    @app.exception_handler(Rejection)
    async def _rejection(_request, exc: Rejection):
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    @app.exception_handler(WireError)
    async def _wire(_request, exc: WireError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _params(_request, exc: RequestValidationError):
        # a path or query parameter FastAPI refused: the same {"detail": str} as every other
        # error (FastAPI's own answer is a list of objects that echo the input back)
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal(_request, exc: Exception):
        log.exception("handler failed")
        return JSONResponse({"detail": Reason.INTERNAL}, status_code=500)

    app.include_router(orders_router(service.gateway, clients))
    app.include_router(views_router(service))
    app.include_router(ws_router(service.gateway, limits, clients))
    _document_bodies(app)
    return app


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files the fastapi-offline wheel ships (works offline)."""
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from pathlib import Path

    app.mount("/docs-static", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="MMX keeper API",
                                   swagger_js_url="/docs-static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-static/swagger-ui.css",
                                   swagger_favicon_url="/docs-static/favicon.png")


# the error answers every route can give, beyond its 200 (docs/api.md "Errors"); each is
# {"detail": reason} (a string)
ERRORS = {
    "400": "refused: `detail` is the reason (bad signature, margin, band, order closed, ...)",
    "401": "WebSocket auth only",
    "404": "unknown order / market / fill",
    "409": "duplicate order or duplicate client id",
    "413": "body too large, or a batch over api.max_batch",
    "422": "the body does not follow the wire rules: `detail` names the field",
    "429": "rate limited (the account's bucket) or rate limited (client) (the client IP's)",
    "500": "internal error (a bug; nothing changed)",
}
POST_ERRORS = ("400", "409", "413", "422", "429", "500")
GET_ERRORS = ("400", "404", "429", "500")


def _error_responses(schema: dict) -> None:
    """Every operation lists the error codes it can answer, with the shared error body."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {"type": "object", "required": ["detail"], "additionalProperties": False,
                           "properties": {"detail": {"type": "string"}}}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            codes = POST_ERRORS if method == "post" else GET_ERRORS
            if path.startswith("/orders/amend") or method == "get":
                codes = tuple(sorted(set(codes) | {"404"}))
            responses = op.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, {"description": ERRORS[code], "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}})


def _body(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def _document_bodies(app: FastAPI) -> None:
    """The handlers read raw JSON (one parser: offchain.wire); the schema documents it."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            _, defs = models_json_schema([(m, "validation") for m in REQUEST_MODELS],
                                         ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            _error_responses(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi


async def _json(request: Request) -> Any:
    return decode_json(await request.body())


def orders_router(gw: Gateway, clients: RateLimiter) -> APIRouter:
    router = APIRouter(tags=["orders"])

    @router.post("/orders", response_model=PlaceResult, response_model_exclude_none=True,
                 openapi_extra=_body(PlaceModel))
    async def place(request: Request) -> dict:
        result = await gw.place(await _json(request))
        if result["status"] == "rejected":
            raise HTTPException(409 if result["reason"] in (Reason.DUPLICATE, Reason.DUPLICATE_CLIENT_ID) else 400,
                                result["reason"])
        return result

    @router.post("/orders/batch", response_model=PlaceBatchResult, response_model_exclude_none=True,
                 openapi_extra=_body(PlaceBatchModel))
    async def place_batch(request: Request) -> dict:
        """Per-order results in request order; a rejected order does not sink the batch,
        an item that does not parse refuses the whole request (422)."""
        body = await _json(request)
        if not isinstance(body, dict) or body.keys() != {"orders"}:
            raise WireError("body must be {\"orders\": [...]}")
        orders = body["orders"]
        if isinstance(orders, list) and not clients.take(client_key(request.scope), len(orders),
                                                         time.monotonic()):
            raise Rejection(Reason.RATE_LIMITED_CLIENT, 429)
        return {"results": await gw.place_batch(orders)}

    @router.post("/orders/cancel", response_model=CancelResult, openapi_extra=_body(CancelModel))
    async def cancel(request: Request) -> dict:
        """Signed cancel of some orders (hashes) or all (hashes empty); see docs/api.md."""
        message, signature = Cancel.from_json(await _json(request))
        return await gw.cancel(message, signature)

    @router.post("/orders/amend", response_model=AmendResult, response_model_exclude_none=True,
                 openapi_extra=_body(AmendModel),
                 responses={400: {"description": "refused (reason in detail)"},
                            404: {"description": "unknown order"},
                            409: {"description": "duplicate order / duplicate client id"}})
    async def amend(request: Request) -> dict:
        """Replace a live order by a new signed order, atomically; see docs/api.md "Amend"."""
        result = await gw.amend(parse_amend(await _json(request)))
        if result["status"] == "rejected":
            raise HTTPException(400, result["reason"])
        return result

    @router.post("/orders/cancel-by-client-id", response_model=CancelByClientIdResult,
                 openapi_extra=_body(CancelByClientIdModel))
    async def cancel_by_client_id(request: Request) -> dict:
        """Signed cancel of the account's orders named by client id; see docs/api.md."""
        message, signature = CancelByClientId.from_json(await _json(request))
        return await gw.cancel_by_client_id(message, signature)

    @router.post("/orders/schedule-cancel")
    async def schedule_cancel(request: Request) -> dict:
        """Signed dead-man's switch: cancel all the account's orders at `deadline` (unix ms; 0
        clears it) unless refreshed; see docs/api.md "Schedule-cancel"."""
        message, signature = ScheduleCancel.from_json(await _json(request))
        return await gw.schedule_cancel(message, signature)

    return router


Depth = bounded(1, 500)  # ?depth= of /book
Limit = bounded(1, 10_000)  # ?limit= of fill lists


def views_router(service: ServiceView) -> APIRouter:
    router = APIRouter(tags=["views"])
    gw = service.gateway
    core = gw.core

    @router.get("/health")
    async def health() -> dict:
        return {"status": "ok", "seq": core.seq}

    @router.get("/info")
    async def info() -> dict:
        return service.info()

    journal = gw.committer.journal

    async def order_json(h: bytes) -> dict:
        """A live order from the sequencer, a finished one from the journal (docs/keeper.md
        "Live state"): the same JSON either way."""
        signed = core.orders.get(h)
        if signed is not None:
            return signed.to_json()
        found = await asyncio.to_thread(journal.order, "0x" + h.hex())
        if found is None:
            raise HTTPException(404, "unknown order")
        return archived_order_json(*found)

    @router.get("/orders/{order_hash}")
    async def get_order(order_hash: str) -> dict:
        return await order_json(_hash(order_hash))

    @router.get("/book/{market}")
    async def book(market: UrlInt, depth: Depth = 20) -> dict:
        if market not in core.markets:
            raise HTTPException(404, "unknown market")
        return gw.depth(market, depth)

    @router.get("/accounts/{address}")
    async def account(address: str) -> dict:
        return service.account_view(_address(address))

    @router.get("/accounts/{address}/orders")
    async def open_orders(address: str) -> dict:
        orders = sorted(core.open_orders(_address(address)), key=lambda s: s.seq)
        return {"orders": [o.to_json() for o in orders]}

    @router.get("/accounts/{address}/orders/by-client-id/{client_id}")
    async def order_by_client_id(address: str, client_id: str) -> dict:
        h = core.client_ids.get((_address(address), client_id))
        if h is None:
            raise HTTPException(404, "unknown order")
        return await order_json(h)

    @router.get("/accounts/{address}/fills")
    async def account_fills(address: str, limit: Limit = 100) -> dict:
        rows = await asyncio.to_thread(journal.account_fills, _address(address), limit)
        return {"fills": [fill_row_json(row) for row in rows]}

    @router.get("/fills/{fill_id}")
    async def fill(fill_id: UrlInt) -> dict:
        if not 0 < fill_id < 2**63:  # fill ids are 1, 2, ...: a database integer (64 bits)
            raise HTTPException(404, "unknown fill")
        record = core.fills.get(fill_id)
        if record is not None:
            return record.to_json()
        row = await asyncio.to_thread(journal.fill, fill_id)
        if row is None:
            raise HTTPException(404, "unknown fill")
        return fill_row_json(row)

    @router.get("/ws/schemas/{name}.json")
    async def ws_schema(name: str) -> dict:
        """The JSON Schema of a WebSocket channel's messages (l2, trades, user, control)."""
        from .ws_schema import schemas

        found = schemas().get(name)
        if found is None:
            raise HTTPException(404, "unknown schema")
        return found

    @router.get("/stats")
    async def stats() -> dict:
        committer = getattr(gw.committer, "stats", None)  # group-commit timings (gateway.GroupCommitter)
        recovery = getattr(gw.recovery, "stats", None)  # recovery thread timings (gateway.RecoveryThread)
        return (dict(gw.stats) | (committer() if committer else {}) | (recovery() if recovery else {})
                | getattr(service, "settlement_stats", lambda: {})())

    @router.get("/stats/stages")
    async def stage_times() -> dict:
        """Per-message stage timestamps of WebSocket places and GC pauses (MMX_STAGE_TIMES=1;
        offchain/keeper/stages.py); 404 when stage timing is off."""
        if not stages.enabled:
            raise HTTPException(404, "stage timing is off (MMX_STAGE_TIMES=1)")
        return stages.dump()

    return router


# WebSocket close codes (RFC 6455): 1008 policy violation (rate, queue), 1009 too big
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason


def ws_router(gw: Gateway, limits: ApiLimits, clients: RateLimiter) -> APIRouter:
    router = APIRouter()
    core = gw.core
    connections: dict[str, int] = {}  # open WebSockets per client IP

    @router.websocket("/ws")
    async def ws(socket: WebSocket) -> None:
        """At most `ws_max_connections` open per client IP: each holds a handler, a queue
        and a sender task, so their number is bounded like everything else a client makes
        the keeper keep. Over it, the handshake is refused (HTTP 403) before any state."""
        ip = client_key(socket.scope)
        if connections.get(ip, 0) >= limits.ws_max_connections:
            await _close(socket, CLOSE_POLICY, Reason.TOO_MANY_CONNECTIONS)
            return
        connections[ip] = connections.get(ip, 0) + 1
        try:
            await serve_ws(socket)
        finally:
            connections[ip] -= 1
            if not connections[ip]:
                del connections[ip]

    async def serve_ws(socket: WebSocket) -> None:
        """JSON messages. Client -> keeper:
        {"op": "subscribe", "channel": "book", "market": 1}
        {"op": "challenge"} -> {"op": "challenge", "challenge"}; {"op": "auth", "account", "signature"}
        {"op": "subscribe", "channel": "user" | "orders" | "fills", "account": "0x.."}  (authed accounts only)
        {"op": "subscribe", "channel": "l2" | "trades", "market": 1}
        {"op": "place", "id": any, "orders": [PlaceModel, ...]}   -> {"op": "ack", "id", "results"}
        {"op": "cancel", "id": any, ...CancelModel}               -> {"op": "ack", "id", "result"}
        Keeper -> client: {"channel", ...event} and {"op": "error", "id", "detail", "status"}.
        Messages are handled in arrival order; at most `ws_max_inflight` place/cancel ops
        run at once (the reader waits for a slot: backpressure, not an unbounded task list)."""
        await socket.accept()
        queue = Outgoing(limits.ws_stall_s)
        # this connection's auth state, its sender's lock (one writer at a time) and the
        # stage records of acks not yet written (stage timing only)
        conn = {"challenge": None, "authed": set(), "stamps": {}, "writing": asyncio.Lock(), "socket": socket}
        sender = asyncio.create_task(_pump(socket, queue, conn["stamps"], conn["writing"]))
        bucket = RateLimiter(limits.ws_rate, limits.ws_burst, max_keys=1)
        slots = asyncio.Semaphore(limits.ws_max_inflight)
        ip = client_key(socket.scope)
        inflight: set[asyncio.Task] = set()  # the loop keeps tasks only weakly: hold them

        def shed(code: int = CLOSE_POLICY, reason: str = "send queue full") -> asyncio.Task | None:
            """Free what the connection holds at once (subscriptions, queued messages, the
            sender), then send the close frame, waiting at most ws_close_wait_s: a peer that
            does not read never lets it out (its TCP window stays shut), and must not keep
            the queue, its subscriptions or this handler alive meanwhile."""
            if queue.shed:
                return None
            queue.shed = True
            # deferred: the hub may be calling us from inside its publish loop
            asyncio.get_running_loop().call_soon(gw.hub.unsubscribe_all, queue)
            sender.cancel()
            queue.drop()
            task = asyncio.create_task(_close_within(socket, code, reason, limits.ws_close_wait_s))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            return task

        queue.on_stall = shed
        try:
            while True:
                message = await socket.receive()
                received = time.perf_counter() if stages.enabled else 0.0
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: UTF-8 JSON bytes, read as strictly as an
                    text = message.get("bytes") or b""  # HTTP body (never "repaired")
                now = time.monotonic()
                if not bucket.take("c", 1, now):
                    raise _Closed(CLOSE_POLICY, "message rate")
                if len(text) > limits.max_body_bytes:
                    raise _Closed(CLOSE_TOO_BIG, "message too big")
                if queue.shed or queue.qsize() >= limits.ws_max_queue:
                    raise _Closed(CLOSE_POLICY, "send queue full")
                try:
                    msg = decode_json(text)
                    if not isinstance(msg, dict):
                        raise WireError("message must be an object")
                    n = len(msg["orders"]) if isinstance(msg.get("orders"), list) else 0
                    if not clients.take(ip, 1 + n, now):
                        raise Rejection(Reason.RATE_LIMITED_CLIENT, 429)
                except WireError as exc:
                    queue.put_nowait({"op": "error", "detail": f"bad message: {exc}", "status": 422})
                    continue
                except Rejection as exc:
                    queue.put_nowait({"op": "error", "id": _id(msg), "detail": exc.reason, "status": exc.status})
                    continue
                if msg.get("op") in ("place", "cancel", "amend", "cancel_by_client_id"):
                    await slots.acquire()
                    if received and msg.get("op") == "place":  # stage timing (offchain/keeper/stages.py)
                        token = stages.current.set({"id": _id(msg), "received": received})
                        task = asyncio.create_task(_handle(msg, queue, conn))
                        stages.current.reset(token)
                    else:
                        task = asyncio.create_task(_handle(msg, queue, conn))
                    inflight.add(task)
                    task.add_done_callback(lambda t: (inflight.discard(t), slots.release()))
                else:
                    await _handle(msg, queue, conn)
        except _Closed as closed:
            closing = shed(closed.code, closed.reason)
            if closing is not None:
                await closing
        except Exception:  # noqa: BLE001 - the socket broke; in-flight ops still finish
            pass
        finally:
            gw.hub.unsubscribe_all(queue)
            sender.cancel()

    async def _handle(msg: dict, queue: asyncio.Queue, conn: dict) -> None:
        op, mid = msg.get("op"), _id(msg)
        stages.mark("handler")
        try:
            if op == "challenge":
                conn["challenge"] = secrets.token_bytes(32)
                queue.put_nowait({"op": "challenge", "id": mid, "challenge": "0x" + conn["challenge"].hex()})
            elif op == "auth":
                if msg.keys() - {"op", "id", "account", "signature"}:
                    raise WireError("auth: unknown field")
                account = as_address(msg.get("account"), "account")
                signature = as_signature(msg.get("signature"))
                challenge, conn["challenge"] = conn["challenge"], None  # one try per challenge
                if challenge is None:
                    raise Rejection(Reason.NO_CHALLENGE, 401)
                try:
                    signer = recover_hash_signer(ws_auth_digest(account, challenge, gw.ctx.domain), signature)
                except InvalidSignature:
                    signer = None
                state = core.accounts.get(account)
                if signer != account and (state is None or signer not in state.agents):
                    raise Rejection(Reason.BAD_SIGNATURE, 401)
                if account not in conn["authed"] and len(conn["authed"]) >= limits.ws_max_accounts:
                    # each authed account can hold private subscriptions: bounded per connection
                    raise Rejection(Reason.TOO_MANY_ACCOUNTS)
                conn["authed"].add(account)
                queue.put_nowait({"op": "authed", "id": mid, "account": account})
            elif op == "subscribe":
                channel = msg.get("channel")
                if channel in ("l2", "trades"):
                    market = _market(msg, core.markets)
                    queue.put_nowait({"op": "subscribed", "id": mid, "channel": channel})
                    if channel == "l2":
                        queue.put_nowait(gw.l2_subscribe(market, queue))
                    else:
                        gw.hub.subscribe(("trades", market), queue)
                    return
                if channel == "user":
                    account = msg.get("account", "")
                    if not isinstance(account, str):
                        raise Rejection(Reason.NOT_AN_ADDRESS)
                    account = _address(account)
                    if account not in conn["authed"]:
                        raise Rejection(Reason.NOT_AUTHENTICATED, 401)
                    gw.hub.subscribe(("user", account), queue)
                elif channel == "book":
                    market = _market(msg, core.markets)
                    gw.hub.subscribe(("book", market), queue)
                    queue.put_nowait({"channel": "book", "type": "book", **gw.depth(market, 20)})
                    if core.is_halted(market):  # so a subscriber learns of a halt already running
                        queue.put_nowait({"channel": "book",
                                          **halt_event(market, True, core.oracle.halted[market])})
                elif channel == "funding":  # confirmed funding rates (offchain/funding/api.py)
                    gw.hub.subscribe(("funding", _market(msg, core.markets)), queue)
                elif channel in ("orders", "fills"):
                    # an account's own orders and fills: private like `user`, so the same
                    # auth (the account or its agent signed this connection's challenge);
                    # the public stream of every trade is `trades` (no accounts in it)
                    account = msg.get("account", "")
                    if not isinstance(account, str):
                        raise Rejection(Reason.NOT_AN_ADDRESS)
                    if account == "*":
                        raise Rejection(Reason.NOT_AUTHENTICATED, 401)
                    account = _address(account)
                    if account not in conn["authed"]:
                        raise Rejection(Reason.NOT_AUTHENTICATED, 401)
                    gw.hub.subscribe((channel, account), queue)
                else:
                    raise Rejection(Reason.UNKNOWN_CHANNEL)
                queue.put_nowait({"op": "subscribed", "id": mid, "channel": channel})
            elif op == "place":
                if msg.keys() - {"op", "id", "orders"}:
                    raise WireError("place: unknown field")
                results = await gw.place_batch(msg.get("orders"))
                ack = {"op": "ack", "id": mid, "results": results}
                if (rec := stages.current.get()) is not None:  # the sender stamps `sent`
                    rec["acked"] = time.perf_counter()
                    conn["stamps"][id(ack)] = rec
                await _send_or_queue(conn["socket"], queue, conn, ack)
            elif op == "cancel":
                message, signature = Cancel.from_json({k: v for k, v in msg.items() if k not in ("op", "id")})
                result = await gw.cancel(message, signature)
                queue.put_nowait({"op": "ack", "id": mid, "result": result})
            elif op == "cancel_by_client_id":
                cid_message, signature = CancelByClientId.from_json(
                    {k: v for k, v in msg.items() if k not in ("op", "id")})
                result = await gw.cancel_by_client_id(cid_message, signature)
                queue.put_nowait({"op": "ack", "id": mid, "result": result})
            elif op == "amend":
                result = await gw.amend(parse_amend({k: v for k, v in msg.items() if k not in ("op", "id")}))
                if result["status"] == "rejected":
                    raise Rejection(result["reason"])
                queue.put_nowait({"op": "ack", "id": mid, "result": result})
            else:
                raise Rejection(Reason.UNKNOWN_OP)
        except HTTPException as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": exc.detail, "status": exc.status_code})
        except Rejection as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": exc.reason, "status": exc.status})
        except WireError as exc:
            queue.put_nowait({"op": "error", "id": mid, "detail": str(exc), "status": 422})
        except Exception:  # noqa: BLE001 - every message gets an answer
            log.exception("ws handler failed")
            queue.put_nowait({"op": "error", "id": mid, "detail": Reason.INTERNAL, "status": 500})

    return router


def _market(msg: dict, markets: Any) -> int:
    """The `market` of a subscribe message: a market the keeper lists, as a JSON integer
    or a decimal string; anything else is `unknown market` (a client never makes a key)."""
    try:
        market = as_int(msg.get("market", 0), "market")  # the wire's integer rule: no "01", "+1"
    except WireError:
        raise Rejection(Reason.UNKNOWN_MARKET) from None
    if market not in markets:
        raise Rejection(Reason.UNKNOWN_MARKET)
    return market


def _id(msg: Any) -> Any:
    """The client's message id, echoed back if it is a short string or a JSON integer."""
    mid = msg.get("id") if isinstance(msg, dict) else None
    if mid is None or (type(mid) is int and abs(mid) < 2**63) or (isinstance(mid, str) and len(mid) <= 64):
        return mid
    return None


class Outgoing(asyncio.Queue):
    """A WebSocket connection's outgoing messages. The hub calls `overflow()` when a stream
    message finds it full: the message is dropped (a lagging reader sees the gap, e.g. the
    l2 seq, and resubscribes), and once the peer has taken nothing for `stall_s` while full
    the connection is shed (`on_stall`): a peer that stopped reading holds no queue."""

    def __init__(self, stall_s: float) -> None:
        super().__init__()
        self.stall_s = stall_s
        self.full_since: float | None = None  # reset by the sender whenever it writes
        self.shed = False
        self.on_stall: Callable[[], Any] | None = None

    def overflow(self) -> None:
        now = time.monotonic()
        if self.full_since is None:
            self.full_since = now
        elif now - self.full_since >= self.stall_s and self.on_stall is not None:
            self.on_stall()

    def drop(self) -> None:
        """Forget every queued message (the connection is closing)."""
        while not self.empty():
            self.get_nowait()


async def _close_within(socket: WebSocket, code: int, reason: str, wait_s: float) -> None:
    try:
        await asyncio.wait_for(_close(socket, code, reason), wait_s)
    except asyncio.TimeoutError:
        pass  # the peer does not read: uvicorn drops the transport once the handler returns


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    try:
        await socket.close(code=code, reason=reason)
    except Exception:  # noqa: BLE001 - already gone
        pass


async def _send(socket: WebSocket, item: dict, stamps: dict) -> None:
    await socket.send_text(encode_json(item))
    if stamps and (rec := stamps.pop(id(item), None)) is not None:
        rec["sent"] = time.perf_counter()
        stages.finish(rec)


async def _send_or_queue(socket: WebSocket, queue: asyncio.Queue, conn: dict, message: dict) -> None:
    """Write `message` now when nothing is queued before it and no write is in progress,
    else queue it for the sender task. Writing it here saves the ack the sender task's
    wake-up, a loop iteration (milliseconds under load: docs/performance.md "Session 5");
    the order of the connection's messages is kept either way (only an empty queue is
    overtaken, under the same lock the sender writes with). A client that stops reading
    holds at most this one write; what follows is queued, up to ws_max_queue."""
    lock: asyncio.Lock = conn["writing"]
    if queue.shed:  # closing (Outgoing): nothing more is written
        return
    if not queue.empty() or lock.locked():
        queue.put_nowait(message)
        return
    async with lock:
        try:
            await _send(socket, message, conn["stamps"])
        except Exception:  # noqa: BLE001 - the socket closed: as the sender task would
            pass


async def _pump(socket: WebSocket, queue: asyncio.Queue, stamps: dict, lock: asyncio.Lock | None = None) -> None:
    """Send the connection's queued messages, under `lock` (shared with _send_or_queue);
    `stamps` holds the stage records of acks (by the ack's id(), only while stage timing
    is on) to stamp once written."""
    lock = lock or asyncio.Lock()
    try:
        while True:
            message = await queue.get()
            batch = [message]
            while not queue.empty() and len(batch) < 256:
                batch.append(queue.get_nowait())
            async with lock:
                for item in batch:
                    await _send(socket, item, stamps)
            queue.full_since = None  # the peer took what it was sent: not stalled (Outgoing)
    except Exception:  # noqa: BLE001 - the socket closed
        return
