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
        gate.wait(60)
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
    reports = make(lambda e, k, s, b: gate.wait(60) and {}, max_pending=2)

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
            gate.wait(60)
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


SLOW_JOB = """
import os, pathlib, time


def slow_report(pid_file, entity, kind, series, bar):
    # a report that never ends on its own (runs in the worker process); account reports are quick
    if kind == "account":
        return b'{"quick":true}'
    pathlib.Path(pid_file).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)
"""


def alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split(") ")[-1][0] != "Z"


@pytest.mark.anyio
async def test_route__client_disconnects_mid_report__worker_stopped_next_report_served(tmp_path):
    """A running report whose only caller disconnects is stopped, not left to finish: the
    route sees the disconnect, the job is cancelled and the worker process (here in a
    report that would run forever) is terminated; the next report runs in a fresh worker."""
    import functools
    import pathlib

    import httpx
    import uvicorn
    from fastapi import FastAPI

    from offchain.devnet import listen_socket
    from offchain.keeper.analytics_api import WorkerPool, reports_router

    import importlib
    import sys

    (tmp_path / "mmx_slow_job.py").write_text(SLOW_JOB)  # importable in the spawned worker:
    sys.path.insert(0, str(tmp_path))                    # spawn passes sys.path on
    job = importlib.import_module("mmx_slow_job").slow_report
    pid_file = tmp_path / "pid"
    pool = WorkerPool()
    reports = Reports(pool, functools.partial(job, str(pid_file)))
    app = FastAPI()
    app.include_router(reports_router(reports, "0xPOOL"))
    sock = listen_socket()  # bound here, handed to uvicorn: the port cannot be taken in between
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            assert not serving.done(), "the server stopped before it started"
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=url) as http:
            request = asyncio.create_task(http.get("/analytics/pool", timeout=60))
            # the worker is spawned and the report runs (a deadline, not an iteration count:
            # spawning a process that imports the analytics stack is slow on a loaded machine)
            deadline = asyncio.get_running_loop().time() + 120
            while not (pid_file.exists() and pid_file.read_text()):
                assert asyncio.get_running_loop().time() < deadline, "the report never started"
                await asyncio.sleep(0.05)
            pid = int(pathlib.Path(pid_file).read_text())
            assert alive(pid) and reports.flights
            request.cancel()  # the client goes away (its connection is closed)
            with pytest.raises(asyncio.CancelledError):
                await request
        deadline = asyncio.get_running_loop().time() + 60
        while alive(pid) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert not alive(pid), "the abandoned report is still running"
        assert reports.abandoned == 1 and not reports.flights and not reports.cache
        async with httpx.AsyncClient(base_url=url) as http:
            r = await http.get("/analytics/0x" + "00" * 19 + "01", timeout=60)  # an account report: quick
        assert (r.status_code, r.json()) == (200, {"quick": True})  # by a fresh worker
    finally:
        pool.shutdown()  # first: a report still running would hold the server's shutdown
        server.should_exit = True
        await serving
        sock.close()
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mmx_slow_job", None)
