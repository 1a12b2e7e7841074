"""Analytics routes for the keeper's API (FastAPI APIRouter; mount with app.include_router).

    GET /analytics/pool                 the liquidity pool (NAV from its share price)
    GET /analytics/vault/{address}      a vault of the factory
    GET /analytics/{account}            any Exchange account
Query: `series` (bool, default false: include the time series rows), `bar` (pandas
offset for return stats, default "1h"). Body: offchain.analytics.report_to_dict (money in
exact integer USDC units, ratios as floats or null).

The data come from chain logs and historical eth_calls (offchain.analytics.collect); one
report takes seconds to tens of seconds of Python. Off the hot path:
- inside the keeper (`router_for_keeper`) reports are computed in ONE worker process (its
  own interpreter and GIL: a thread would hold the keeper's GIL and stall order acks), at
  a lower CPU priority (nice 10: on a busy machine the keeper and the node go first);
- the worker returns the report already encoded as JSON bytes, and those bytes are what is
  cached and served: a cache hit costs the keeper's loop no encoding;
- each (entity, kind, series, bar) is computed once at a time (single flight: concurrent
  callers share the job) and its answer is kept for `ttl` seconds (pollers hit the cache);
- at most `max_pending` distinct reports wait or run; more: 503 "analytics busy";
- a caller whose HTTP client disconnects stops waiting at once (the route watches the
  connection), and a job no one waits for any more is cancelled: dropped if queued, and if
  it is running the worker process is terminated (pebble's ProcessPool) and a fresh one
  is started for the next report, so an abandoned report holds no CPU nor memory.

    from offchain.keeper.analytics_api import analytics_router, router_for_keeper
    app.include_router(router_for_keeper(keeper))            # inside the keeper
    app.include_router(analytics_router(w3, deployment))    # anywhere else (threads)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, Awaitable, Callable

from eth_utils import is_address, to_checksum_address
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from offchain.analytics.collect import Addresses, analyze_entity, vaults
from offchain.analytics.report import report_to_dict

TTL_S = 30.0
MAX_PENDING = 8


def report(w3: Any, addresses: Addresses, entity: str, kind: str, series: bool, bar: str) -> dict:
    """One report as a JSON dict; ValueError (bad input) or LookupError (not a vault)."""
    if kind == "vault" and entity not in vaults(w3, addresses):
        raise LookupError("not a vault of the factory")
    return report_to_dict(analyze_entity(w3, addresses, entity, kind, bar=bar), include_series=series)


def encoded(body: dict) -> bytes:
    """A report as the JSON bytes the route serves (as FastAPI would encode the dict)."""
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


_worker_w3: dict[str, Any] = {}


def report_in_worker(rpc_url: str, addresses: tuple, entity: str, kind: str, series: bool, bar: str) -> dict:
    """`report` in the worker process (module level: picklable); one Web3 per process."""
    from web3 import Web3

    w3 = _worker_w3.get(rpc_url)
    if w3 is None:
        w3 = _worker_w3[rpc_url] = Web3(Web3.HTTPProvider(rpc_url))
    return encoded(report(w3, Addresses(*addresses), entity, kind, series, bar))


def _worker_start() -> None:
    """The worker's initializer: below the keeper's CPU priority (a report is not urgent)."""
    with contextlib.suppress(OSError):
        os.nice(10)


class WorkerPool:
    """One worker process that can stop a running job (pebble's ProcessPool): `submit`
    like an Executor; cancelling a running job's future terminates the worker, and the
    pool starts a new one for the next job."""

    def __init__(self) -> None:
        import multiprocessing

        from pebble import ProcessPool

        self.pool = ProcessPool(max_workers=1, initializer=_worker_start,
                                context=multiprocessing.get_context("spawn"))

    def submit(self, fn: Callable, *args: Any) -> Future:
        return self.pool.schedule(fn, args=args)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self.pool.stop()  # terminates a running job too
        if wait:
            self.pool.join()


class Reports:
    """Single-flight, TTL-cached reports computed on `executor` by `job(entity, kind, series, bar)`."""

    def __init__(self, executor: Executor, job: Callable[..., dict], *, ttl: float = TTL_S,
                 max_pending: int = MAX_PENDING, clock: Callable[[], float] = time.monotonic) -> None:
        self.executor = executor
        self.job = job
        self.ttl = ttl
        self.max_pending = max_pending
        self.clock = clock
        self.cache: dict[tuple, tuple[float, Any]] = {}
        self.flights: dict[tuple, asyncio.Future] = {}
        self.waiters: dict[tuple, int] = {}
        self.computed = 0
        self.abandoned = 0  # jobs cancelled because their last caller left

    def cached(self, entity: str, kind: str, series: bool, bar: str) -> Any:
        """The fresh cached answer, or None (no task, no await: the pollers' common case)."""
        hit = self.cache.get((entity, kind, series, bar))
        return hit[1] if hit is not None and hit[0] > self.clock() else None

    async def get(self, entity: str, kind: str, series: bool, bar: str) -> Any:
        key = (entity, kind, series, bar)
        hit = self.cache.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        flight = self.flights.get(key)
        if flight is None:
            if len(self.flights) >= self.max_pending:
                raise HTTPException(503, "analytics busy")
            flight = asyncio.wrap_future(self.executor.submit(self.job, entity, kind, series, bar))
            self.flights[key] = flight
            flight.add_done_callback(lambda f, key=key: self._landed(key, f))
        self.waiters[key] = self.waiters.get(key, 0) + 1
        try:
            return await asyncio.shield(flight)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except LookupError as exc:
            raise HTTPException(404, str(exc).strip("'\"")) from None
        finally:
            left = self.waiters.get(key, 1) - 1
            if left:
                self.waiters[key] = left
            else:
                self.waiters.pop(key, None)
                if not flight.done():
                    # no one waits: drop it if queued; if running, a WorkerPool stops it
                    # (terminates the worker), a thread pool lets it finish
                    flight.cancel()
                    self.abandoned += 1

    def _landed(self, key: tuple, flight: asyncio.Future) -> None:
        if self.flights.get(key) is flight:
            del self.flights[key]
        if not flight.cancelled() and flight.exception() is None:
            self.computed += 1
            self.cache[key] = (self.clock() + self.ttl, flight.result())
            if len(self.cache) > 1000:
                now = self.clock()
                self.cache = {k: v for k, v in self.cache.items() if v[0] > now}


def _address(text: str) -> str:
    if not is_address(text):
        raise HTTPException(400, "not an address")
    return to_checksum_address(text)


async def unless_gone(request: Request, job: Awaitable) -> Any:
    """`await job`, unless the HTTP client disconnects first: then the job is cancelled
    (Reports drops or stops a report no one waits for) and None is returned. Starlette
    does not cancel a handler whose client went away; the ASGI `receive` says so
    (`http.disconnect`) once the (empty) request body has been read."""
    task = asyncio.ensure_future(job)

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watch = asyncio.ensure_future(gone())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when this handler is cancelled (the server stops)
        watch.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return None if task.cancelled() else task.result()


CLIENT_GONE = 499  # nginx's "client closed request": nobody reads it, the logs say why


def reports_router(reports: Reports, pool: str) -> APIRouter:
    router = APIRouter(prefix="/analytics", tags=["analytics"])
    ok = {200: {"content": {"application/json": {}}, "description": "the report (docs/analytics.md)"}}

    async def serve(request: Request, entity: str, kind: str, series: bool, bar: str) -> Response:
        body = reports.cached(entity, kind, series, bar)
        if body is None:  # computed (or joined): watch the client meanwhile
            body = await unless_gone(request, reports.get(entity, kind, series, bar))
        if body is None:
            return Response(status_code=CLIENT_GONE)
        # how long this answer stays cached here: a client or proxy that honours it does not ask again
        age = max(0, int(reports.ttl))
        return Response(body if isinstance(body, bytes) else encoded(body), media_type="application/json",
                        headers={"cache-control": f"max-age={age}"})

    @router.get("/pool", response_class=Response, responses=ok)
    async def pool_analytics(request: Request, series: bool = Query(False), bar: str = Query("1h")) -> Response:
        if not pool:
            raise HTTPException(404, "no pool configured")
        return await serve(request, pool, "pool", series, bar)

    @router.get("/vault/{vault}", response_class=Response, responses=ok)
    async def vault_analytics(request: Request, vault: str, series: bool = Query(False),
                              bar: str = Query("1h")) -> Response:
        return await serve(request, _address(vault), "vault", series, bar)

    @router.get("/{account}", response_class=Response, responses=ok)
    async def account_analytics(request: Request, account: str, series: bool = Query(False),
                                bar: str = Query("1h")) -> Response:
        return await serve(request, _address(account), "account", series, bar)

    router.reports = reports  # for tests and /stats
    return router


def analytics_router(w3: Any, deployment: Any, *, ttl: float = TTL_S) -> APIRouter:
    """Reports over `w3` (any provider) computed in a worker thread."""
    addresses = Addresses.of(deployment)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics")
    reports = Reports(executor, lambda e, k, s, b: encoded(report(w3, addresses, e, k, s, b)), ttl=ttl)
    return reports_router(reports, addresses.pool)


def router_for_keeper(keeper: Any) -> APIRouter:
    """The keeper's router: reports over its RPC URL in one worker process (spawned on the
    first request, so a keeper nobody asks for analytics pays nothing)."""
    addresses = Addresses.of(keeper.config.contracts)
    executor = WorkerPool()
    url = keeper.config.chain.rpc_url
    fields = (addresses.exchange, addresses.oracle, addresses.pool, addresses.factory)
    reports = Reports(executor, functools.partial(report_in_worker, url, fields))  # picklable
    keeper.analytics_executor = executor  # the service shuts it down
    return reports_router(reports, addresses.pool)
