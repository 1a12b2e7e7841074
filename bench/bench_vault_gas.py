"""Gas benchmark of the vault, the liquidity pool and liquidation (Ape's test provider).

Prints `name: value` lines (gas used by the transaction, intrinsic cost included).
Steady state: the vault and the pool hold an open position in market 1 (so equity is
valued at mark through the Exchange), and the depositor already holds shares.
- gas_vault_deposit: a follower's second deposit into a vault.
- gas_vault_withdraw: an instant partial withdrawal that pays a profit share.
- gas_pool_deposit: an LP's second deposit into the pool.
- gas_pool_withdraw: a partial redeem from the pool (after the lock-up).
- gas_liquidate: Exchange.liquidate moving a 4.5-unit position to the pool.

Run: .venv/bin/python bench/bench_vault_gas.py (from the repository root).
"""

from __future__ import annotations

import itertools
import os

from offchain.devnet import PROJECT_ROOT
from offchain.order import Order, sign_order

os.chdir(PROJECT_ROOT)  # Ape's project is the repository, wherever this runs from

import ape  # noqa: E402
from ape_stack import MARKET, PRICE, USDC, deploy_exchange  # noqa: E402 - this script's folder is on sys.path

ONE = 10**18
FAR = 2**40
DAY = 86_400


def main() -> None:
    with ape.networks.parse_network_choice("ethereum:local:test"):
        project = ape.project
        chain = ape.chain
        a = ape.accounts.test_accounts
        admin, operator, owner, manager, follower, lp, trader, taker, treasury, keeper = (a[i] for i in range(10))

        stack = deploy_exchange(admin, operator, treasury, max_age=DAY, maker_rebate_bps=1, band_bps=1_000)
        usdc, oracle, exchange, domain = stack.usdc, stack.oracle, stack.exchange, stack.domain
        nonces = itertools.count(1)

        def fund(acct, amount, spender):
            usdc.mint(acct, amount, sender=admin)
            usdc.approve(spender, 2**256 - 1, sender=acct)

        def trade(maker, maker_signer, taker_acct, maker_is_buy, size, price=PRICE):
            m = Order(maker.address, MARKET, maker_is_buy, price, size, next(nonces), FAR, 0)
            t = Order(taker_acct.address, MARKET, not maker_is_buy, price, size, next(nonces), FAR, 0)
            ms = sign_order(m, domain, maker_signer.private_key)
            ts = sign_order(t, domain, taker_acct.private_key)
            exchange.settle([(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), size)], sender=operator)

        fund(taker, 10_000_000 * USDC, exchange)
        exchange.deposit(10_000_000 * USDC, sender=taker)

        # ---- vault
        blueprint = admin.declare(project.Vault).contract_address
        factory = project.VaultFactory.deploy(blueprint, exchange, usdc, keeper, sender=admin)
        receipt = factory.create_vault("bench", manager, sender=owner)
        vault = project.Vault.at(receipt.events.filter(factory.VaultCreated)[0].vault)
        fund(owner, 10_000 * USDC, vault)
        fund(follower, 100_000 * USDC, vault)
        vault.deposit(5_000 * USDC, sender=owner)
        vault.deposit(50_000 * USDC, sender=follower)
        trade(vault, manager, taker, True, 10 * ONE)
        gas_vault_deposit = vault.deposit(10_000 * USDC, sender=follower).gas_used
        usdc.mint(taker, 1_000 * USDC, sender=admin)
        exchange.deposit_for(vault, 1_000 * USDC, sender=taker)  # profit, so a profit share is paid
        chain.pending_timestamp += DAY + 1
        oracle.set_price(MARKET, PRICE, sender=admin)
        gas_vault_withdraw = vault.withdraw(vault.balanceOf(follower) // 4, sender=follower).gas_used

        # ---- pool
        pool = project.LiquidityPool.deploy(usdc, exchange, 10**9 * USDC, sender=admin)
        exchange.set_backstop(pool, sender=admin)
        pool.set_agent(keeper, True, sender=admin)
        fund(lp, 200_000 * USDC, pool)
        pool.deposit(100_000 * USDC, sender=lp)
        trade(pool, keeper, taker, True, 10 * ONE)
        gas_pool_deposit = pool.deposit(10_000 * USDC, sender=lp).gas_used
        chain.pending_timestamp += 4 * DAY + 1
        oracle.set_price(MARKET, PRICE, sender=admin)
        gas_pool_withdraw = pool.redeem(pool.balanceOf(lp) // 20, sender=lp).gas_used

        # ---- liquidation
        fund(trader, 1_000 * USDC, exchange)
        exchange.deposit(1_000 * USDC, sender=trader)
        trade(taker, taker, trader, False, 45 * ONE // 10)
        oracle.set_price(MARKET, 1_850 * USDC, sender=admin)
        gas_liquidate = exchange.liquidate(trader, MARKET, sender=keeper).gas_used

    print(f"gas_vault_deposit: {gas_vault_deposit}")
    print(f"gas_vault_withdraw: {gas_vault_withdraw}")
    print(f"gas_pool_deposit: {gas_pool_deposit}")
    print(f"gas_pool_withdraw: {gas_pool_withdraw}")
    print(f"gas_liquidate: {gas_liquidate}")


if __name__ == "__main__":
    main()
