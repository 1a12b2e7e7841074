"""Funding routes of the keeper API (docs/api.md, "Funding"):

GET /funding/{market}                 current rate, predicted next rate, next funding time
GET /funding/{market}/history         journaled rates, oldest first (?limit=)
GET /accounts/{address}/funding       the account's funding: settled payments (FundingSettled
                                      logs), paid, received, net and unsettled per market
WebSocket: {"op": "subscribe", "channel": "funding", "market": 1} -> {"channel": "funding",
"type": "rate", "market", "interval", "rate", ...} on every confirmed rate.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query


def router_for(service) -> APIRouter:
    router = APIRouter()

    def funding():
        f = getattr(service, "funding", None)
        if f is None:
            raise HTTPException(404, "funding off")
        return f

    @router.get("/funding/{market}")
    async def current(market: int) -> dict:
        try:
            return funding().current(market)
        except KeyError:
            raise HTTPException(404, "unknown market") from None

    @router.get("/funding/{market}/history")
    async def history(market: int, limit: int = Query(100, ge=1, le=10_000)) -> dict:
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
        return await funding().summary(account)

    return router
