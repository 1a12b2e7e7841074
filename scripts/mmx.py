"""`ape run mmx` (what `make run` runs): a whole MMX devnet running for DURATION seconds.

See offchain/mainjob.py for what it does; the figures it ends with are described in
docs/mainjob.md.
"""

import os

import click

from offchain.mainjob import run


@click.command()
@click.option("--duration", type=float, default=lambda: float(os.environ.get("DURATION", 60)),
              show_default="60 or $DURATION", help="seconds of simulated trading")
@click.option("--traders", type=int, default=4, show_default=True, help="simulated traders")
def cli(duration, traders):
    run(duration=duration, traders=traders)
