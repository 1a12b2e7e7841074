"""Per-fill opcode profile of a settle batch of 50, on anvil, both order kinds in one run.

Prints `gas_profile_<path>_<class>: value` lines: gas per fill (the class's gas in the
settle transaction divided by its 50 fills) and, for the storage and signature classes,
`..._<class>_ops` (operations per fill). <path> is the order kind and the batch's shape:
- `filled_hash_*` ordinary orders: each fill writes two fresh filled[hash] slots (before);
- `one_fill_*` single-fill orders: each consumes a bit of its account's nonce bitmap (after);
- `keeper_mix_*` what the keeper's flow makes: ordinary makers (the keeper never rests a
  single-fill order) against single-fill takers (IOC / FOK covered by the book's head);
- `*_distinct` 50 distinct makers against 50 distinct takers, every account cold;
- `*_one_maker` one maker's 50-order grid against 50 distinct takers.
The scenarios are bench_gas.py's (the same FillScenarios): margin tiers and funding on,
the second batch between the same accounts, a funding rate in between (every position
settles funding in the measured fill).

The trace is anvil's default struct-log tracer (debug_traceCall of the measured batch on the
state it is then mined on, stack, memory, storage and return data off; the classes' sum is
checked against the mined receipt), streamed and parsed incrementally (ijson), so a
5M-gas trace of ~250k steps is read in seconds without holding it in memory. Classes:
- sload_cold (2,100), sload_warm (100);
- sstore_fresh: a zero word made non-zero (20,000; 22,100 if the slot was cold);
- sstore_first_write: the first write of a non-zero word in the tx (2,900; 5,000 cold);
  its cold read is in sload_cold when the contract read it first (it always does here);
- sstore_dirty: a rewrite of a word already written in this tx (100; 2,200 cold);
- transient: TLOAD / TSTORE (the reentrancy lock);
- ecrecover: the STATICCALLs to precompile 0x1 (a call that enters no code: no other
  precompile is on this path), 100 for the call + 3,000;
- calls: external calls into other contracts (oracle, rebate engine, funding), each
  call's whole gas, the callee's execution included;
- log (LOG0-4, FillSettled and the batch's events), keccak (KECCAK256: EIP-712 and mapping
  slots), calldata_copy (CALLDATALOAD / CALLDATACOPY / CALLDATASIZE), memory (MLOAD / MSTORE
  / MCOPY / ..., expansion included), other (arithmetic, jumps, stack);
- intrinsic: 21,000 per transaction; calldata: 16 per non-zero and 4 per zero byte;
- refund: the SSTORE refund the transaction gets back (negative).
The classes sum exactly to the transaction's gas used (checked). `floor` is what this
layout cannot drop: the two signatures' ecrecover, the transaction and its calldata, the
first touch of every storage word (cold reads, first and fresh writes) and the logs;
`above_floor` the rest (warm re-reads, dirty rewrites, arithmetic, memory, hashing, calls).

Run: .venv/bin/python bench/bench_gas_profile.py (from the repository root; anvil from
node_modules/.bin, as `make` installs it). docs/performance.md, "Gas".
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from offchain.devnet import PROJECT_ROOT, Anvil

os.chdir(PROJECT_ROOT)  # Ape's project is the repository, wherever this runs from

import ape  # noqa: E402
import ijson  # noqa: E402
import requests  # noqa: E402
from ape_stack import FillScenarios, deploy_exchange  # noqa: E402 - this script's folder is on sys.path

from offchain.order import ONE_FILL  # noqa: E402

BATCH = 50
CALL_OPS = ("CALL", "STATICCALL", "DELEGATECALL", "CALLCODE")
STORAGE_CLASSES = ("sload_cold", "sload_warm", "sstore_fresh", "sstore_first_write", "sstore_dirty", "ecrecover")
FLOOR_CLASSES = ("ecrecover", "intrinsic", "calldata", "sload_cold", "sstore_first_write", "sstore_fresh", "log")
CLASS_ORDER = (
    "sstore_fresh", "sstore_first_write", "sstore_dirty", "sload_cold", "sload_warm", "transient",
    "ecrecover", "calls", "log", "keccak", "calldata_copy", "memory", "other", "intrinsic", "calldata",
    "refund",
)
MEMORY_OPS = frozenset(("MLOAD", "MSTORE", "MSTORE8", "MCOPY", "MSIZE", "CODECOPY", "RETURNDATACOPY",
                        "EXTCODECOPY"))
CALLDATA_OPS = frozenset(("CALLDATALOAD", "CALLDATACOPY", "CALLDATASIZE"))


def op_class(op: str, cost: int) -> str:
    """The class of one non-call opcode by its name and charged gas (EIP-2929 / 2200 /
    3529 prices tell a cold access from a warm one and a fresh write from a rewrite)."""
    if op == "SLOAD":
        return "sload_cold" if cost >= 2_100 else "sload_warm"
    if op == "SSTORE":
        if cost >= 20_000:
            return "sstore_fresh"
        if cost in (2_900, 5_000):
            return "sstore_first_write"
        return "sstore_dirty"
    if op in ("TLOAD", "TSTORE"):
        return "transient"
    if op.startswith("LOG"):
        return "log"
    if op == "KECCAK256":
        return "keccak"
    if op in CALLDATA_OPS:
        return "calldata_copy"
    if op in MEMORY_OPS:
        return "memory"
    return "other"


@dataclass
class _Frame:
    """An open call frame of the trace: the gas before its call, what its steps charged."""

    depth: int
    op: str
    gas_before: int
    charged: int = 0


@dataclass
class Profile:
    """Gas and operation counts per class of one transaction."""

    gas: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)

    def add(self, cls: str, gas: int) -> None:
        self.gas[cls] = self.gas.get(cls, 0) + gas
        self.ops[cls] = self.ops.get(cls, 0) + 1


def profile_steps(steps: Iterable[dict]) -> tuple[Profile, int]:
    """Gas by class of a struct-log trace (geth format: op, gas, gasCost, depth, refund),
    and the refund counter at its end.

    A call step's gasCost is the gas it forwards, not what it used, so a call is charged
    when its frame returns: the gas it consumed (gas before the call minus gas after it),
    whole to `calls` for an external call (CALL / STATICCALL into another contract), or,
    for a DELEGATECALL into the Exchange's own engines (their storage is the Exchange's),
    the callee's steps by their classes and only the call's own overhead to `calls`. A
    call followed by a step at the same depth entered no code: a precompile (ecrecover).
    """
    prof = Profile()
    frames: list[_Frame] = []
    pending: dict | None = None  # the last call step, until the next step shows where it went
    external = 0  # open external-call frames: their steps are charged whole at return
    refund = 0

    def charge(cls: str, gas: int) -> None:
        if external == 0:
            prof.add(cls, gas)
        if frames:
            frames[-1].charged += gas

    for step in steps:
        depth, gas = step["depth"], int(step["gas"])
        refund = int(step.get("refund", refund))
        if pending is not None:
            if depth == pending["depth"] + 1:  # entered the callee's code
                frames.append(_Frame(pending["depth"], pending["op"], int(pending["gas"])))
                if pending["op"] != "DELEGATECALL":
                    external += 1
            else:  # no code ran: a precompile
                used = int(pending["gas"]) - gas
                charge("ecrecover" if pending["op"] == "STATICCALL" else "calls", used)
            pending = None
        while frames and depth <= frames[-1].depth:  # a callee returned
            frame = frames.pop()
            used = frame.gas_before - gas
            if frame.op == "DELEGATECALL":
                charge("calls", used - frame.charged)  # its steps were charged by class
                if frames:
                    frames[-1].charged += frame.charged
            else:
                external -= 1
                charge("calls", used)
        op = step["op"]
        if op in CALL_OPS:
            pending = step
            continue
        charge(op_class(op, int(step["gasCost"])), int(step["gasCost"]))
    if pending is not None or frames:
        raise ValueError("trace ends inside a call")
    return prof, refund


def calldata_gas(data: bytes) -> int:
    """The transaction's calldata gas (EIP-2028: 4 per zero byte, 16 per other byte)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def rpc(uri: str, method: str, params: list) -> dict:
    reply = requests.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                          timeout=60).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def trace_steps(uri: str, call: dict) -> Iterator[dict]:
    """The struct logs of `call` run on the latest block, streamed from anvil and parsed as
    they come. debug_traceCall, not debug_traceTransaction: anvil records a mined
    transaction's steps only under --steps-tracing, which keeps every transaction's steps,
    stack and memory included, for the node's life (on this bench's ~600 transactions it
    grew past 20 GB); the call is traced on demand with stack, memory, storage and return
    data off. The caller sends the same transaction next and checks its gas."""
    options = {"disableStack": True, "disableMemory": True, "disableStorage": True,
               "enableMemory": False, "enableReturnData": False}
    body = {"jsonrpc": "2.0", "id": 1, "method": "debug_traceCall", "params": [call, "latest", options]}
    with requests.post(uri, json=body, stream=True, timeout=600) as response:
        response.raise_for_status()
        response.raw.decode_content = True
        yield from ijson.items(response.raw, "result.structLogs.item", use_float=True)


