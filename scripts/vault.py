"""`ape run vault ...`: vault commands for leaders and followers.

    ape run vault list     --network ... [--deployment var/deployment.json]
    ape run vault status   VAULT --network ... [--account A]
    ape run vault create   NAME --network ... --account A [--manager ADDR] [--profit-share-bps 1000]
                           [--min-stake-bps 500] [--lockup-hours 24] [--drawdown-bps 2000] [--yes]
    ape run vault deposit  VAULT 500 --network ... --account A [--slippage-bps 50] [--yes]
    ape run vault withdraw VAULT ALL|SHARES --network ... --account A [--yes]
    ape run vault claim    VAULT [REQUEST_ID] --network ... --account A [--yes]

Amounts in whole USDC, dates in ISO 8601 UTC. A withdrawal is paid at once when the
vault has the cash, else queued (the keeper frees the cash; `claim` then pays it).
Refusals print the contract's reason as a sentence and send nothing.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from offchain.client.ape_cli import (amount, deployment_option, load_deployment, readable, signer,
                                     slippage_option, web3, yes_option)
from offchain.client.vaults import Paid, VaultClient, VaultFactoryClient
from offchain.client.wallet import fmt_usdc, iso


def vault_client(deployment: str, vault: str, account, yes: bool = False) -> VaultClient:
    return VaultClient(web3(), vault, load_deployment(deployment).usdc, signer(account, yes))


def pct(bps: int) -> str:
    return f"{bps / 100:g}%"


@click.group()
def cli():
    """Vault commands for leaders and followers."""


def follower_command(slippage: bool = True):
    """A command a follower sends from its account: --account, --deployment, [--slippage-bps,]
    --yes, then the VAULT argument (the command's own arguments follow)."""

    def wrap(command):
        for option in (click.argument("vault"), yes_option, *([slippage_option] if slippage else []),
                       deployment_option, account_option()):
            command = option(command)
        return cli.command(cls=ConnectedProviderCommand)(command)

    return wrap


@cli.command(name="list", cls=ConnectedProviderCommand)
@deployment_option
@readable
def list_(deployment):
    """Every vault of the factory: name, leader, TVL, share price, terms."""
    factory = VaultFactoryClient.connect(web3(), load_deployment(deployment))
    infos = factory.list()
    if not infos:
        click.echo("no vaults yet (ape run vault create NAME --network ... --account A)")
    for v in infos:
        click.echo(f"{v.address}  {v.name}  leader {v.owner}  TVL {fmt_usdc(v.total_assets)} USDC  "
                   f"profit share {pct(v.profit_share_bps)}  lock-up {v.lockup // 3600}h  "
                   f"strategy {v.strategy}  queue {v.queue_length}"
                   + ("  HALTED" if v.halted else "") + ("" if v.deposits_open else "  closed"))


@cli.command(cls=ConnectedProviderCommand)
@account_option(prompt=False)
@deployment_option
@click.argument("vault")
@readable
def status(account, deployment, vault):
    """A vault's totals and the account's holding and withdrawal requests."""
    client = vault_client(deployment, vault, None)
    v = client.info()
    click.echo(f"vault               {v.name} ({v.address})")
    click.echo(f"leader              {v.owner}")
    click.echo(f"manager             {v.manager}")
    click.echo(f"total assets        {fmt_usdc(v.total_assets)} USDC")
    click.echo(f"profit share        {pct(v.profit_share_bps)}")
    click.echo(f"lock-up             {v.lockup} s")
    click.echo(f"drawdown            {pct(v.drawdown_bps)} of limit {pct(v.drawdown_limit_bps)}")
    click.echo(f"strategy            {v.strategy}" + (f" on market {v.strategy_market}" if v.strategy_market else ""))
    click.echo(f"state               " + ("halted" if v.halted else "unwinding" if v.unwinding else "trading")
               + ("" if v.deposits_open else ", closed to deposits"))
    click.echo(f"withdrawals queued  {v.queue_length}")
    if account is None:
        return
    h = client.holding(account.address)
    click.echo(f"your shares         {h.shares}")
    click.echo(f"your value          {fmt_usdc(h.value)} USDC")
    click.echo(f"payout now          {fmt_usdc(h.payout)} USDC (profit share {fmt_usdc(h.fee)})")
    click.echo(f"your cost basis     {fmt_usdc(h.basis)} USDC")
    click.echo(f"locked until        {iso(h.lock_until)}")
    for r in h.requests:
        click.echo(f"request {r.request_id:<11} {r.shares} shares, up to {fmt_usdc(r.value)} USDC, "
                   f"{r.ahead} ahead, requested {iso(r.requested_at)}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@deployment_option
@yes_option
@click.option("--manager", default=None, help="trades the vault via its agent key (default: you)")
@click.option("--profit-share-bps", type=int, default=1000, show_default=True)
@click.option("--min-stake-bps", type=int, default=500, show_default=True)
@click.option("--lockup-hours", type=int, default=24, show_default=True)
@click.option("--drawdown-bps", type=int, default=2000, show_default=True)
@click.argument("name")
@readable
def create(account, deployment, yes, manager, profit_share_bps, min_stake_bps, lockup_hours, drawdown_bps, name):
    """Create a vault led by the account (deposit into it first: followers need your stake)."""
    factory = VaultFactoryClient.connect(web3(), load_deployment(deployment), signer(account, yes))
    address = factory.create(name, manager or account.address, profit_share_bps, min_stake_bps,
                             lockup_hours * 3600, drawdown_bps)
    click.echo(f"created vault {name!r} at {address}")


@follower_command()
@click.argument("usdc")
@readable
def deposit(account, deployment, slippage_bps, yes, vault, usdc):
    """Deposit USDC into VAULT (approve then deposit; restarts your lock-up)."""
    assets = amount(usdc)
    client = vault_client(deployment, vault, account, yes)
    shares = client.deposit(assets, slippage_bps)
    click.echo(f"deposited {fmt_usdc(assets)} USDC for {shares} shares; "
               f"locked until {iso(client.holding(account.address).lock_until)}")


@follower_command()
@click.argument("shares")
@readable
def withdraw(account, deployment, slippage_bps, yes, vault, shares):
    """Withdraw SHARES (or ALL): paid now if the vault has the cash, else queued."""
    if shares.upper() != "ALL" and not shares.isdigit():
        raise click.BadParameter(f"not a share count: {shares!r} (an integer or ALL)")
    client = vault_client(deployment, vault, account, yes)
    result = client.withdraw(None if shares.upper() == "ALL" else int(shares), slippage_bps)
    if isinstance(result, Paid):
        click.echo(f"withdrew {result.shares} shares: paid {fmt_usdc(result.assets)} USDC "
                   f"(profit share {fmt_usdc(result.fee)})")
    else:
        click.echo(f"queued request {result.request_id}: {result.shares} shares, up to "
                   f"{fmt_usdc(result.value)} USDC; claim it with `ape run vault claim {vault} "
                   f"{result.request_id}` once the keeper has freed the cash")


@follower_command(slippage=False)
@click.argument("request_id", required=False, type=int)
@readable
def claim(account, deployment, yes, vault, request_id):
    """Claim a queued withdrawal (default: your oldest request)."""
    paid = vault_client(deployment, vault, account, yes).claim(request_id)
    click.echo(f"claimed {paid.shares} shares: paid {fmt_usdc(paid.assets)} USDC (profit share {fmt_usdc(paid.fee)})")
