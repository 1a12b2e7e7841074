"""Gas benchmark of the Exchange on Ape's in-process test provider.

Prints `name: value` lines (gas units). Per-fill numbers are the settle transaction's
gas used (intrinsic + calldata included) divided by the number of fills.

Scenarios (steady state: every account already holds collateral, an open position and,
for single-fill orders, a written nonce-bitmap word; nonces are sequential per account, so
an account's single-fill orders share a word, as the SDK's and the runners' do:
offchain/nonces.py). Margin tiers are set for every figure; funding is on for every figure
after the `_no_funding` pair, with one funding rate between the warm-up batch and the
measured one, so every position settles funding in the measured fill (the worst case).
Each scenario runs twice in the same run, as an A/B pair:
- the headline name: both orders ONE_FILL (a single-fill order consumes one bit of its
  account's nonce bitmap; docs/exchange.md "Single-fill orders");
- `_filled_hash`: ordinary orders (each fill writes two fresh filled[hash] slots).
- gas_per_fill_batchN: N distinct makers (one order each) against N distinct takers.
- gas_per_fill_batchN_one_maker: one maker with N resting orders (a grid) against N
  distinct takers.
- gas_per_fill_batch50(_one_maker)_taker_one_fill: the keeper's own mix, ordinary (resting)
  maker orders against single-fill takers (the keeper takes ONE_FILL only as an IOC / FOK
  taker covered by the book's head; it never rests one).
- gas_per_fill_batch50_sweep: one taker order sweeping 50 distinct makers (the taker's
  order fills in parts: filled[hash]; the makers' orders single-fill, or not for _filled_hash).
- gas_per_fill_batch50_one_maker_no_funding(_filled_hash): the one-maker batch before a
  Funding contract is set; _funding_idle: funding on at an unchanged index;
  gas_settle_funding: gas_per_fill_batch50_one_maker minus _no_funding, same run
  (#14's bound: <= 3,000). Last (margin tiers on by then): _funding_residue, a rate whose
  payments are not whole units (the residue's sweep to the insurance fund in the batch),
  and gas_funding_residue_per_fill, it minus the same batch after a whole-unit rate.
- Risk engine (single transactions): gas_liquidate_step (a settle of one fill whose taker is
  the unsigned liquidation order), gas_liquidate_backstop, gas_adl (one profitable
  counterparty), gas_adl_backstop (the backstop only), gas_socialise (the last tier: one
  close at mark, the deficit shared by two accounts).

Run: .venv/bin/python bench/bench_gas.py (from the repository root).

Per-fill opcode profile of the batch-of-50 scenarios (both order kinds, one maker and
distinct accounts): bench/bench_gas_profile.py, on anvil, from the same FillScenarios.
"""

from __future__ import annotations

import os
import time

from offchain.devnet import PROJECT_ROOT

os.chdir(PROJECT_ROOT)  # Ape's project is the repository, wherever this runs from

import ape  # noqa: E402
from ape_stack import ONE, FAR, PRICE, SIZE, USDC, FillScenarios, deploy_exchange  # noqa: E402 - this script's folder is on sys.path

from offchain.order import ONE_FILL, Order, address_of, sign_order  # noqa: E402

ETH = 1