def profile_call(uri: str, sender: str, to: str, data: bytes) -> tuple[Profile, int]:
    """Gas by class of a transaction (`sender` calls `to` with `data`) on the latest
    block, intrinsic and calldata included, refund subtracted; and its gas (the sum)."""
    call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(30_000_000)}
    prof, refund = profile_steps(trace_steps(uri, call))
    prof.gas["intrinsic"], prof.gas["calldata"] = 21_000, calldata_gas(data)
    spent = sum(prof.gas.values())
    prof.gas["refund"] = -min(refund, spent // 5)  # EIP-3529: at most a fifth of the gas used
    return prof, sum(prof.gas.values())


def report(path: str, prof: Profile, total: int, n: int) -> dict[str, int]:
    """Print the path's lines (gas per fill per class, ops per fill); the figures."""
    per_fill = {cls: round(prof.gas.get(cls, 0) / n) for cls in CLASS_ORDER}
    for cls in CLASS_ORDER:
        print(f"gas_profile_{path}_{cls}: {per_fill[cls]}")
    for cls in STORAGE_CLASSES:
        print(f"gas_profile_{path}_{cls}_ops: {prof.ops.get(cls, 0) / n:.2f}")
    floor = sum(prof.gas.get(cls, 0) for cls in FLOOR_CLASSES)
    print(f"gas_profile_{path}_floor: {round(floor / n)}")
    print(f"gas_profile_{path}_above_floor: {round((total - floor) / n)}")
    print(f"gas_profile_{path}_total: {total // n}")
    return per_fill


def main() -> None:
    started = time.time()
    from ape.logging import logger

    logger.set_level("ERROR")
    # our own anvil (silent, output to /dev/null): the anvil Ape launches itself writes a
    # line per transaction into a pipe, and after a few hundred transactions it blocked
    # on that pipe mid-run (session 3's "trace stalls": a settle that never got a receipt)
    with Anvil() as node:
        os.environ["APE_FOUNDRY_HOST"] = node.url
        run(node.url)
    print(f"bench_seconds: {time.time() - started:.1f}")


def run(uri: str) -> None:
    """Deploy, then settle, trace and report each path's measured batch."""
    with ape.networks.parse_network_choice("ethereum:local:foundry"):
        accts = ape.accounts.test_accounts
        admin, operator, treasury = accts[0], accts[1], accts[6]
        stack = deploy_exchange(admin, operator, treasury)
        exchange = stack.exchange
        scen = FillScenarios(stack, admin, operator)
        scen.set_margin_tiers()
        stack.exchange.set_funding(scen.deploy_funding(), sender=admin)
        for shape in ("distinct", "one_maker"):
            for flags, taker_flags, kind in ((0, 0, "filled_hash"), (ONE_FILL, ONE_FILL, "one_fill"),
                                             (0, ONE_FILL, "keeper_mix")):
                makers = scen.new_keys(BATCH) if shape == "distinct" else scen.new_keys(1) * BATCH
                traced: list[tuple[Profile, int]] = []

                def trace(fills: list[tuple]) -> None:
                    data = bytes(exchange.settle.as_transaction(fills, sender=operator).data)
                    traced.append(profile_call(uri, operator.address, exchange.address, data))

                tx = scen.measure_tx(makers, scen.new_keys(BATCH), flags, owed=True, before=trace,
                                     taker_flags=taker_flags)
                prof, total = traced[0]
                # the classes add up to the mined transaction's gas (a step charged twice or
                # lost, or a traced state that is not the one the transaction met, fails here)
                assert total == tx.gas_used, (total, tx.gas_used, prof.gas)
                assert prof.ops.get("ecrecover") == 2 * BATCH, prof.ops  # both signatures of every fill
                report(f"{kind}_{shape}", prof, total, BATCH)


if __name__ == "__main__":
    main()
