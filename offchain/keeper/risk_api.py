"""HTTP routes of the risk engine's keeper side (docs/liquidation.md, docs/api.md):

GET /risk                          the liquidation runner's summary, the open bad debt, the
                                   insurance fund (balance, inflows, bad debt covered; chain)
GET /risk/liquidations             steps the runner journaled (?account=, ?limit=)
GET /risk/adl                      every account's ADL rank per market
GET /accounts/{address}/risk       the account's health (keeper view at the keeper's marks)
                                   and its ADL rank

All views read the keeper's memory, the runner's journal or (bad debt) the chain; none
changes state. Without
a liquidation runner in the keeper they answer 503 "liquidation runner off".
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException

from offchain.risk.liquidation import health

from .params import bounded  # path and query integers: the wire's rule

Limit = bounded(1, 10_000)  # ?limit= of /risk/liquidations


def _runner(service):
    runner = getattr(service, "liquidation", None)
    if runner is None:
        raise HTTPException(503, "liquidation runner off")
    return runner


def router_for_keeper(service) -> APIRouter:
    router = APIRouter()

    def _address(text: str) -> str:
        from eth_utils import is_address, to_checksum_address

        if not is_address(text):
            raise HTTPException(400, "not an address")
        return to_checksum_address(text)

    @router.get("/risk")
    async def risk() -> dict:
        runner = _runner(service)
        core = service.core
        # bad debt still open: negative collateral on accounts without a position, read from
        # the chain now (one JSON-RPC batch over the accounts the keeper knows), not from the
        # keeper's snapshot, which lags settlement and liquidation by a refresh
        accounts = sorted(a for a in core.accounts if a != "?")
        snaps = await service.chain.account_snapshots(accounts, sorted(core.markets)) if accounts else {}
        open_debt = sum(-coll for coll, positions, _, _ in snaps.values()
                        if coll < 0 and not any(size for size, _ in positions.values()))
        ex = service.chain.exchange
        fund, inflows, covered = await asyncio.gather(
            service.chain.call(ex, "insurance_fund"), service.chain.call(ex, "insurance_inflows"),
            service.chain.call(ex, "bad_debt_covered"))
        return {"liquidation": runner.summary(), "bad_debt_open": str(open_debt),
                "insurance_fund": str(fund), "insurance_inflows": str(inflows), "bad_debt_covered": str(covered),
                "marks": {str(m): str(p) for m, p in core.marks.items()}}

    @router.get("/risk/liquidations")
    async def liquidations(account: str | None = None, limit: Limit = 500) -> dict:
        runner = _runner(service)
        return {"liquidations": runner.liquidations(_address(account) if account else None, limit)}

    @router.get("/risk/adl")
    async def adl() -> dict:
        return {"ranks": _runner(service).adl_ranks()}

    @router.get("/accounts/{address}/risk")
    async def account_risk(address: str) -> dict:
        runner = _runner(service)
        address = _address(address)
        acc = next((a for a in runner.keeper_view() if a.account == address), None)
        if acc is None:
            return {"account": address, "open": False, "adl": {}}
        h = health(acc, service.core.marks, runner.markets)
        return {"account": address, "open": h.open, "equity": str(h.equity), "maintenance": str(h.maintenance),
                "initial": str(h.initial), "notional": str(h.notional), "liquidatable": h.liquidatable,
                "backstop_due": h.backstop_due(runner.params.backstop_bps),
                "adl": runner.adl_ranks().get(address, {})}

    return router
