"""A background loop for the keeper's periodic jobs (oracle feed, chain watcher).

A failed round is logged and the next one tries again: an RPC hiccup must not end the
job. Cancellation (stop) is the only way out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger("mmx.keeper")


async def cancel_and_wait(task: asyncio.Task) -> None:
    """Cancel a background task and wait until it has ended, whatever it ended with (its own
    failure was logged where it happened; stopping must not raise it again)."""
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


class PeriodicTask:
    def __init__(self, name: str, round_: Callable[[], Awaitable[object]], interval: float) -> None:
        self.name = name
        self.round = round_
        self.interval = interval
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self.task is not None:
            await cancel_and_wait(self.task)

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - log it; the next round tries again
                log.warning("%s round failed: %s", self.name, exc)
            await asyncio.sleep(self.interval)
