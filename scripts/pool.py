"""`ape run pool ...`: an LP's wallet commands for the liquidity pool.

    ape run pool status   --network ... [--deployment var/deployment.json] [--account A]
    ape run pool deposit  100000 --network ... --account A [--slippage-bps 50]
    ape run pool redeem   ALL|SHARES --network ... --account A [--slippage-bps 50]
    ape run pool faucet   100000 --network ... --account A      (devnets: TestUSDC faucet)

Amounts are in whole USDC (decimals allowed, converted exactly to 6-decimal units).
Deposits and redemptions pass a slippage bound computed from the pool's preview.
"""

from decimal import Decimal, InvalidOperation

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from offchain.deploy import USDC, Deployment

BPS = 10_000


def usdc_units(text: str) -> int:
    try:
        value = Decimal(text) * USDC
    except InvalidOperation:
        raise click.BadParameter(f"not an amount: {text!r}")
    if value <= 0 or value != value.to_integral_value():
        raise click.BadParameter("amount must be positive with at most 6 decimals")
    return int(value)


def fmt(units: int) -> str:
    return f"{units / USDC:,.6f}"


def contracts(deployment_path: str):
    deployment = Deployment.load(deployment_path)
    pool = project.LiquidityPool.at(deployment.pool)
    usdc = project.TestUSDC.at(deployment.usdc)
    return pool, usdc


deployment_option = click.option(
    "--deployment", default="var/deployment.json", show_default=True,
    help="addresses written by `ape run deploy`",
)
slippage_option = click.option(
    "--slippage-bps", type=click.IntRange(0, BPS), default=50, show_default=True,
    help="worst acceptable result below the preview, in bps",
)


@click.group()
def cli():
    """Liquidity pool commands for LPs."""


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
def status(account, deployment):
    """Pool totals and the account's LP position."""
    pool, usdc = contracts(deployment)
    shares = pool.balanceOf(account)
    click.echo(f"pool total assets   {fmt(pool.totalAssets())} USDC")
    click.echo(f"LP token supply     {pool.totalSupply()}")
    click.echo(f"your LP shares      {shares}")
    click.echo(f"your value          {fmt(pool.convertToAssets(shares))} USDC")
    click.echo(f"withdrawable now    {fmt(pool.maxWithdraw(account))} USDC")
    click.echo(f"locked until        {pool.lock_until(account)} (unix time)")
    click.echo(f"wallet USDC         {fmt(usdc.balanceOf(account))}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@click.argument("amount")
def faucet(account, deployment, amount):
    """Mint test USDC to the account (devnets only)."""
    units = usdc_units(amount)
    _, usdc = contracts(deployment)
    usdc.faucet(units, sender=account)
    click.echo(f"wallet USDC         {fmt(usdc.balanceOf(account))}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@slippage_option
@click.argument("amount")
def deposit(account, deployment, slippage_bps, amount):
    """Deposit AMOUNT USDC for LP shares (starts the lock-up)."""
    assets = usdc_units(amount)
    pool, usdc = contracts(deployment)
    expected = pool.previewDeposit(assets)
    min_shares = expected * (BPS - slippage_bps) // BPS
    if usdc.allowance(account, pool) < assets:
        usdc.approve(pool, assets, sender=account)
    pool.deposit(assets, account, min_shares, sender=account)
    click.echo(f"deposited {fmt(assets)} USDC; LP shares now {pool.balanceOf(account)}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@slippage_option
@click.argument("shares")
def redeem(account, deployment, slippage_bps, shares):
    """Redeem SHARES LP shares (or ALL that can be redeemed now) for USDC."""
    pool, usdc = contracts(deployment)
    amount = pool.maxRedeem(account) if shares.upper() == "ALL" else int(shares)
    if amount <= 0:
        raise click.ClickException("nothing redeemable now (lock-up, daily cap or liquidity)")
    expected = pool.previewRedeem(amount)
    min_assets = expected * (BPS - slippage_bps) // BPS
    before = usdc.balanceOf(account)
    pool.redeem(amount, account, account, min_assets, sender=account)
    click.echo(f"redeemed {amount} shares for {fmt(usdc.balanceOf(account) - before)} USDC")
