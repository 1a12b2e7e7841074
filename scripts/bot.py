"""`ape run bot --keeper-url URL --key env:BOT_KEY [--account 0x...] --market 1 --strategy quote
--spread-bps 20 --size 0.05 --levels 3 [--duration S]`

A market-making bot against a running keeper's API (docs/bots.md). It talks only to the
keeper (no chain provider needed); the key comes from a key spec, never the command line.
Every option: `ape run bot --help`; the same command is `mmx-bot` (offchain.bots.cli:main).
"""

import click

from offchain.bots.cli import bot_options, run_from_options


@click.command(short_help="Run a market-making bot against a keeper's API")
@bot_options
def cli(**options):
    run_from_options(options)
