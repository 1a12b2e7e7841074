"""`ape run mmx` (what `make run` runs): a whole MMX devnet running for DURATION seconds.

See offchain/mainjob.py for what it does; the figures it ends with are described in
docs/mainjob.md.
"""

import os
from pathlib import Path

import click

from offchain.mainjob import run


@click.command()
@click.option("--duration", type=float, default=lambda: float(os.environ.get("DURATION", 60)),
              show_default="60 or $DURATION", help="seconds of simulated trading")
@click.option("--traders", type=int, default=4, show_default=True, help="simulated traders")
@click.option("--workdir", type=click.Path(path_type=Path), default=None,
              help="folder for logs, journal and charts (default var/run-<time>)")
def cli(duration, traders, workdir):
    run(duration=duration, traders=traders, workdir=workdir)
