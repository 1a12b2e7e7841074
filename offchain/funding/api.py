"""Funding routes of the keeper API (docs/api.md, "Funding"):

GET /funding/{market}                 current rate, predicted next rate, next funding time
GET /funding/{market}/history         journaled rates, oldest first (?limit=)
GET /accounts/{address}/funding       the account's funding: settled payments (FundingSettled
                                      logs), paid, received, net and unsettled per market
WebSocket: {"op": "subscribe", "channel": "funding", "market": 1} -> {"channel": "funding",
"type": "rate", "market", "interval", "rate", ...} on every confirmed rate.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from offchain.keeper.params import UrlInt, bounded  # path and query integers: the wire's rule

Limit = bounded(1, 10_000)  # ?limit= of /funding/{market}/history


# GET /accounts/{address}/funding reads the account's FundingSettled logs and every
# FillSettled log since the start block (the fill path logs no FundingSettled) and decodes
# them on the keeper's loop: costly, unauthenticated, for any address. At most this many run
# at once; more answer 503 "funding busy" rather than queue RPC scans behind order acks.
MAX_SUMMARIES = 2


def router_for(service, max_summaries: int = MAX_SUMMARIES) -> APIRouter:
    router = APIRouter()
    running = [0]  # summaries in flight

    def funding():
        f = getattr(service, "funding", None)
        if f is None:
            raise HTTPException(404, "funding off")
        return f

    @router.get("/funding/{market}")
    async def current(market: UrlInt) -> dict:
        try:
            return funding().current(market)
        except KeyError:
            raise HTTPException(404, "unknown market") from None

    @router.get("/funding/{market}/history")
    async def history(market: UrlInt, limit: Limit = 100) -> dict:
        f = funding()
        if market not in f.params:
            raise HTTPException(404, "unknown market")
        return {"market": str(market), "rates": f.history(market, limit)}

    @router.get("/accounts/{address}/funding")
    async def payments(address: str) -> dict:
        from eth_utils import is_address, to_checksum_address

        if not is_address(address):
            raise HTTPException(400, "not an address")
        account = to_checksum_address(address)
        f = funding()
        if running[0] >= max_summaries:
            raise HTTPException(503, "funding busy")
        running[0] += 1
        try:
            return await f.summary(account)
        finally:
            running[0] -= 1

    return router
