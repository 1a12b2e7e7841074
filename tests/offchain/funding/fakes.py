"""A fake chain for the funding runner: one sender's nonces, a mempool, explicit mining,
and the Exchange's one-rate-per-interval rule. Deterministic; no sleeps."""

from __future__ import annotations

import hashlib


class Crash(BaseException):
    """Simulates the process dying at a chosen point (not an Exception: nothing catches it)."""


class FakeFundingChain:
    def __init__(self) -> None:
        self.next_nonce = 0        # the sender's next nonce the node expects (mined count)
        self.allocated = 0         # the keeper's NonceManager
        self.pool: dict[int, str] = {}
        self.known: dict[str, str] = {}         # tx hash -> raw
        self.receipts: dict[str, dict] = {}
        self.last: dict[int, int] = {}           # market -> last interval with a rate
        self.applied: list[tuple[int, int, int]] = []  # (market, interval, rate) the chain took
        self.crash_on_send = False
        self.refuse_send = False
        self.auto_mine = True

    # FundingChain --------------------------------------------------------------------------
    async def last_interval(self, market: int) -> int:
        return self.last.get(market, 0)

    async def allocate_nonce(self) -> int:
        n = self.allocated
        self.allocated += 1
        return n

    def release_nonce(self, nonce: int) -> None:
        if nonce == self.allocated - 1:
            self.allocated -= 1

    def sign_update(self, market: int, interval: int, rate: int, nonce: int) -> tuple[str, str]:
        raw = f"update:{market}:{interval}:{rate}:{nonce}"
        return raw, "0x" + hashlib.sha256(raw.encode()).hexdigest()

    async def send_raw(self, raw: str) -> str:
        if self.crash_on_send:
            raise Crash()
        tx_hash = "0x" + hashlib.sha256(raw.encode()).hexdigest()
        if tx_hash in self.known:
            return tx_hash  # already known: idempotent
        nonce = int(raw.rsplit(":", 1)[1])
        if self.refuse_send or nonce < self.next_nonce:
            raise RuntimeError("nonce too low" if nonce < self.next_nonce else "refused")
        self.known[tx_hash] = raw
        self.pool[nonce] = raw
        if self.auto_mine:
            self.mine()
        return tx_hash

    async def receipt(self, tx_hash: str) -> dict | None:
        return self.receipts.get(tx_hash)

    async def tx_unknown(self, tx_hash: str) -> bool:
        return tx_hash not in self.known

    async def nonce_used(self, nonce: int) -> bool:
        return nonce < self.next_nonce

    # test controls -------------------------------------------------------------------------
    def restart(self) -> None:
        """The keeper restarted: its NonceManager resyncs to the node's pending count."""
        self.allocated = self.next_nonce + len(self.pool)

    def other_tx(self) -> None:
        """Another path (settlement) sends and mines a tx with the next allocated nonce."""
        nonce = self.allocated
        self.allocated += 1
        self.pool[nonce] = f"other:{nonce}"
        self.mine()

    def mine(self) -> None:
        while self.next_nonce in self.pool:
            raw = self.pool.pop(self.next_nonce)
            self.next_nonce += 1
            tx_hash = "0x" + hashlib.sha256(raw.encode()).hexdigest()
            if not raw.startswith("update:"):
                continue
            _, market, interval, rate, _ = raw.split(":")
            market, interval, rate = int(market), int(interval), int(rate)
            ok = interval > self.last.get(market, 0)  # the Exchange's rule
            if ok:
                self.last[market] = interval
                self.applied.append((market, interval, rate))
            self.receipts[tx_hash] = {"status": 1 if ok else 0, "transactionHash": tx_hash}
