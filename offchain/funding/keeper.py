"""The funding runner inside the keeper: chain adapter, Runner hooks, views for the API.

    [funding]                    # keeper config (offchain/keeper/config.py FundingConfig)
    enabled = true
    interval_s = 60              # must equal the Exchange's funding interval for the market
    sample_s = 5
    impact_notional = 10000000000
    markets = [1]

Rates go to the Funding contract (`contracts.funding` of the deployment; the operator key
holds its FUNDING_ROLE). Without that address the runner is inert (logs once), so a keeper
with funding enabled still runs against a deployment without it."""

from __future__ import annotations

import logging
import time
from typing import Any

from .journal import CONFIRMED, FundingJournal
from .rate import FundingParams, interval_of
from .runner import FundingRunner

log = logging.getLogger("mmx.keeper.funding")

UPDATE_GAS = 150_000


def fill_funding_of(data: bytes, account: str) -> list[int]:
    """The non-zero funding `account` settled in one FillSettled log (its data words: maker,
    taker, taker_is_buy, price, size, taker_fee, maker_rebate, maker_funding, taker_funding)."""
    me = account.lower().removeprefix("0x")
    out = []
    for who, word in ((0, 7), (1, 8)):
        if data[who * 32 + 12:who * 32 + 32].hex() == me:
            amount = int.from_bytes(data[word * 32:word * 32 + 32], "big", signed=True)
            if amount:
                out.append(amount)
    return out


class KeeperFundingChain:
    """offchain.keeper.chain.Chain as a runner.FundingChain: the operator key (FUNDING_ROLE)
    and its one NonceManager, shared with settlement."""

    def __init__(self, chain, address: str) -> None:
        from web3 import Web3

        from offchain.artifacts import abi

        self.chain = chain
        self.contract = chain.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi("Funding"))

    async def last_interval(self, market: int) -> int:
        state = await self.chain.call(self.contract, "funding_state", market)
        return int(state[1])

    async def allocate_nonce(self) -> int:
        return await self.chain.nonces.allocate()

    def release_nonce(self, nonce: int) -> None:
        self.chain.nonces.release(nonce)

    def sign_update(self, market: int, interval: int, rate: int, nonce: int) -> tuple[str, str]:
        contract = self.contract
        data = bytes.fromhex(contract.functions.update_funding(market, interval, rate)._encode_transaction_data()[2:])
        return self.chain.sign(self.chain.operator, contract.address, data, nonce, UPDATE_GAS)

    async def send_raw(self, raw: str) -> Any:
        return await self.chain.send_raw(raw)

    async def receipt(self, tx_hash: str) -> dict | None:
        return await self.chain.receipt(tx_hash)

    async def tx_unknown(self, tx_hash: str) -> bool:
        return await self.chain.tx_unknown(tx_hash)

    async def nonce_used(self, nonce: int) -> bool:
        mined = await self.chain.rpc.call("eth_getTransactionCount", [self.chain.operator.address, "latest"])
        return int(mined, 16) > nonce


