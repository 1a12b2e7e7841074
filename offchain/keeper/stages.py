"""Where one WebSocket place message's time goes inside the keeper (issue #19), opt-in.

With MMX_STAGE_TIMES=1 (or `enable()`), every `place` message gets a record of
time.perf_counter() stamps (CLOCK_MONOTONIC on Linux: the same clock in every process, so
a bench can join them with its own send and receive times), one per stage it passes:

  received     the WebSocket frame handed to the app (socket.receive returned)
  handler      its handler task runs (after the in-flight slot and the task's scheduling)
  parsed       the request parsed (offchain.wire) and its accounts loaded
  verified     the signatures recovered (the recovery thread's round trip)
  queued       admitted and matched: its rows handed to the group committer
  picked       the committer took its rows (after the commit in progress ended)
  write_start  the journal thread began the transaction holding them
  written      that transaction committed (rows + fsync)
  resumed      the event loop saw the commit done (the executor's wake-up)
  acked        the handler put the ack on the connection's send queue
  sent         the ack was written to the socket (the sender task's send returned)

The records (the last RECORDS messages) and the garbage collector's pauses (start, ms,
generation) are served by GET /stats/stages. Off (the default), `mark` is one
ContextVar read per stage and nothing is kept.
"""

from __future__ import annotations

import collections
import gc
import os
import time
from contextvars import ContextVar

STAGES = ("received", "handler", "parsed", "verified", "queued", "picked", "write_start", "written",
          "resumed", "acked", "sent")
RECORDS = 50_000

current: ContextVar[dict | None] = ContextVar("mmx_stage_record", default=None)
records: collections.deque = collections.deque(maxlen=RECORDS)
gc_pauses: collections.deque = collections.deque(maxlen=RECORDS)
enabled = False
_gc_started = 0.0


def _gc_callback(phase: str, info: dict) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        gc_pauses.append((_gc_started, (time.perf_counter() - _gc_started) * 1000, info.get("generation")))


def enable(on: bool = True) -> None:
    """Start (or stop) keeping stage records and GC pauses."""
    global enabled
    enabled = on
    if on and _gc_callback not in gc.callbacks:
        gc.callbacks.append(_gc_callback)
    elif not on and _gc_callback in gc.callbacks:
        gc.callbacks.remove(_gc_callback)


def begin(message_id) -> dict | None:
    """A new record for a message received now (None when off)."""
    if not enabled:
        return None
    return {"id": message_id, "received": time.perf_counter()}


def mark(stage: str) -> None:
    """Stamp `stage` on the record of the message being handled (the task's context)."""
    rec = current.get()
    if rec is not None:
        rec[stage] = time.perf_counter()


def stamp(recs: list, stage: str, at: float) -> None:
    """Stamp `stage` at `at` on each record of `recs` (a group commit's waiters)."""
    for rec in recs:
        if rec is not None:
            rec[stage] = at


def finish(rec: dict) -> None:
    """The record is complete (its ack was sent): keep it."""
    records.append(rec)


def dump() -> dict:
    return {"enabled": enabled, "stages": list(STAGES), "records": list(records),
            "gc_pauses": list(gc_pauses)}


if os.environ.get("MMX_STAGE_TIMES") == "1":
    enable()
