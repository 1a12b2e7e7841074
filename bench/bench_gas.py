"""Gas benchmark of the Exchange on Ape's in-process test provider.

Prints `name: value` lines (gas units). Per-fill numbers are the settle transaction's
gas used (intrinsic + calldata included) divided by the number of fills.

Scenarios (steady state: every account already holds collateral, an open position and,
for single-fill orders, a written nonce-bitmap word; nonces are sequential per account, as
the SDK picks them). Margin tiers are set for every figure; funding is on for every figure
after the `_no_funding` pair, with one funding rate between the warm-up batch and the
measured one, so every position settles funding in the measured fill (the worst case).
Each scenario runs twice in the same run, as an A/B pair:
- the headline name: both orders ONE_FILL (a single-fill order consumes one bit of its
  account's nonce bitmap; docs/exchange.md "Single-fill orders");
- `_filled_hash`: ordinary orders (each fill writes two fresh filled[hash] slots).
- gas_per_fill_batchN: N distinct makers (one order each) against N distinct takers.
- gas_per_fill_batchN_one_maker: one maker with N resting orders (a grid) against N
  distinct takers.
- gas_per_fill_batch50_sweep: one taker order sweeping 50 distinct makers (the taker's
  order fills in parts: filled[hash]; the makers' orders single-fill, or not for _filled_hash).
- gas_per_fill_batch50_one_maker_no_funding(_filled_hash): the one-maker batch before a
  Funding contract is set; _funding_idle: funding on at an unchanged index;
  gas_settle_funding: gas_per_fill_batch50_one_maker minus _no_funding, same run
  (#14's bound: <= 3,000). Last (margin tiers on by then): _funding_residue, a rate whose
  payments are not whole units (the residue's sweep to the insurance fund in the batch),
  and gas_funding_residue_per_fill, it minus the same batch after a whole-unit rate.

Run: .venv/bin/python bench/bench_gas.py (from the repository root).

Profile: MMX_BENCH_PROFILE=1 .venv/bin/python bench/bench_gas.py runs the same scenarios
on anvil (ethereum:local:foundry) and, for each batch-of-50 settle, prints the gas per
fill by opcode class from debug_traceTransaction (storage reads / writes, logs, keccak,
ecrecover, external calls, memory copies, everything else) plus intrinsic + calldata.
"""

from __future__ import annotations

import os
import time

from offchain.devnet import PROJECT_ROOT

os.chdir(PROJECT_ROOT)  # Ape's project is the repository, wherever this runs from

import ape  # noqa: E402
from ape_stack import deploy_exchange  # noqa: E402 - this script's folder is on sys.path

from offchain.order import ONE_FILL, Order, address_of, sign_order  # noqa: E402

USDC = 10**6
ONE = 10**18
ETH = 1
PRICE = 2_000 * USDC
FAR = 2**40
SIZE = 10**17  # 0.1 ETH per fill


def key_of(i: int) -> bytes:
    return (0xB0B0_0000 + i).to_bytes(32, "big")


PROFILE = os.environ.get("MMX_BENCH_PROFILE", "") not in ("", "0")


def intrinsic(tx_input: bytes) -> int:
    zeros = tx_input.count(0)
    return 21_000 + 4 * zeros + 16 * (len(tx_input) - zeros)


def classify(op: str) -> str:
    if op == "SLOAD":
        return "sload"
    if op == "SSTORE":
        return "sstore"
    if op.startswith("LOG"):
        return "log"
    if op == "KECCAK256":
        return "keccak"
    if op in ("STATICCALL", "CALL", "DELEGATECALL"):
        return "call"
    if op in ("CALLDATACOPY", "MCOPY", "CODECOPY", "RETURNDATACOPY"):
        return "copy"
    if op in ("MLOAD", "MSTORE", "MSTORE8"):
        return "mload/mstore"
    if op in ("CALLDATALOAD",):
        return "calldataload"
    return "other"


