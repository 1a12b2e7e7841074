"""Analytics routes for the keeper's API (FastAPI APIRouter; mount with app.include_router).

    GET /analytics/pool                 the liquidity pool (NAV from its share price)
    GET /analytics/vault/{address}      a vault of the factory
    GET /analytics/{account}            any Exchange account
Query: `series` (bool, default false: include the time series rows), `bar` (pandas
offset for return stats, default "1h"). Body: offchain.analytics.report_to_dict (money in
exact integer USDC units, ratios as floats or null).

The data come from chain logs and historical eth_calls (offchain.analytics.collect) over
a synchronous web3 provider; the handlers are plain `def`, so FastAPI runs them in its
thread pool and they never block the keeper's event loop.

    from offchain.keeper.analytics_api import analytics_router, router_for_keeper
    app.include_router(router_for_keeper(keeper))            # inside the keeper
    app.include_router(analytics_router(w3, deployment))    # anywhere else
"""

from __future__ import annotations

from typing import Any

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, HTTPException, Query

from offchain.analytics.collect import Addresses, analyze_entity, vaults
from offchain.analytics.report import report_to_dict


def analytics_router(w3: Any, deployment: Any) -> APIRouter:
    addresses = Addresses.of(deployment)
    router = APIRouter(prefix="/analytics", tags=["analytics"])

    def respond(entity: str, kind: str, series: bool, bar: str) -> dict:
        try:
            report = analyze_entity(w3, addresses, entity, kind, bar=bar)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        return report_to_dict(report, include_series=series)

    def address(text: str) -> str:
        if not is_address(text):
            raise HTTPException(400, "not an address")
        return to_checksum_address(text)

    @router.get("/pool")
    def pool_analytics(series: bool = Query(False), bar: str = Query("1h")) -> dict:
        if not addresses.pool:
            raise HTTPException(404, "no pool configured")
        return respond(addresses.pool, "pool", series, bar)

    @router.get("/vault/{vault}")
    def vault_analytics(vault: str, series: bool = Query(False), bar: str = Query("1h")) -> dict:
        vault = address(vault)
        if vault not in vaults(w3, addresses):
            raise HTTPException(404, "not a vault of the factory")
        return respond(vault, "vault", series, bar)

    @router.get("/{account}")
    def account_analytics(account: str, series: bool = Query(False), bar: str = Query("1h")) -> dict:
        return respond(address(account), "account", series, bar)

    return router


def router_for_keeper(keeper: Any) -> APIRouter:
    """The router over the keeper's RPC URL and configured contracts."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(keeper.config.chain.rpc_url))
    return analytics_router(w3, keeper.config.contracts)
