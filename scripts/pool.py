"""`ape run pool ...`: an LP's wallet commands for the liquidity pool.

    ape run pool status   --network URL|ecosystem:network:provider [--deployment var/deployment.json] [--account A]
    ape run pool deposit  100000 --network ... --account A [--slippage-bps 50] [--yes]
    ape run pool redeem   ALL|SHARES --network ... --account A [--slippage-bps 50] [--yes]
    ape run pool faucet   100000 --network ... --account A      (devnets: TestUSDC faucet)

Amounts are in whole USDC (decimals allowed, converted exactly to 6-decimal units);
dates are ISO 8601 UTC. Deposits and redemptions pass a slippage bound computed from the
pool's preview. A refused call prints the contract's reason as a sentence and sends
nothing (offchain.client.pool simulates first). --yes signs without prompting.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from offchain.client.ape_cli import (amount, deployment_option, load_deployment, readable, signer,
                                     slippage_option, web3, yes_option)
from offchain.client.pool import SHARE_UNIT, PoolClient
from offchain.client.wallet import fmt_usdc, iso

ZERO = "0x" + "00" * 20


def client(deployment: str, account, yes: bool = False) -> PoolClient:
    return PoolClient.connect(web3(), load_deployment(deployment), signer(account, yes))


@click.group()
def cli():
    """Liquidity pool commands for LPs."""


@cli.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@deployment_option
@readable
def status(account, deployment):
    """Pool totals, and the account's LP position when --account is given."""
    pool = client(deployment, None)
    s = pool.status(account.address if account else ZERO)
    click.echo(f"pool total assets   {fmt_usdc(s.total_assets)} USDC")
    click.echo(f"LP token supply     {s.total_supply}")
    click.echo(f"NAV per LP token    {fmt_usdc(s.nav_per_share)} USDC")
    click.echo(f"lock-up             {s.lockup // 3600} h after each deposit")
    click.echo(f"daily withdrawals   up to {s.daily_withdraw_bps / 100:g}% of the pool")
    if account is None:
        return
    click.echo(f"your LP shares      {s.shares} ({s.shares // SHARE_UNIT:,} whole tokens)")
    click.echo(f"your value          {fmt_usdc(s.value)} USDC")
    click.echo(f"withdrawable now    {fmt_usdc(s.withdrawable)} USDC")
    click.echo(f"locked until        {iso(s.lock_until)}")
    click.echo(f"wallet USDC         {fmt_usdc(s.wallet_usdc)}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@yes_option
@click.argument("usdc")
@readable
def faucet(account, deployment, yes, usdc):
    """Mint test USDC to the account (devnets only)."""
    units = amount(usdc)
    pool = client(deployment, account, yes)
    pool.faucet(units)
    click.echo(f"wallet USDC         {fmt_usdc(pool.status(account.address).wallet_usdc)}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@slippage_option
@yes_option
@click.argument("usdc")
@readable
def deposit(account, deployment, slippage_bps, yes, usdc):
    """Deposit USDC for LP shares (approve then deposit; starts the lock-up)."""
    assets = amount(usdc)
    pool = client(deployment, account, yes)
    pool.deposit(assets, slippage_bps)
    s = pool.status(account.address)
    click.echo(f"deposited {fmt_usdc(assets)} USDC; LP shares now {s.shares}; locked until {iso(s.lock_until)}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@slippage_option
@yes_option
@click.argument("shares")
@readable
def redeem(account, deployment, slippage_bps, yes, shares):
    """Redeem SHARES LP shares (or ALL that can be redeemed now) for USDC."""
    pool = client(deployment, account, yes)
    if shares.upper() == "ALL":
        count = None
    elif shares.isdigit():
        count = int(shares)
    else:
        raise click.BadParameter(f"not a share count: {shares!r} (an integer or ALL)")
    before = pool.status(account.address).shares
    got = pool.redeem(count, slippage_bps)
    click.echo(f"redeemed {before - pool.status(account.address).shares} shares for {fmt_usdc(got)} USDC")