def profile(tx, n: int) -> None:
    """Gas per fill of one settle by opcode class (needs anvil's debug_traceTransaction)."""
    provider = ape.chain.provider
    trace = provider.make_request(
        "debug_traceTransaction",
        [tx.txn_hash, {"disableStorage": True, "disableMemory": True, "disableStack": True}],
    )
    totals: dict[str, int] = {}
    logs = trace["structLogs"]
    dump = os.environ.get("MMX_BENCH_TRACE_DIR")
    if dump:
        import json

        with open(os.path.join(dump, f"trace_{tx.txn_hash}.json"), "w") as fh:
            json.dump([(s["pc"], s["op"], s["gasCost"], s["depth"]) for s in logs], fh)
    for i, step in enumerate(logs):
        op, cost, depth = step["op"], step["gasCost"], step["depth"]
        if depth > 1:
            continue  # inside a callee: charged to the call below
        key = classify(op)
        if key == "call":
            # gasCost of a call includes the gas forwarded: charge what it really used
            j = i + 1
            while j < len(logs) and logs[j]["depth"] != depth:
                j += 1
            if j < len(logs):
                cost = step["gas"] - logs[j]["gas"]
            if op == "STATICCALL" and i + 1 < len(logs) and logs[i + 1]["depth"] == depth:
                key = "ecrecover"  # a precompile: no callee steps
        totals[key] = totals.get(key, 0) + cost
    data = bytes(tx.data) if hasattr(tx, "data") else b""
    base = intrinsic(data)
    totals["intrinsic+calldata"] = base
    total = sum(totals.values())
    print(f"  profile (gas/fill; tx total {tx.gas_used}, traced {total}):")
    for key, value in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"    {key:>20}: {value / n:>9,.0f}")


def main() -> None:
    started = time.time()
    from ape.logging import logger

    logger.set_level("ERROR")
    network = "ethereum:local:foundry" if PROFILE else "ethereum:local:test"
    with ape.networks.parse_network_choice(network):
        project = ape.project
        accts = ape.accounts.test_accounts
        admin, operator = accts[0], accts[1]
        treasury = accts[6]

        stack = deploy_exchange(admin, operator, treasury)
        usdc, oracle, exchange, domain = stack.usdc, stack.oracle, stack.exchange, stack.domain

        usdc.mint(admin, 10**15, sender=admin)
        usdc.approve(exchange, 2**256 - 1, sender=admin)

        # simple single-account operations
        trader = accts[2]
        usdc.mint(trader, 10**12, sender=admin)
        usdc.approve(exchange, 2**256 - 1, sender=trader)
        exchange.deposit(1_000 * USDC, sender=trader)  # first deposit warms the slot
        print(f"gas_deposit: {exchange.deposit(1_000 * USDC, sender=trader).gas_used}")
        print(f"gas_withdraw: {exchange.withdraw(100 * USDC, sender=trader).gas_used}")
        order = Order(trader.address, ETH, True, PRICE, SIZE, 1, FAR, 0)
        print(f"gas_cancel: {exchange.cancel_order(order.as_tuple(), sender=trader).gas_used}")
        # a single-fill order's cancel sets its nonce bit; the first in a word pays the fresh slot
        exchange.cancel_order(Order(trader.address, ETH, True, PRICE, SIZE, 2, FAR, ONE_FILL).as_tuple(), sender=trader)
        one = Order(trader.address, ETH, True, PRICE, SIZE, 3, FAR, ONE_FILL)
        print(f"gas_cancel_one_fill: {exchange.cancel_order(one.as_tuple(), sender=trader).gas_used}")
        print(f"gas_oracle_update: {oracle.set_price(ETH, PRICE + 10_000, sender=admin).gas_used}")
        oracle.set_price(ETH, PRICE, sender=admin)

        next_key = [1]
        nonces: dict[bytes, int] = {}

        def new_keys(n):
            keys = [key_of(next_key[0] + i) for i in range(n)]
            next_key[0] += n
            for k in keys:
                exchange.deposit_for(address_of(k), 100_000 * USDC, sender=admin)
            return keys

        def order_for(key, is_buy, size=SIZE, flags=0):
            # sequential nonces per account (the SDK's rule): an account's single-fill
            # orders share one bitmap word per 256 nonces
            nonces[key] = nonces.get(key, 0) + 1
            return Order(address_of(key), ETH, is_buy, PRICE, size, nonces[key], FAR, flags)

        def fills_for(maker_keys, taker_keys, flags=0):
            fills = []
            for mk, tk in zip(maker_keys, taker_keys):
                m = order_for(mk, True, flags=flags)
                t = order_for(tk, False, flags=flags)
                fills.append(
                    (
                        m.as_tuple(),
                        sign_order(m, domain, mk).as_tuple(),
                        t.as_tuple(),
                        sign_order(t, domain, tk).as_tuple(),
                        SIZE,
                    )
                )
            return fills

        def settle_tx(fills, show=False):
            tx = exchange.settle(fills, sender=operator)
            settled = len(tx.decode_logs(exchange.FillSettled))
            assert settled == len(fills), [log.reason for log in tx.decode_logs(exchange.FillSkipped)]
            if show and PROFILE:
                profile(tx, len(fills))
            return tx

        def settle(fills, show=False):
            return settle_tx(fills, show).gas_used

        funding = project.Funding.deploy(oracle, sender=admin)
        funding.grantRole(funding.FUNDING_ROLE(), admin, sender=admin)
        funding.set_funding_config(ETH, 60, 10**12, sender=admin)

        def accrue():
            # one funding rate: every open position owes since its snapshot
            ape.chain.pending_timestamp += 130
            oracle.set_price(ETH, PRICE, sender=admin)
            _, last, _, _ = funding.funding_state(ETH)
            funding.update_funding(ETH, last + 1, 10**8, sender=admin)

        def measure(makers, takers, flags, show=False, owed=False):
            """Gas per fill of the second batch between the same accounts (steady state:
            positions open, nonce words written); `owed`: a funding rate in between."""
            settle(fills_for(makers, takers, flags))
            if owed:
                accrue()
            tx = settle_tx(fills_for(makers, takers, flags), show=show)
            if owed:
                events = tx.decode_logs(exchange.FillSettled)
                assert all(e.taker_funding != 0 for e in events), "every taker owes"
            return tx.gas_used // len(makers)

        # margin tiers on for every figure (docs/exchange.md, "Margin tiers"): 3 tiers
        exchange.set_margin_tiers(ETH, [0, 10**6 * USDC, 5 * 10**6 * USDC], [1_000, 2_000, 5_000],
                                  [500, 1_000, 2_500], sender=admin)

        # A/B before funding is switched on: ONE_FILL orders against filled[hash] orders
        maker = new_keys(1)
        no_funding = measure(maker * 50, new_keys(50), ONE_FILL)
        no_funding_hash = measure(maker * 50, new_keys(50), 0)
        print(f"gas_per_fill_batch50_one_maker_no_funding: {no_funding}")
        print(f"gas_per_fill_batch50_one_maker_no_funding_filled_hash: {no_funding_hash}")

        # funding on (docs/funding.md, "Exchange integration") for every later figure; the
        # headline figures have a funding rate between the two batches, so every position
        # settles funding in the measured fill (the worst case), and single-fill orders
        exchange.set_funding(funding, sender=admin)
        for n in (1, 10, 50):
            for flags, suffix in ((ONE_FILL, ""), (0, "_filled_hash")):
                gas = measure(new_keys(n), new_keys(n), flags, show=n == 50, owed=True)
                print(f"gas_per_fill_batch{n}{suffix}: {gas}")
        for n in (1, 10, 50):
            for flags, suffix in ((ONE_FILL, ""), (0, "_filled_hash")):
                gas = measure(new_keys(1) * n, new_keys(n), flags, show=n == 50, owed=True)
                print(f"gas_per_fill_batch{n}_one_maker{suffix}: {gas}")
                if n == 50 and flags:
                    owed_gas = gas
        maker = new_keys(1)
        takers = new_keys(50)
        settle(fills_for(maker * 50, takers, ONE_FILL))
        idle_gas = measure(maker * 50, takers, ONE_FILL)  # same index: nothing owed
        print(f"gas_per_fill_batch50_one_maker_funding_idle: {idle_gas}")
        # funding's extra per fill (#14's bound: <= 3,000): every position owes vs no Funding
        print(f"gas_settle_funding: {owed_gas - no_funding}")

        def sweep_fills(maker_keys, taker_key, flags):
            # one taker order for the whole sweep (filled in parts: filled[hash]), one
            # resting order per maker (single-fill when `flags`)
            t = order_for(taker_key, False, SIZE * len(maker_keys))
            t_sig = sign_order(t, domain, taker_key).as_tuple()
            fills = []
            for mk in maker_keys:
                m = order_for(mk, True, flags=flags)
                fills.append((m.as_tuple(), sign_order(m, domain, mk).as_tuple(), t.as_tuple(), t_sig, SIZE))
            return fills

        for flags, suffix in ((ONE_FILL, ""), (0, "_filled_hash")):
            makers = new_keys(50)
            taker = new_keys(1)[0]
            settle(sweep_fills(makers, taker, flags))
            accrue()
            gas = settle(sweep_fills(makers, taker, flags), show=flags != 0)
            print(f"gas_per_fill_batch50_sweep{suffix}: {gas // 50}")

        # risk engine: one book liquidation step (a settle of one fill whose taker is an
        # unsigned liquidation order), a backstop liquidation and an ADL of one counterparty
        backstop = accts[4]
        usdc.mint(backstop, 10**12, sender=admin)
        usdc.approve(exchange, 2**256 - 1, sender=backstop)
        exchange.deposit(10**11, sender=backstop)
        exchange.set_backstop(backstop, sender=admin)
        friend = new_keys(1)[0]

        def underwater(collateral):
            k = key_of(next_key[0])
            next_key[0] += 1
            exchange.deposit_for(address_of(k), collateral, sender=admin)
            m = order_for(friend, False, ONE)
            t = order_for(k, True, ONE)
            f = (m.as_tuple(), sign_order(m, domain, friend).as_tuple(), t.as_tuple(), sign_order(t, domain, k).as_tuple(), ONE)
            settle([f])
            return address_of(k)

        victims = [underwater(250 * USDC) for _ in range(4)]
        oracle.set_price(ETH, 1_830 * USDC, sender=admin)  # each below maintenance, above 2/3
        m = order_for(friend, True, ONE // 2)
        t = Order(victims[0], ETH, False, 1_830 * USDC, ONE // 2, 1, FAR, 4)
        m = Order(m.account, ETH, True, 1_830 * USDC, ONE // 2, m.nonce, FAR, 0)
        f = (m.as_tuple(), sign_order(m, domain, friend).as_tuple(), t.as_tuple(), (0, b"\x00" * 32, b"\x00" * 32), ONE // 2)
        print(f"gas_liquidate_step: {settle([f])}")
        print(f"gas_liquidate_backstop: {exchange.liquidate(victims[1], ETH, sender=admin).gas_used}")
        oracle.set_price(ETH, 1_500 * USDC, sender=admin)  # victims[2] bankrupt, fund short
        tx = exchange.adl(victims[2], ETH, [address_of(friend)], sender=operator)
        assert len(tx.decode_logs(exchange.Adl)) == 1
        print(f"gas_adl: {tx.gas_used}")
        # no profitable counterparty listed: the backstop absorbs it at the bankruptcy price
        tx = exchange.adl(victims[3], ETH, [backstop], sender=operator)
        assert tx.decode_logs(exchange.Adl)[0].counterparty == backstop.address
        print(f"gas_adl_backstop: {tx.gas_used}")

        # an odd rate: every settlement leaves a rounding residue, whose whole units move
        # to the insurance fund once per batch (docs/funding.md, "Rounding residue")
        # (last, so the fund is still empty for the figures above; twice: the first writes
        # the dust and fund slots from zero, the figure is the second)
        oracle.set_price(ETH, PRICE, sender=admin)
        maker = new_keys(1)
        takers = new_keys(50)
        settle(fills_for(maker * 50, takers, ONE_FILL))  # open at the current index
        # A/B in the same state: 10**8 pays whole units (no residue), 98_765 does not
        per_fill = {}
        for rate in (123_457, 10**8, 98_765):
            ape.chain.pending_timestamp += 130
            oracle.set_price(ETH, PRICE, sender=admin)
            _, last, _, _ = funding.funding_state(ETH)
            funding.update_funding(ETH, last + 1, rate, sender=admin)
            tx = exchange.settle(fills_for(maker * 50, takers, ONE_FILL), sender=operator)
            events = tx.decode_logs(exchange.FillSettled)
            assert len(events) == 50 and all(e.taker_funding != 0 for e in events)  # every taker settles
            assert bool(tx.decode_logs(exchange.InsuranceInflow)) == (rate != 10**8)
            per_fill[rate] = tx.gas_used // 50
        print(f"gas_per_fill_batch50_one_maker_funding_residue: {per_fill[98_765]}")
        print(f"gas_funding_residue_per_fill: {per_fill[98_765] - per_fill[10**8]}")

    print(f"bench_seconds: {time.time() - started:.1f}")


if __name__ == "__main__":
    main()
