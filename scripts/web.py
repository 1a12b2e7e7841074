"""`ape run web --network ...`: the wallet app for LPs and vault followers, on its own.

    ape run web --network URL|ecosystem:network:provider [--deployment var/deployment.json]
                [--port 8600] [--public-rpc URL]

Serves http://127.0.0.1:PORT/app/ (static bundle, /app/config.json, and the analytics
routes the charts read) until interrupted. The page talks to the visitor's own wallet;
it reads the chain through --public-rpc (default: the network's URL when it is on this
machine, else through the wallet). The keeper serves the same app at /app/ on its API.
"""

import click
from ape.cli import ConnectedProviderCommand

from offchain.client.ape_cli import deployment_option, load_deployment, web3


@click.command(cls=ConnectedProviderCommand)
@deployment_option
@click.option("--port", type=int, default=8600, show_default=True, help="0 picks a free port")
@click.option("--public-rpc", default=None, help="JSON-RPC URL the page may read from")
def cli(deployment, port, public_rpc):
    """Serve the wallet app for the deployment on the connected network."""
    import threading

    from ape import networks

    from offchain.web.server import serve, standalone_app

    w3 = web3()
    uri = getattr(networks.provider, "uri", "") or ""
    app = standalone_app(w3, load_deployment(deployment), uri, public_rpc=public_rpc)
    with serve(app, port) as url:
        click.echo(f"wallet app on {url}/app/ (chain {w3.eth.chain_id}); Ctrl-C stops it")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
