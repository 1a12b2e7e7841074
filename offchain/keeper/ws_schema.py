"""The WebSocket messages the keeper sends on the `l2`, `trades` and `user` channels and in
answer to `challenge` / `auth`, as pydantic models: the one source of their JSON Schemas.

`schemas()` gives one draft-07 JSON Schema per channel (plus `control` for the op replies);
the files in docs/schemas/ws/ are these, checked in (tests/offchain/keeper/test_ws_channels.py
fails when they drift), and GET /ws/schemas/{name}.json serves them. Draft-07 rather than
2020-12 so every common validator (fastjsonschema, ajv, jsonschema) reads them: no
`prefixItems`, a price level is a two-element array.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .core import ORDER_EVENTS

Dec = Annotated[str, Field(pattern=r"^(0|[1-9][0-9]*)$", description="a uint256 as a decimal string")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]
Hash = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$")]
Level = Annotated[list[Dec], Field(min_length=2, max_length=2, description="[price, size]; size 0: level gone")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class L2Snapshot(_Strict):
    """The top `depth` levels of a market when subscribing (and after a resubscribe)."""
    channel: Literal["l2"]
    type: Literal["snapshot"]
    market: Dec
    seq: int = Field(ge=1, description="the market's L2 sequence number; the next delta has seq + 1")
    depth: int
    bids: list[Level] = Field(description="best first")
    asks: list[Level]


class L2Delta(_Strict):
    """Changed levels since the message with seq - 1; a level whose size is 0 left the top
    `depth` (emptied, or pushed below it). A seq that is not the previous + 1: resubscribe."""
    channel: Literal["l2"]
    type: Literal["delta"]
    market: Dec
    seq: int = Field(ge=2)
    bids: list[Level]
    asks: list[Level]


class Trade(_Strict):
    """A public trade (no accounts): the maker's price; `taker_side` is the aggressor's."""
    channel: Literal["trades"]
    type: Literal["trade"]
    market: Dec
    id: int = Field(description="the fill id (GET /fills/{id} shows its settlement state)")
    price: Dec
    size: Dec
    taker_side: Literal["buy", "sell"]
    ts: int = Field(description="unix ms (keeper clock)")


class TradeUndone(_Strict):
    """The chain skipped this trade's fill at settlement: it did not happen."""
    channel: Literal["trades"]
    type: Literal["trade_undone"]
    market: Dec
    id: int
    reason: str


class Intent(_Strict):
    kind: str
    tif: str
    trigger_price: Dec
    trail_bps: Dec
    trail_amount: Dec
    slippage_bps: Dec
    slippage_ref: str
    stp: str
    post_only: str
    client_id: str


class OrderView(_Strict):
    """GET /orders/{hash}'s body."""
    hash: Hash
    account: Address
    market: Dec
    is_buy: bool
    price: Dec
    size: Dec
    nonce: Dec
    expiry: Dec
    flags: Dec
    tif: str
    open: Dec
    filled: Dec
    status: Literal["new", "open", "filled", "done", "cancelled", "expired", "rejected", "waiting for trigger"]
    signer: Address
    intent: Intent | None = None
    replaced_by: Hash | None = None
    client_id: str | None = Field(None, description="the signed intent's, or a plain order's unsigned one")


class OrderEvent(_Strict):
    event: Literal[ORDER_EVENTS]  # type: ignore[valid-type]
    reason: str | None = Field(None, description="cancelled / rejected / fill_undone: why")
    size: Dec | None = Field(None, description="filled / cancelled / expired / undone size")
    price: Dec | None = Field(None, description="fills: the trade price")


class UserOrder(_Strict):
    """One order's events of one committed change, with its state after them."""
    channel: Literal["user"]
    type: Literal["order"]
    account: Address
    events: list[OrderEvent] = Field(min_length=1)
    order: OrderView


class FillView(_Strict):
    id: int
    market: Dec
    price: Dec
    size: Dec
    maker_hash: Hash
    taker_hash: Hash
    maker: Address
    taker: Address
    taker_is_buy: bool
    state: Literal["matched", "submitted", "settled", "rejected"]
    batch_id: int | None
    reason: str
    tx_hash: str
    ts: int


class UserFill(_Strict):
    """A fill of the account: `fill` when matched, `fill_state` when its settlement state
    changes (submitted, settled, or rejected with the chain's reason)."""
    channel: Literal["user"]
    type: Literal["fill", "fill_state"]
    account: Address
    fill: FillView


class Challenge(_Strict):
    op: Literal["challenge"]
    id: int | str | None = None
    challenge: Hash = Field(description="sign WsAuth(address account,bytes32 challenge) over it")


class Authed(_Strict):
    op: Literal["authed"]
    id: int | str | None = None
    account: Address


class Subscribed(_Strict):
    op: Literal["subscribed"]
    id: int | str | None = None
    channel: str


class Error(_Strict):
    op: Literal["error"]
    id: int | str | None = None
    detail: str
    status: int


CHANNELS: dict[str, tuple[type[BaseModel], ...]] = {
    "l2": (L2Snapshot, L2Delta),
    "trades": (Trade, TradeUndone),
    "user": (UserOrder, UserFill),
    "control": (Challenge, Authed, Subscribed, Error),
}


def schemas() -> dict[str, dict]:
    """name -> draft-07 JSON Schema of every message of that channel."""
    out = {}
    for name, models in CHANNELS.items():
        union = TypeAdapter(Union[models])  # type: ignore[valid-type]
        schema = union.json_schema(ref_template="#/definitions/{model}")
        schema["definitions"] = schema.pop("$defs", {})
        out[name] = {"$schema": "http://json-schema.org/draft-07/schema#", "$id": f"mmx-ws-{name}",
                     "title": f"MMX keeper WebSocket: {name}", **schema}
    return out
