"""Shared pieces of `ape run pool` and `ape run vault`: options, the signer, readable errors."""

from __future__ import annotations

import functools
import os

import click

from offchain.client.wallet import ApeSigner, TxError, usdc_units
from offchain.deploy import Deployment

deployment_option = click.option(
    "--deployment", default="var/deployment.json", show_default=True,
    help="addresses written by `ape run deploy`",
)
slippage_option = click.option(
    "--slippage-bps", type=click.IntRange(0, 10_000), default=50, show_default=True,
    help="worst acceptable result below the preview, in bps",
)
yes_option = click.option(
    "--yes", is_flag=True, default=False,
    help="sign without prompting (keyfile accounts take the passphrase from "
         "APE_ACCOUNTS_<alias>_PASSPHRASE)",
)


def amount(text: str) -> int:
    try:
        return usdc_units(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def load_deployment(path: str) -> Deployment:
    try:
        return Deployment.load(path)
    except FileNotFoundError:
        raise click.ClickException(f"no deployment file at {path}: run `ape run deploy --network ...` "
                                   f"or pass --deployment") from None


def signer(account, yes: bool):
    """An ApeSigner over the connected network; --yes turns on autosign for keyfile accounts."""
    from ape import networks

    if account is None:
        return None
    if yes and hasattr(account, "set_autosign"):
        alias = getattr(account, "alias", "")
        account.set_autosign(True, passphrase=os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE"))
    return ApeSigner(account, networks.provider.web3)


def web3():
    from ape import networks

    return networks.provider.web3


def readable(command):
    """Turn refusals (TxError) and bad input into one-line errors instead of tracebacks."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TxError as exc:
            raise click.ClickException(f"{exc}" + (f" ({exc.reason})" if exc.reason and ":" in exc.reason else "")) from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper
