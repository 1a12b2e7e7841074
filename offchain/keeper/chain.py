"""The keeper's chain client: async JSON-RPC (aiohttp) + web3's ABI codec, no Ape at run time.

- Contract handles come from offchain.artifacts (Ape's build manifest); calls are eth_call
  with web3's encoder/decoder.
- `settle` calldata is encoded by hand: Fill is a static tuple (23 words), so the array is
  offset | length | 23 words per fill. That is ~50x faster than the generic encoder and
  settle is the hot path (tests check it against web3's encoder).
- Transactions are signed locally (eth-account), so the tx hash is known before sending:
  settlement journals (nonce, tx hash, raw tx) first, then broadcasts. Re-broadcasting the
  same raw tx after a crash is idempotent.
- NonceManager hands out the operator's nonces; it resyncs from the chain when a send fails.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

import aiohttp
import msgspec
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from offchain.artifacts import abi as artifact_abi
from offchain.order import Order, Signature

from .admission import MarketInfo
from .keys import Key

try:  # httpcore asks `import sniffio` on every request; without the package each failed
    import sniffio  # noqa: F401  import walks sys.path again (~0.3 ms per RPC call).
except ImportError:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # fail fast: httpcore then assumes asyncio


class RpcError(Exception):
    def __init__(self, method: str, error: Any) -> None:
        message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        super().__init__(f"{method}: {message}")
        self.method = method
        self.error = error
        self.message = message


_JSON_HEADERS = {"Content-Type": "application/json"}


def _decode_reply(raw: bytes) -> Any:
    """A JSON-RPC reply: msgspec (2-3x json's speed on the large block-receipt replies), or
    json for what msgspec refuses (a number beyond 64 bits or a float out of range)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.MsgspecError:
        return json.loads(raw)


class Rpc:
    """Minimal async JSON-RPC client over pooled keep-alive connections (aiohttp).

    aiohttp, not httpx: one request through httpx 0.28 cost ~0.8-1.0 ms of the event loop's
    CPU (its connection pool checks every pooled socket for readability, anyio streams, ~10
    layers of calls), through aiohttp ~0.1-0.15 ms, for a 60-byte body as for a 95 KB one
    (a settle tx of 64 fills), measured against anvil. Under the e2e bench httpx was ~70%
    of the settle path's samples (py-spy). The session is made on first use inside the
    running event loop (aiohttp binds it to one) and made again if the loop changed.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count(1)

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16),
                                                  timeout=self.timeout)
            self._loop = loop
        return self._session

    async def _post(self, body: Any) -> Any:
        async with self._client().post(self.url, data=json.dumps(body), headers=_JSON_HEADERS) as response:
            return _decode_reply(await response.read())

    async def call(self, method: str, params: list | None = None) -> Any:
        reply = await self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params or []})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    async def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        """Several calls in one HTTP request (JSON-RPC batch); results in call order."""
        if not calls:
            return []
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        replies = await self._post(body)
        by_id = {r["id"]: r for r in replies}
        out = []
        for i, (method, _) in enumerate(calls):
            reply = by_id[first + i]
            if "error" in reply:
                raise RpcError(method, reply["error"])
            out.append(reply["result"])
        return out

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def _selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def _topic(name: str, inputs: list[dict]) -> str:
    return "0x" + keccak(f"{name}({','.join(_abi_type(i) for i in inputs)})".encode()).hex()


def _abi_type(item: dict) -> str:
    t = item["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + t[5:]
    return t


def event_topics(abi: list[dict]) -> dict[str, str]:
    """event name -> topic0 hex."""
    return {e["name"]: _topic(e["name"], e["inputs"]) for e in abi if e.get("type") == "event"}


_COLLATERAL = _selector("collateral(address)")
_MIN_NONCE = _selector("min_nonce(address)")
_POSITION = _selector("position(address,uint256)")
_FUNDING_OWED = _selector("funding_owed(address,uint256)")


def _int256_bytes(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


def _int256(hex_word: str) -> int:
    return _int256_bytes(bytes.fromhex(hex_word[2:]))


SETTLE_SELECTOR = _selector(
    "settle(((address,uint256,bool,uint256,uint256,uint256,uint256,uint256),(uint8,bytes32,bytes32),"
    "(address,uint256,bool,uint256,uint256,uint256,uint256,uint256),(uint8,bytes32,bytes32),uint256)[])"
)


def _order_words(o: Order) -> bytes:
    return (
        bytes(12) + bytes.fromhex(o.account[2:])
        + o.market.to_bytes(32, "big")
        + (b"\x00" * 31 + (b"\x01" if o.is_buy else b"\x00"))
        + o.price.to_bytes(32, "big")
        + o.size.to_bytes(32, "big")
        + o.nonce.to_bytes(32, "big")
        + o.expiry.to_bytes(32, "big")
        + o.flags.to_bytes(32, "big")
    )


def _sig_words(s: Signature) -> bytes:
    return s.v.to_bytes(32, "big") + s.r.to_bytes(32, "big") + s.s.to_bytes(32, "big")


def encode_settle(fills: Iterable[tuple[Order, Signature, Order, Signature, int]]) -> bytes:
    """Calldata of Exchange.settle(fills)."""
    fills = list(fills)
    parts = [SETTLE_SELECTOR, (32).to_bytes(32, "big"), len(fills).to_bytes(32, "big")]
    for maker, maker_sig, taker, taker_sig, size in fills:
        parts.append(_order_words(maker) + _sig_words(maker_sig) + _order_words(taker)
                     + _sig_words(taker_sig) + size.to_bytes(32, "big"))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SettleOutcome:
    """One FillSettled / FillSkipped log of a settle receipt, in log order."""

    maker_hash: bytes
    taker_hash: bytes
    settled: bool
    reason: str = ""
    size: int = 0


class ReceiptFollower:
    """Follows new blocks and hands out receipts to the txs waiting for them.

    One `eth_getBlockReceipts` per new block instead of one `eth_getTransactionReceipt` per
    in-flight tx per poll: with many settle txs in flight, per-tx polling costs the node
    more than the mining does. Register (`expect`) BEFORE broadcasting so a fast node cannot
    mine the tx before we look; a tx not seen within `fallback` seconds is looked up
    directly (covers nodes without eth_getBlockReceipts and any race at start).
    """

    def __init__(self, rpc: "Rpc", poll: float = 0.005, max_poll: float = 0.05) -> None:
        self.rpc = rpc
        self.poll = poll
        # While no new block comes the poll interval doubles up to `max_poll`, and a new
        # block or a new tx to follow resets it: polling eth_blockNumber every 5 ms cost
        # the keeper's event loop ~8% of its samples under the e2e bench (200 RPCs a
        # second through httpx), 40 polls per block at a 0.2 s block time.
        self.max_poll = max_poll
        self.kick = asyncio.Event()
        self.waiters: dict[str, asyncio.Future] = {}
        self.last_block: int | None = None
        self.task: asyncio.Task | None = None
        self.supported = True

    def expect(self, tx_hash: str) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        fut = self.waiters.get(tx_hash.lower())
        if fut is None:
            fut = self.waiters[tx_hash.lower()] = loop.create_future()
            self.kick.set()  # a new tx may be mined at once: poll soon again
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._run(), name="receipts")
        return fut

    def forget(self, tx_hash: str) -> None:
        fut = self.waiters.pop(tx_hash.lower(), None)
        if fut is not None and not fut.done():
            fut.cancel()

    async def wait(self, tx_hash: str, timeout: float, fallback: float = 2.0) -> dict | None:
        fut = self.expect(tx_hash)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    return None
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), min(fallback, left))
                except asyncio.TimeoutError:
                    receipt = await self.rpc.call("eth_getTransactionReceipt", [tx_hash])
                    if receipt is not None:
                        return receipt
        finally:
            self.waiters.pop(tx_hash.lower(), None)

    async def _run(self) -> None:
        if self.last_block is None:
            self.last_block = int(await self.rpc.call("eth_blockNumber"), 16) - 2
        delay = self.poll
        while self.waiters and self.supported:
            self.kick.clear()
            head = int(await self.rpc.call("eth_blockNumber"), 16)
            if head <= self.last_block:
                try:
                    await asyncio.wait_for(self.kick.wait(), delay)
                    delay = self.poll
                except asyncio.TimeoutError:
                    delay = min(delay * 2, self.max_poll)
                continue
            delay = self.poll
            blocks = list(range(self.last_block + 1, min(head, self.last_block + 64) + 1))
            try:  # every new block in one JSON-RPC batch request
                results = await self.rpc.batch([("eth_getBlockReceipts", [hex(b)]) for b in blocks])
            except RpcError:
                self.supported = False  # the per-tx fallback in wait() takes over
                return
            for receipts in results:
                for receipt in receipts or ():
                    fut = self.waiters.pop(receipt["transactionHash"].lower(), None)
                    if fut is not None and not fut.done():
                        fut.set_result(receipt)
            self.last_block = blocks[-1]


class NonceManager:
    """The one source of nonces for one sending key (the operator's: settle batches, vault
    upkeep and claims, oracle prices when the operator also reports).

    Nonces are handed out under a lock and never move backwards while others may be
    allocated but not yet broadcast: a settle batch takes its nonce, then journals, then
    sends, so a resync from the node's pending count in that window would hand the same
    nonce out twice. Instead a nonce whose tx the node did not take is `release`d and
    reused first (the lowest free one: it is the hole the later txs wait behind), and
    `sync` only moves forward (and drops released nonces the chain has since used)."""

    def __init__(self, rpc: Rpc, address: str) -> None:
        self.rpc = rpc
        self.address = address
        self.next: int | None = None
        self.free: list[int] = []  # released nonces, a min-heap
        self.lock = asyncio.Lock()

    async def pending(self) -> int:
        return int(await self.rpc.call("eth_getTransactionCount", [self.address, "pending"]), 16)

    async def sync(self) -> int:
        """Catch up with the chain: next = max(next, the node's pending count)."""
        count = await self.pending()
        if self.next is None or self.next < count:
            self.next = count
        self.free = [n for n in self.free if n >= count]
        heapq.heapify(self.free)
        return self.next

    async def allocate(self) -> int:
        async with self.lock:
            if self.next is None:
                await self.sync()
            if self.free:
                return heapq.heappop(self.free)
            nonce = self.next
            self.next += 1
            return nonce

    def release(self, nonce: int) -> None:
        """`nonce` was allocated but its tx never reached the node: hand it out again."""
        if self.next is not None and nonce < self.next and nonce not in self.free:
            heapq.heappush(self.free, nonce)


class Chain:
    """Contract handles and transactions for the keeper."""

    def __init__(self, url: str, contracts, operator: Key, reporter: Key | None = None) -> None:
        self.url = url
        self.rpc = Rpc(url)
        self.contracts = contracts
        self.operator = operator
        self.reporter = reporter or operator
        self.w3 = Web3()  # codec only, no provider
        self.exchange_abi = artifact_abi("Exchange")
        self.oracle_abi = artifact_abi("Oracle")
        self.exchange = self.w3.eth.contract(address=Web3.to_checksum_address(contracts.exchange), abi=self.exchange_abi)
        self.oracle = (self.w3.eth.contract(address=Web3.to_checksum_address(contracts.oracle), abi=self.oracle_abi)
                       if contracts.oracle else None)
        self.topics = event_topics(self.exchange_abi)
        self.oracle_topics = event_topics(self.oracle_abi)
        self.nonces = NonceManager(self.rpc, operator.address)
        self.reporter_nonces = (self.nonces if self.reporter.address == operator.address
                                else NonceManager(self.rpc, self.reporter.address))
        self.chain_id = 0
        self.gas_price = 0
        self.receipts = ReceiptFollower(self.rpc)
        # awaited before every broadcast: the leader lock's check on a PostgreSQL journal
        # (leader.Leadership.afence; raises NotLeader), so a keeper that lost leadership sends nothing
        self.fence: Callable[[], Awaitable[None]] | None = None

    async def connect(self) -> None:
        self.chain_id = int(await self.rpc.call("eth_chainId"), 16)
        await self.nonces.sync()
        if self.reporter_nonces is not self.nonces:
            await self.reporter_nonces.sync()
        await self.refresh_gas_price()

    async def close(self) -> None:
        await self.rpc.close()

    async def refresh_gas_price(self) -> int:
        base = int(await self.rpc.call("eth_gasPrice"), 16)
        self.gas_price = base * 2 + 1  # headroom for base-fee rises; legacy tx, price cap
        return self.gas_price

    # -- reads -----------------------------------------------------------------------------
    async def call(self, contract, fn: str, *args, block: str | int = "latest") -> Any:
        func = getattr(contract.functions, fn)(*args)
        data = func._encode_transaction_data()
        tag = hex(block) if isinstance(block, int) else block
        raw = await self.rpc.call("eth_call", [{"to": contract.address, "data": data}, tag])
        output_types = [_abi_type(o) for o in func.abi["outputs"]]
        result = abi_decode(output_types, bytes.fromhex(raw[2:]))
        return result[0] if len(result) == 1 else result

    async def markets(self) -> dict[int, MarketInfo]:
        count = await self.call(self.exchange, "market_count")
        found = {}
        for market in range(1, count + 1):
            m = await self.call(self.exchange, "markets", market)
            tick, lot, min_size, im, mm, band, active = m
            found[market] = MarketInfo(market, tick, lot, im, mm, band, min_size, active)
        return found

    async def account_snapshots(self, accounts: list[str], markets: list[int],
                                block: int | str = "latest", by_market: bool = False) -> dict[str, tuple]:
        """{account: (collateral, {market: (size, cost)}, min_nonce, funding)} in one JSON-RPC
        batch; funding = the positions' unsettled funding (Exchange.funding_owed summed, > 0:
        owes), which every equity view of the chain subtracts from collateral; with
        `by_market`, {market: funding_owed} instead (ADL ranks by PnL including it)."""
        tag = hex(block) if isinstance(block, int) else block
        to = self.exchange.address
        calls = []
        for account in accounts:
            word = bytes(12) + bytes.fromhex(account[2:])
            calls.append(("eth_call", [{"to": to, "data": "0x" + (_COLLATERAL + word).hex()}, tag]))
            calls.append(("eth_call", [{"to": to, "data": "0x" + (_MIN_NONCE + word).hex()}, tag]))
            for market in markets:
                data = _POSITION + word + market.to_bytes(32, "big")
                calls.append(("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]))
                data = _FUNDING_OWED + word + market.to_bytes(32, "big")
                calls.append(("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]))
        results = await self.rpc.batch(calls)
        out = {}
        i = 0
        for account in accounts:
            collateral = _int256(results[i])
            min_nonce = int(results[i + 1], 16)
            i += 2
            positions, owed = {}, {}
            for market in markets:
                raw = bytes.fromhex(results[i][2:])
                positions[market] = (_int256_bytes(raw[:32]), _int256_bytes(raw[32:64]))
                owed[market] = _int256(results[i + 1])
                i += 2
            out[account] = (collateral, positions, min_nonce, owed if by_market else sum(owed.values()))
        return out

    async def block_number(self) -> int:
        return int(await self.rpc.call("eth_blockNumber"), 16)

    async def head_block(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block, in one call."""
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), int(block["timestamp"], 16)

    async def get_logs(self, address: str | list[str], from_block: int, to_block: int,
                       topics: list | None = None) -> list[dict]:
        query: dict = {"address": address, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if topics:
            query["topics"] = topics
        return await self.rpc.call("eth_getLogs", [query])

    async def filled(self, order_hash: bytes) -> int:
        return await self.call(self.exchange, "filled", order_hash)

    # -- transactions ------------------------------------------------------------------------
    def sign(self, key: Key, to: str, data: bytes, nonce: int, gas: int) -> tuple[str, str]:
        """(raw tx hex, tx hash hex) of a legacy transaction."""
        tx = {"to": to, "data": data, "nonce": nonce, "gas": gas, "gasPrice": self.gas_price,
              "chainId": self.chain_id, "value": 0}
        signed = Account.sign_transaction(tx, key.private_key)
        raw = signed.raw_transaction
        return "0x" + raw.hex(), "0x" + signed.hash.hex()

    async def send_raw(self, raw_hex: str) -> str:
        if self.fence is not None:
            await self.fence()
        return await self.rpc.call("eth_sendRawTransaction", [raw_hex])

    async def tx_unknown(self, tx_hash: str) -> bool:
        """After a failed broadcast: True if the node does not know the tx (its nonce is free)."""
        try:
            return await self.rpc.call("eth_getTransactionByHash", [tx_hash]) is None
        except Exception:  # noqa: BLE001 - cannot tell: keep the nonce used (a gap beats a clash)
            return False

    async def receipt(self, tx_hash: str) -> dict | None:
        return await self.rpc.call("eth_getTransactionReceipt", [tx_hash])

    async def wait_receipt(self, tx_hash: str, timeout: float = 60.0, poll: float = 0.01) -> dict | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = poll
        while loop.time() < deadline:
            found = await self.receipt(tx_hash)
            if found is not None:
                return found
            await asyncio.sleep(delay)
            delay = min(delay * 1.25, 0.05)
        return None

    def nonces_for(self, key: Key) -> NonceManager:
        """The nonce manager of a sending key: one per address, shared by every path."""
        if key.address == self.operator.address:
            return self.nonces
        if key.address == self.reporter.address:
            return self.reporter_nonces
        raise ValueError(f"no nonce manager for {key.address}: only the operator and the reporter send")

    async def transact(self, key: Key, contract, fn: str, *args, gas: int = 1_000_000) -> dict:
        """Sign, send and wait for a plain contract call (vault upkeep, claims, reports).

        The nonce comes from the key's one NonceManager, the same one settlement uses for
        the operator, so these txs interleave with in-flight settle batches without a
        collision. A tx the node did not take gives its nonce back."""
        nonces = self.nonces_for(key)
        data = bytes.fromhex(getattr(contract.functions, fn)(*args)._encode_transaction_data()[2:])
        nonce = await nonces.allocate()
        raw, tx_hash = self.sign(key, contract.address, data, nonce, gas)
        try:
            await self.send_raw(raw)
        except Exception:
            if await self.tx_unknown(tx_hash):
                nonces.release(nonce)
                await nonces.sync()
            raise
        receipt = await self.wait_receipt(tx_hash)
        if receipt is None:
            raise TimeoutError(f"no receipt for {tx_hash}")
        return receipt

    def decode_settle_logs(self, receipt: dict) -> list[SettleOutcome]:
        settled_t, skipped_t = self.topics["FillSettled"], self.topics["FillSkipped"]
        exchange = self.exchange.address.lower()
        outcomes = []
        for log in receipt.get("logs", []):
            if log["address"].lower() != exchange or not log["topics"]:
                continue
            t0 = log["topics"][0]
            if t0 == settled_t:
                data = bytes.fromhex(log["data"][2:])
                # maker, taker, taker_is_buy, price, size, taker_fee, maker_rebate
                size = int.from_bytes(data[128:160], "big")
                outcomes.append(SettleOutcome(bytes.fromhex(log["topics"][1][2:]),
                                              bytes.fromhex(log["topics"][2][2:]), True, "", size))
            elif t0 == skipped_t:
                (reason,) = abi_decode(["string"], bytes.fromhex(log["data"][2:]))
                outcomes.append(SettleOutcome(bytes.fromhex(log["topics"][1][2:]),
                                              bytes.fromhex(log["topics"][2][2:]), False, reason))
        return outcomes
