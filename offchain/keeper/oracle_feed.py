"""Oracle feed: pushes mark prices through the Oracle's REPORTER_ROLE from a PriceSource.

Sources: RandomWalkSource(seed) for devnets (integer steps of at most max_step_bps,
rounded to the tick), CsvReplaySource (rows `market,price` or `ts,market,price`, replayed
in order), and the PriceSource protocol for real feeds. Prices go on chain with
Oracle.set_prices in one tx per round; the watcher then sees PriceUpdated in a confirmed
block and journals the mark (one path for every mark, whoever reported it).
"""

from __future__ import annotations

import csv
import logging
import random
from pathlib import Path
from typing import Protocol

from .periodic import PeriodicTask

log = logging.getLogger("mmx.keeper.oracle")


class PriceSource(Protocol):
    async def prices(self) -> dict[int, int]:
        """The next mark per market (USDC units per whole base unit); {} = nothing new."""
        ...


class RandomWalkSource:
    """A seeded integer random walk per market: reproducible devnet prices."""

    def __init__(self, start: dict[int, int], seed: int = 1, max_step_bps: int = 20,
                 ticks: dict[int, int] | None = None) -> None:
        self.rng = random.Random(seed)
        self.current = dict(start)
        self.max_step_bps = max_step_bps
        self.ticks = ticks or {}

    def step(self) -> dict[int, int]:
        out = {}
        for market in sorted(self.current):
            price = self.current[market]
            bps = self.rng.randint(-self.max_step_bps, self.max_step_bps)
            tick = self.ticks.get(market, 1)
            new = price + price * bps // 10_000
            new = max(tick, new // tick * tick)
            self.current[market] = new
            out[market] = new
        return out

    async def prices(self) -> dict[int, int]:
        return self.step()


class CsvReplaySource:
    """Replays a CSV of `market,price` (or `ts,market,price`) rows, one timestamp per round."""

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        rows = []
        with open(path, newline="") as fh:
            for row in csv.reader(fh):
                if not row or row[0].strip().lower() in ("market", "ts", "#"):
                    continue
                if len(row) == 2:
                    rows.append((len(rows), int(row[0]), int(row[1])))
                else:
                    rows.append((int(row[0]), int(row[1]), int(row[2])))
        self.rounds: list[dict[int, int]] = []
        last_ts = None
        for ts, market, price in rows:
            if ts != last_ts:
                self.rounds.append({})
                last_ts = ts
            self.rounds[-1][market] = price
        self.index = 0
        self.loop = loop

    async def prices(self) -> dict[int, int]:
        if self.index >= len(self.rounds):
            if not self.loop or not self.rounds:
                return {}
            self.index = 0
        out = self.rounds[self.index]
        self.index += 1
        return dict(out)


class OracleFeed:
    def __init__(self, chain, source: PriceSource, interval: float = 1.0) -> None:
        self.chain = chain
        self.source = source
        self.interval = interval
        self.pushed = 0
        self._loop = PeriodicTask("oracle-feed", self.push_once, interval)

    async def push_once(self) -> int:
        prices = await self.source.prices()
        if not prices:
            return 0
        markets = sorted(prices)
        receipt = await self.chain.transact(self.chain.reporter, self.chain.oracle, "set_prices",
                                            markets, [prices[m] for m in markets], gas=200_000 + 60_000 * len(markets))
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"set_prices reverted in {receipt['transactionHash']}")
        self.pushed += 1
        return len(markets)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
