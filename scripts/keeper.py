"""`ape run keeper --network ethereum:local:foundry --deployment var/deployment.json ...`

Runs the keeper service against the provider Ape connected to. Keys come from Ape:
`--operator ALIAS` (and optionally `--reporter ALIAS`) loads Ape accounts; a keyfile
account is decrypted with the passphrase Ape asks for (or APE_ACCOUNTS_<alias>_PASSPHRASE),
test accounts (`TEST::0`) hand over their devnet key. Without --operator the key specs of
the config file / environment apply (env:, keyfile:, ape:). Everything else is the keeper
config: --config FILE plus MMX_* environment variables (docs/keeper.md).
"""

import asyncio
import os

import click
from ape.cli import ConnectedProviderCommand

from offchain.keeper.cli import build_config, run
from offchain.keeper.keys import Key


def _ape_key(alias: str) -> Key:
    from ape import accounts

    if alias.startswith("TEST::"):
        account = accounts.test_accounts[int(alias.split("::")[1])]
        return Key(account.address, account.private_key)
    account = accounts.load(alias)
    from eth_account import Account

    passphrase = os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE") or click.prompt(
        f"passphrase for {alias}", hide_input=True)
    private_key = Account.decrypt(account.keyfile, passphrase).hex()
    return Key(account.address, private_key if private_key.startswith("0x") else "0x" + private_key)


@click.command(cls=ConnectedProviderCommand)
@click.option("--config", "config_path", default=None, help="keeper TOML config")
@click.option("--deployment", default=None, help="deployment JSON (ape run deploy --out)")
@click.option("--operator", default=None, help="Ape account alias of the operator (settles)")
@click.option("--reporter", default=None, help="Ape account alias of the oracle reporter")
@click.option("--db", default=None, help="journal URL (sqlite:///... or postgresql://...)")
@click.option("--host", default=None)
@click.option("--port", default=None, type=int)
def cli(provider, config_path, deployment, operator, reporter, db, host, port):
    from types import SimpleNamespace

    rpc_url = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    args = SimpleNamespace(config=config_path, rpc_url=rpc_url, db=db, host=host, port=port,
                           deployment=deployment, confirmations=None)
    config = build_config(args)
    op = _ape_key(operator) if operator else None
    rep = _ape_key(reporter) if reporter else None
    asyncio.run(run(config, operator=op, reporter=rep, ready_file=os.environ.get("MMX_READY_FILE")))