def main() -> None:
    started = time.time()
    from ape.logging import logger

    logger.set_level("ERROR")
    with ape.networks.parse_network_choice("ethereum:local:test"):
        accts = ape.accounts.test_accounts
        admin, operator = accts[0], accts[1]
        treasury = accts[6]

        stack = deploy_exchange(admin, operator, treasury)
        usdc, oracle, exchange, domain = stack.usdc, stack.oracle, stack.exchange, stack.domain
        scen = FillScenarios(stack, admin, operator)

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

        new_keys, order_for, fills_for = scen.new_keys, scen.order_for, scen.fills_for

        def settle(fills):
            return scen.settle_tx(fills).gas_used

        funding = scen.deploy_funding()

        def measure(makers, takers, flags, owed=False, taker_flags=None):
            return scen.measure_tx(makers, takers, flags, owed, taker_flags=taker_flags).gas_used // len(makers)

        # margin tiers on for every figure (docs/exchange.md, "Margin tiers"): 3 tiers
        scen.set_margin_tiers()

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
                gas = measure(new_keys(n), new_keys(n), flags, owed=True)
                print(f"gas_per_fill_batch{n}{suffix}: {gas}")
        for n in (1, 10, 50):
            for flags, suffix in ((ONE_FILL, ""), (0, "_filled_hash")):
                gas = measure(new_keys(1) * n, new_keys(n), flags, owed=True)
                print(f"gas_per_fill_batch{n}_one_maker{suffix}: {gas}")
                if n == 50 and flags:
                    owed_gas = gas
        # what the keeper's flow makes: resting makers are ordinary orders (the keeper never
        # rests a single-fill order), IOC / FOK takers single-fill where the head covers them
        print(f"gas_per_fill_batch50_taker_one_fill: {measure(new_keys(50), new_keys(50), 0, True, ONE_FILL)}")
        gas = measure(new_keys(1) * 50, new_keys(50), 0, True, ONE_FILL)
        print(f"gas_per_fill_batch50_one_maker_taker_one_fill: {gas}")
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
            return [scen.fill(order_for(mk, True, flags=flags), mk, t, taker_key, SIZE) for mk in maker_keys]

        for flags, suffix in ((ONE_FILL, ""), (0, "_filled_hash")):
            makers = new_keys(50)
            taker = new_keys(1)[0]
            settle(sweep_fills(makers, taker, flags))
            scen.accrue()
            gas = settle(sweep_fills(makers, taker, flags))
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
            k = new_keys(1, collateral)[0]
            settle([scen.fill(order_for(friend, False, ONE), friend, order_for(k, True, ONE), k, ONE)])
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
            scen.accrue(rate)
            tx = exchange.settle(fills_for(maker * 50, takers, ONE_FILL), sender=operator)
            events = tx.decode_logs(exchange.FillSettled)
            assert len(events) == 50 and all(e.taker_funding != 0 for e in events)  # every taker settles
            assert bool(tx.decode_logs(exchange.InsuranceInflow)) == (rate != 10**8)
            per_fill[rate] = tx.gas_used // 50
        print(f"gas_per_fill_batch50_one_maker_funding_residue: {per_fill[98_765]}")
        print(f"gas_funding_residue_per_fill: {per_fill[98_765] - per_fill[10**8]}")

        # loss socialisation, the waterfall's last tier (docs/exchange.md, "Loss
        # socialisation"): a long bankrupt after a 15% gap whose opposite short was reopened
        # at the gap price (no profitable counterparty), a backstop too thin to take it
        oracle.set_price(ETH, PRICE, sender=admin)
        thin = new_keys(1, 100 * USDC)[0]
        exchange.set_backstop(address_of(thin), sender=admin)
        bankrupt, short, late = new_keys(1, 250 * USDC)[0], new_keys(1)[0], new_keys(1, 10_000 * USDC)[0]
        settle([scen.fill(order_for(short, False, ONE), short, order_for(bankrupt, True, ONE), bankrupt, ONE)])
        gap = 1_700 * USDC
        oracle.set_price(ETH, gap, sender=admin)
        settle([scen.fill(order_for(short, True, ONE, price=gap), short, order_for(late, False, ONE, price=gap), late, ONE)])
        listed = sorted((address_of(late), address_of(thin)), key=lambda a: int(a, 16))
        tx = ape.project.ExchangeAccounts.at(exchange.address).socialise(address_of(bankrupt), ETH, listed, sender=operator)
        assert [e.counterparty for e in tx.decode_logs(exchange.Adl)] == [address_of(late)]
        assert len(tx.decode_logs(exchange.LossSocialised)) == 2
        print(f"gas_socialise: {tx.gas_used}")

    print(f"bench_seconds: {time.time() - started:.1f}")


if __name__ == "__main__":
    main()
