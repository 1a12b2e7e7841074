"""Gas of sub-accounts and position transfers on Ape's in-process test provider.

Prints `name: value` lines (gas units, whole transactions):
- gas_open_subaccount, gas_move_collateral, gas_split, gas_merge: an owner's calls;
- gas_transfer_position: a relayed transfer with both EIP-712 signatures (two ecrecovers,
  two margin checks; the target already holds a position);
- gas_settle_fill_sub_signed_by_owner_agent vs gas_settle_fill_signed_by_account: one
  fill whose maker is a sub-account signed by its owner's agent (the signer check's
  fallback term) against the same fill signed by the account itself (steady state);
- exchange_runtime_bytes: the Exchange's deployed size (EIP-170: 24,576).

Run: python bench/bench_subaccounts.py (from the repository root).
"""

from __future__ import annotations

import ape

from ape_stack import MARKET as ETH, PRICE, USDC, deploy_exchange  # this script's folder is on sys.path

from offchain.order import Order, sign_order
from offchain.subaccounts import NO_SIGNATURE, PositionTransfer, sign_transfer, subaccount_address

ONE = 10**18
FAR = 2**40


def main() -> None:
    from ape.logging import logger

    logger.set_level("ERROR")
    with ape.networks.parse_network_choice("ethereum:local:test"):
        project = ape.project
        accts = ape.accounts.test_accounts
        admin, operator, owner, cp, agent, treasury = accts[0], accts[1], accts[2], accts[3], accts[4], accts[6]
        stack = deploy_exchange(admin, operator, treasury)
        usdc, exchange, domain = stack.usdc, stack.exchange, stack.domain
        subs = project.ExchangeAccounts.at(exchange.address)
        for a in (owner, cp):
            usdc.mint(a, 10**12, sender=admin)
            usdc.approve(exchange, 2**256 - 1, sender=a)
            exchange.deposit(100_000 * USDC, sender=a)
        exchange.approve_agent(agent, True, sender=owner)
        nonce = iter(range(1, 10**9))

        def fill(maker, maker_key, taker, taker_key, maker_buys, size=ONE // 10):
            m = Order(maker, ETH, maker_buys, PRICE, size, next(nonce), FAR, 0)
            t = Order(taker, ETH, not maker_buys, PRICE, size, next(nonce), FAR, 0)
            return exchange.settle([(m.as_tuple(), sign_order(m, domain, maker_key).as_tuple(), t.as_tuple(),
                                     sign_order(t, domain, taker_key).as_tuple(), size)], sender=operator)

        fill(owner.address, owner.private_key, cp.address, cp.private_key, True, ONE)  # owner long 1
        tx = subs.open_subaccount(1, sender=owner)
        print(f"gas_open_subaccount: {tx.gas_used}")
        sub = subaccount_address(owner.address, 1)
        subs.move_collateral(owner, sub, 1_000 * USDC, sender=owner)  # warm
        print(f"gas_move_collateral: {subs.move_collateral(owner, sub, 1_000 * USDC, sender=owner).gas_used}")
        subs.split(sub, ETH, ONE // 10, 0, sender=owner)  # the sub's position slot exists now
        print(f"gas_split: {subs.split(sub, ETH, ONE // 10, 1_000 * USDC, sender=owner).gas_used}")
        print(f"gas_merge: {subs.merge(sub, ETH, 0, sender=owner).gas_used}")
        subs.split(sub, ETH, ONE // 2, 0, sender=owner)

        t = PositionTransfer(sub, cp.address, ETH, ONE // 10, PRICE, next(nonce), FAR)
        ks = sign_transfer(t, domain, owner.private_key).as_tuple()
        cs = sign_transfer(t, domain, cp.private_key).as_tuple()
        tx = subs.transfer_position(t.as_tuple(), ks, cs, sender=operator)
        print(f"gas_transfer_position: {tx.gas_used}")
        t = PositionTransfer(sub, owner.address, ETH, ONE // 10, PRICE, next(nonce), FAR)
        print(f"gas_transfer_position_owner_alone: {subs.transfer_position(t.as_tuple(), NO_SIGNATURE, NO_SIGNATURE, sender=owner).gas_used}")

        # settle: the same steady-state fill, signed by the account vs by the owner's agent
        # (both reduce a long that stays open: the same storage writes)
        small = ONE // 100
        for _ in range(2):  # warm both accounts' words and position slots
            fill(owner.address, owner.private_key, cp.address, cp.private_key, False, small)
            fill(sub, agent.private_key, cp.address, cp.private_key, False, small)
        own = fill(owner.address, owner.private_key, cp.address, cp.private_key, False, small).gas_used
        via = fill(sub, agent.private_key, cp.address, cp.private_key, False, small).gas_used
        print(f"gas_settle_fill_signed_by_account: {own}")
        print(f"gas_settle_fill_sub_signed_by_owner_agent: {via}")
        print(f"exchange_runtime_bytes: {len(bytes(ape.chain.provider.get_code(exchange.address)))}")


if __name__ == "__main__":
    main()
