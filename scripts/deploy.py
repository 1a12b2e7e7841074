"""`ape run deploy --network ... --account ...`: deploy and wire the whole MMX suite.

Roles default to the deploying account; pass the keeper's operator, reporter and agent
addresses for a real deployment. Addresses are written to --out as JSON for the keeper.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from offchain.deploy import ApeDeployer, deploy_suite


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--operator", default=None, help="keeper operator address (settles fills)")
@click.option("--reporter", default=None, help="oracle reporter address (price feed)")
@click.option("--keeper-agent", default=None, help="agent key that trades the pool")
@click.option("--treasury", default=None, help="treasury for the protocol's share of fees")
@click.option("--out", default="var/deployment.json", show_default=True)
def cli(account, operator, reporter, keeper_agent, treasury, out):
    deployment = deploy_suite(
        ApeDeployer(account),
        operator=operator or account.address,
        reporter=reporter or account.address,
        keeper_agent=keeper_agent or account.address,
        treasury=treasury,
    )
    deployment.save(out)
    for name in ("usdc", "oracle", "rebate_engine", "exchange", "pool", "vault_factory"):
        click.echo(f"{name}: {getattr(deployment, name)}")
    click.echo(f"written: {out}")
