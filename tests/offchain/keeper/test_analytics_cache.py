"""Analytics off the hot path: single flight, TTL cache, a bound on pending reports, and
a report no one waits for any more is dropped before it starts."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import HTTPException

from offchain.keeper.analytics_api import Reports


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def make(job, **kw):
    return Reports(ThreadPoolExecutor(max_workers=1), job, **kw)


@pytest.mark.anyio
async def test_reports__concurrent_same_query__computed_once_then_cached_until_ttl():
    calls = []
    gate = threading.Event()

    def job(entity, kind, series, bar):
        gate.wait(5)
        calls.append(entity)
        return {"entity": entity}

    clock = Clock()
    reports = make(job, ttl=30, clock=clock)

    pending = [asyncio.create_task(reports.get("0xA", "account", False, "1h")) for _ in range(4)]
    await asyncio.sleep(0.05)
    gate.set()
    results = await asyncio.gather(*pending)
    again = await reports.get("0xA", "account", False, "1h")
    clock.t = 31
    expired = await reports.get("0xA", "account", False, "1h")
    assert results == [{"entity": "0xA"}] * 4 and again == {"entity": "0xA"} and expired == again
    assert calls == ["0xA", "0xA"]  # once for four callers and the cached read, once after the ttl


@pytest.mark.anyio
async def test_reports__too_many_distinct_pending__503():
    gate = threading.Event()
    reports = make(lambda e, k, s, b: gate.wait(5) and {}, max_pending=2)

    tasks = [asyncio.create_task(reports.get(f"0x{i}", "account", False, "1h")) for i in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(HTTPException) as info:
        await reports.get("0x9", "account", False, "1h")
    gate.set()
    await asyncio.gather(*tasks)
    err = info.value
    assert (err.status_code, err.detail) == (503, "analytics busy")


@pytest.mark.anyio
async def test_reports__caller_gone__queued_job_dropped_before_it_runs():
    ran = []
    gate = threading.Event()

    def job(entity, kind, series, bar):
        if entity == "0xBUSY":
            gate.wait(5)
        ran.append(entity)
        return {}

    reports = make(job)

    busy = asyncio.create_task(reports.get("0xBUSY", "account", False, "1h"))
    await asyncio.sleep(0.01)
    queued = asyncio.create_task(reports.get("0xGONE", "account", False, "1h"))
    await asyncio.sleep(0.01)
    queued.cancel()  # the client disconnected
    await asyncio.sleep(0.01)
    gate.set()
    await busy
    await asyncio.sleep(0.05)
    assert ran == ["0xBUSY"]


@pytest.mark.anyio
async def test_reports__bad_input_400_not_a_vault_404():
    def job(entity, kind, series, bar):
        raise (ValueError("bad bar") if kind == "account" else LookupError("not a vault of the factory"))

    reports = make(job)

    errors = []
    for kind in ("account", "vault"):
        try:
            await reports.get("0xA", kind, False, "x")
        except HTTPException as exc:
            errors.append((exc.status_code, exc.detail))
    result = errors
    assert result == [(400, "bad bar"), (404, "not a vault of the factory")]
