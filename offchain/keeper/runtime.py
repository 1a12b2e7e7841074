"""Process-level tuning of the keeper's interpreter, applied at the process edge (cli).

The keeper holds its whole live state in memory (orders, fills, accounts, the book), so
CPython's cyclic garbage collector, left at its defaults, runs a full collection over all
of it every so often, from whatever line happens to allocate: under the open-loop bench
py-spy charged 5-10% of the event loop's samples to `Outbox.new()` and `WriteSet()` (two
empty containers), i.e. to collections it triggered. Nothing in the keeper depends on
cycles being collected promptly, so:

- `gc.freeze()` after recovery moves everything alive then (the recovered state, the
  imported modules) into the permanent generation: no collection traverses it again;
- a higher first-generation threshold makes young collections rarer (each one costs
  about the same whatever the threshold, being bounded by the young objects alive), and
  the older generations' thresholds keep full collections rare as the state grows.

MMX_GC_TUNING=0 keeps the interpreter's defaults (the A/B of docs/performance.md).

Tried and not kept: uvloop as the event loop (3 A/B pairs under the open-loop bench: acked
rate 696/722/883 against 786/814/652 per s with asyncio's loop; no gain above the noise).
"""

from __future__ import annotations

import gc
import os

GC_THRESHOLDS = (50_000, 20, 100)


def recovery_inline_max(env: dict[str, str] | None = None) -> int | None:
    """MMX_RECOVERY_INLINE_MAX: the most signatures a request or a loop iteration's job may
    have to be recovered on the event loop instead of the recovery thread
    (gateway.RecoveryThread; 0: always the thread); None when unset (the default)."""
    env = os.environ if env is None else env
    value = env.get("MMX_RECOVERY_INLINE_MAX")
    return None if value in (None, "") else int(value)


def tune_gc(env: dict[str, str] | None = None) -> bool:
    """Freeze what is alive now and raise the collector's thresholds; returns whether it did
    (MMX_GC_TUNING=0: no)."""
    env = os.environ if env is None else env
    if env.get("MMX_GC_TUNING", "1") == "0":
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return True