class FundingKeeperRunner:
    """A keeper Runner (offchain.keeper.service.Runner) around FundingRunner."""

    def __init__(self, params: dict[int, FundingParams]) -> None:
        self.params = params
        self.runner: FundingRunner | None = None
        self.keeper = None

    async def on_start(self, keeper) -> None:
        self.keeper = keeper
        keeper.funding = self
        address = keeper.config.contracts.funding
        if not address:
            log.warning("funding enabled but the deployment has no Funding contract: runner idle")
            return
        journal = FundingJournal(keeper.config.journal.url, leadership=getattr(keeper, "leadership", None))
        core, engine, hub = keeper.core, keeper.engine, keeper.hub

        def publish(market: int, message: dict) -> None:
            hub.publish(("funding", market), message)
            if message.get("type") == "rate":
                # a new index moves every holder's unsettled funding: the watcher re-reads
                # them (collateral, positions, funding_owed) at its next refresh
                watcher = getattr(keeper, "watcher", None)
                if watcher is not None:
                    watcher.dirty |= {a for a, st in core.accounts.items()
                                      if any(pos[0] for pos in st.positions.values())}

        self.runner = FundingRunner(self.params, journal, KeeperFundingChain(keeper.chain, address),
                                    lambda m: engine.depth(m, 200), lambda m: core.marks.get(m), publish,
                                    receipt_timeout=keeper.config.chain.receipt_timeout)
        try:
            await self.runner.resume(time.time())
        except Exception as exc:  # noqa: BLE001 - the 30 s re-check resolves open rows later
            log.warning("funding resume failed: %s", exc)

    async def on_timer(self, now: float) -> None:
        if self.runner is not None:
            await self.runner.tick(now)

    async def on_mark(self, market: int, price: int) -> None: ...
    async def on_fill(self, fill: Any) -> None: ...
    async def on_chain_log(self, log: dict) -> None: ...

    async def on_stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
            self.runner.journal.close()

    # -- views (API) -------------------------------------------------------------------------
    def current(self, market: int, now: float | None = None) -> dict:
        """Last confirmed rate, predicted next rate, interval timing (integers as strings)."""
        p = self.params.get(market)
        if p is None:
            raise KeyError(market)
        now = time.time() if now is None else now
        k = interval_of(int(now), p.interval_s)
        out = {"market": str(market), "interval_s": p.interval_s, "interval": str(k),
               "next_funding_time": str((k + 1) * p.interval_s), "rate": "0", "rate_interval": "",
               "predicted_rate": "0", "samples": 0, "cap": str(p.cap), "rate_one": "1000000000000"}
        if self.runner is not None:
            confirmed = self.runner.journal.rates(market, (CONFIRMED,), limit=1)
            if confirmed:
                out["rate"], out["rate_interval"] = str(confirmed[-1].rate), str(confirmed[-1].interval)
            out["predicted_rate"] = str(self.runner.predicted_rate(market))
            out["samples"] = len(self.runner.samples.get(market, []))
        return out

    def history(self, market: int, limit: int = 100) -> list[dict]:
        if self.runner is None:
            return []
        return [{"market": str(r.market), "interval": str(r.interval), "rate": str(r.rate),
                 "avg_premium": str(r.avg_premium), "samples": r.samples, "state": r.state, "tx_hash": r.tx_hash}
                for r in self.runner.journal.rates(market, limit=limit)]

    async def summary(self, account: str) -> dict:
        """Settled funding (FundingSettled logs): each payment, total paid, total received
        and the net (> 0: paid); plus what is unsettled now (Exchange.funding_owed per market,
        already in the account's equity). Integers as strings."""
        payments = await self.payments(account)
        paid = sum(int(p["amount"]) for p in payments if int(p["amount"]) > 0)
        received = -sum(int(p["amount"]) for p in payments if int(p["amount"]) < 0)
        chain = self.keeper.chain
        unsettled = {}
        for market in sorted(self.keeper.core.markets):
            owed = int(await chain.call(chain.exchange, "funding_owed", account, market))
            if owed:
                unsettled[str(market)] = str(owed)
        return {"account": account, "payments": payments, "paid": str(paid), "received": str(received),
                "net": str(paid - received), "unsettled": unsettled}

    async def payments(self, account: str) -> list[dict]:
        """The account's settled funding, in chain order: the Exchange's FundingSettled logs
        and the maker_funding / taker_funding of its fills (FillSettled; the fill path logs
        no FundingSettled, docs/funding.md "Events")."""
        chain = self.keeper.chain
        topic, fill_topic = chain.topics.get("FundingSettled"), chain.topics.get("FillSettled")
        if topic is None:
            return []
        head = await chain.block_number()
        padded = "0x" + "0" * 24 + account.lower().removeprefix("0x")
        start = self.keeper.config.chain.start_block
        logs = await chain.get_logs(chain.exchange.address, start, head, [topic, padded])
        # FillSettled has the accounts in its data, not its topics: every fill is read
        fills = await chain.get_logs(chain.exchange.address, start, head, [fill_topic]) if fill_topic else []
        entries = []
        for entry in logs:
            data = bytes.fromhex(entry["data"][2:])
            entries.append((entry, int(entry["topics"][2], 16), int.from_bytes(data[0:32], "big", signed=True)))
        for entry in fills:
            for amount in fill_funding_of(bytes.fromhex(entry["data"][2:]), account):
                entries.append((entry, int(entry["topics"][3], 16), amount))
        entries.sort(key=lambda e: (int(e[0]["blockNumber"], 16), int(e[0]["logIndex"], 16)))
        return [{"market": str(market), "amount": str(amount), "block": str(int(entry["blockNumber"], 16)),
                 "tx_hash": entry["transactionHash"]} for entry, market, amount in entries]
