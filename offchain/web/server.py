"""The wallet app on its own (no keeper): static bundle, config and the analytics routes.

    app = standalone_app(w3, deployment, rpc_url)         # FastAPI
    with serve(app) as url: ...                           # uvicorn on 127.0.0.1, a free port

`ape run web --network ...` (scripts/web.py) and the browser tests use it; the keeper
mounts the same bundle with offchain.web.mount.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from offchain.devnet import listen_socket

from . import loopback, mount, web_config


def standalone_app(w3: Any, deployment: Any, rpc_url: str = "", *, public_rpc: str | None = None,
                   chain_name: str = "") -> Any:
    """FastAPI app serving /app/ for `deployment` (offchain.deploy.Deployment) on `w3`'s chain.

    The page reads the chain through `public_rpc` (default: `rpc_url` when it is a loopback
    URL, else through the user's wallet); /analytics/* reads logs through `w3`."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from offchain.keeper.analytics_api import analytics_router

    app = FastAPI(title="MMX wallet app", docs_url=None, redoc_url=None)
    app.include_router(analytics_router(w3, deployment))
    contracts = {"usdc": deployment.usdc, "pool": deployment.pool, "factory": deployment.vault_factory,
                 "exchange": deployment.exchange, "oracle": deployment.oracle}
    rpc = public_rpc if public_rpc is not None else (rpc_url if loopback(rpc_url) else "")
    config = web_config(w3.eth.chain_id, contracts, rpc, chain_name=chain_name)
    config["markets"] = {str(k): v for k, v in getattr(deployment, "markets", {}).items()}
    mount(app, config)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/app/")

    return app


@contextmanager
def serve(app: Any, port: int = 0, **options: Any) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on 127.0.0.1; yields its base URL. The socket is
    bound here and handed to uvicorn (port 0: the OS picks a free one at bind time), so no
    other process can take the port between the pick and the bind. `options`: more
    uvicorn.Config keywords (the keeper's are offchain.keeper.service.UVICORN_OPTIONS)."""
    import uvicorn

    sock = listen_socket("127.0.0.1", port)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
