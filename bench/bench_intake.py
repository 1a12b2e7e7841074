"""The keeper's intake path, piece by piece, in one process (no anvil, no sockets): CPU
microseconds per single-order place message for each step the event loop (or the recovery
/ journal thread) pays, so the per-order floor can be read on a noisy machine (thread CPU
time, not wall time). Prints `intake_<step>_us: value` lines, then the sum on the loop.

Steps, in the order a WebSocket place message meets them (offchain/keeper/api.py ws,
gateway.place_batch): JSON decode (offchain.wire.decode_json), parse (wire.parse_place),
EIP-712 hash, signature recovery (admission.recover: on the recovery thread in the keeper),
admission + matching (check_order, Core.place: the sequencer), the journal's rows
(Journal.write of a group commit of BENCH_INTAKE_GROUP messages, SQLite on the temp dir:
the journal thread; its fsync is not CPU), the ack's JSON encode (wire.encode_json), and
the whole Gateway.place_batch (the steps above on the loop, plus the group-commit hand-off)
with the recovery thread off. Half the orders rest (buys), half cross them (IOC sells).
Env: BENCH_INTAKE_ORDERS (4000), BENCH_INTAKE_GROUP (25).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time

from offchain.client.messages import place_request
from offchain.keeper.admission import AdmissionContext, MarketInfo, check_order, recover
from offchain.keeper.core import Core, Outbox, SignedOrder, market_config
from offchain.keeper.gateway import Gateway, GroupCommitter, Hub
from offchain.keeper.journal import Journal, WriteSet
from offchain.keeper.ratelimit import RateLimiter
from offchain.keeper.runtime import tune_gc
from offchain.matching import Engine
from offchain.order import Domain, Order, address_of, order_hash, sign_order
from offchain.wire import decode_json, encode_json

N = int(os.environ.get("BENCH_INTAKE_ORDERS", "4000"))
GROUP = int(os.environ.get("BENCH_INTAKE_GROUP", "25"))
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
MARKET = MarketInfo(market=1, tick=10_000, lot=10**15, initial_margin_bps=1000, maintenance_margin_bps=500,
                    min_size=10**15)
PRICE = 2_000 * 10**6
KEYS = ["0x" + f"{i:064x}" for i in range(1, 9)]


def messages() -> list[str]:
    expiry = int(time.time()) + 3600
    out = []
    for k in range(N):
        buy = k % 2 == 0
        key = KEYS[k % 4] if buy else KEYS[4 + k % 4]
        o = Order(address_of(key), 1, buy, PRICE, 10**15, 1000 + k, expiry, 0)
        item = place_request(o, sign_order(o, DOMAIN, key), "GTC" if buy else "IOC")
        out.append(json.dumps({"op": "place", "id": k, "orders": [item]}))
    return out


def keeper(db_url: str) -> tuple[Core, Gateway, Journal]:
    core = Core(Engine([market_config(MARKET)]), {1: MARKET})
    core.marks[1] = PRICE
    for key in KEYS:
        state = core.account(address_of(key))
        state.collateral, state.loaded = 10**15, True
    journal = Journal(db_url)
    ctx = AdmissionContext(DOMAIN, core.markets, core.marks, oracle=core.oracle)
    return core, Gateway(core, ctx, GroupCommitter(journal), Hub(), RateLimiter(1e9, 1e9)), journal


def per_order(fn, items) -> float:
    """CPU us per item of fn over items (this thread's CPU time)."""
    t0 = time.thread_time()
    for item in items:
        fn(item)
    return (time.thread_time() - t0) / len(items) * 1e6


def main() -> None:
    texts = messages()
    tune_gc()  # as the keeper runs (offchain/keeper/runtime.py)
    with tempfile.TemporaryDirectory() as tmp:
        core, gw, journal = keeper(f"sqlite:///{tmp}/steps.db")
        decoded = [decode_json(t) for t in texts]
        requests = [gw.parse(m["orders"])[0] for m in decoded]
        digests = [order_hash(r.order, DOMAIN) for r in requests]
        figures = {
            "decode": per_order(decode_json, texts),
            "parse": per_order(lambda m: gw.parse(m["orders"]), decoded),
            "hash": per_order(lambda r: order_hash(r.order, DOMAIN), requests),
            "recover": per_order(lambda p: recover(p[0], p[1].signature), list(zip(digests, requests))),
        }
        signers = [recover(d, r.signature) for d, r in zip(digests, requests)]
        now_s, ts = int(time.time()), int(time.time() * 1000)
        sets: list[WriteSet] = []
        acks = []

        def admit(i: int) -> None:
            req = requests[i]
            ws, out = WriteSet(), Outbox.new()
            check_order(req.order, req.signature, core.accounts.get(req.order.account), gw.ctx, now_s,
                        (digests[i], signers[i]))
            signed = SignedOrder(digests[i], req.order, req.signature, signers[i], core.next_seq(), req.tif)
            core.place(signed, ts, ws, out)
            sets.append(ws)
            acks.append({"op": "ack", "id": i, "results": [{
                "status": "accepted", "hash": signed.hex, "seq": signed.seq, "fills": len(out.fills),
                "open": str(signed.open), "order_status": signed.status}]})

        figures["admit_and_match"] = per_order(admit, range(N))

        def commit(group: list[WriteSet]) -> None:
            ws = WriteSet()
            for one in group:
                ws.extend(one)
            journal.write(ws)

        groups = [sets[i:i + GROUP] for i in range(0, N, GROUP)]
        figures["journal_rows"] = per_order(commit, groups) / GROUP
        figures["ack_encode"] = per_order(encode_json, acks)
        journal.close()

        # the whole gateway, recovery on the loop, one order per call, GROUP calls per tick
        core, gw, journal = keeper(f"sqlite:///{tmp}/gateway.db")

        async def drive() -> float:
            loop_cpu = 0.0
            for i in range(0, N, GROUP):
                t0 = time.thread_time()
                tasks = [asyncio.ensure_future(gw.place_batch(m["orders"])) for m in decoded[i:i + GROUP]]
                await asyncio.gather(*tasks)
                loop_cpu += time.thread_time() - t0  # includes the journal thread's hand-off, not its work
            await gw.committer.stop()
            return loop_cpu / N * 1e6

        figures["place_batch_whole"] = asyncio.run(drive())
        journal.close()
    for name, value in figures.items():
        print(f"intake_{name}_us: {value:.1f}")
    loop = sum(figures[k] for k in ("decode", "parse", "hash", "admit_and_match", "ack_encode"))
    print(f"intake_loop_steps_sum_us: {loop:.1f}  # on the event loop with recovery on its thread "
          f"(+ {figures['recover']:.1f} recovery, + {figures['journal_rows']:.1f} journal thread); "
          "the WebSocket frame in/out and asyncio hand-offs come on top (bench_e2e's loop CPU)")


if __name__ == "__main__":
    main()
