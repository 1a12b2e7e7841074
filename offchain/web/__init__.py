"""The wallet app for LPs and vault followers: a static bundle plus one config document.

    from offchain.web import mount
    mount(app, web_config(chain_id, contracts, rpc_url))   # serves /app/ and /app/config.json

The bundle (dist/) is built from src/ by esbuild (build.mjs; `make compile` runs it, and
`ensure_built()` rebuilds when a source is newer). The config tells the page which chain
and contracts to use, and carries the contracts' ABIs from the compiled artifacts, so the
page can check which views a deployment has and leave out what is missing. Reads go to
`rpc_url` when one is given (a public, loopback or CORS-enabled node), else through the
wallet; history comes from the analytics routes on the same origin (/analytics/...).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DIST = HERE / "dist"
BUILD_SCRIPT = HERE / "build.mjs"
REASONS = HERE.parent / "client" / "reasons.json"
CONTRACTS = ("LiquidityPool", "Vault", "VaultFactory", "Exchange", "TestUSDC")
PREFIX = "/app"


def _newest_source() -> float:
    files = [*SRC.rglob("*"), BUILD_SCRIPT, REASONS]
    return max(f.stat().st_mtime for f in files if f.is_file())


def ensure_built() -> Path:
    """dist/ up to date with src/ (runs node build.mjs when stale); returns DIST."""
    bundle = DIST / "app.js"
    if bundle.exists() and bundle.stat().st_mtime >= _newest_source():
        return DIST
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to build the web app (make deps installs the npm packages)")
    subprocess.run([node, str(BUILD_SCRIPT)], check=True, cwd=HERE.parent.parent)
    return DIST


def loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def web_config(chain_id: int, contracts: dict[str, str], rpc_url: str = "", *, chain_name: str = "",
               api: str = "") -> dict[str, Any]:
    """The document /app/config.json serves. contracts: usdc, pool, factory, exchange, oracle."""
    from offchain.artifacts import abi

    abis = {}
    for name in CONTRACTS:
        try:
            abis[name] = abi(name)
        except (KeyError, FileNotFoundError):
            abis[name] = []
    return {"chain_id": chain_id, "chain_name": chain_name or ("Anvil devnet" if chain_id == 31337 else
                                                               f"chain {chain_id}"),
            "rpc_url": rpc_url, "api": api, "contracts": contracts, "abis": abis}


def keeper_web_config(service: Any) -> dict[str, Any]:
    """The config for the keeper's own deployment: its chain, contracts and (loopback) RPC URL."""
    import os

    config = service.config
    c = config.contracts
    rpc = os.environ.get("MMX_WEB_RPC_URL", config.chain.rpc_url if loopback(config.chain.rpc_url) else "")
    return web_config(service.chain.chain_id, {"usdc": c.usdc, "pool": c.pool, "factory": c.factory,
                                               "exchange": c.exchange, "oracle": c.oracle}, rpc)


def mount(app: Any, config: dict[str, Any] | Any) -> None:
    """Serve the app under /app/ on a FastAPI/Starlette app. `config`: a dict, or the keeper
    service (its deployment is read lazily on the first request)."""
    from fastapi.responses import JSONResponse, RedirectResponse
    from fastapi.staticfiles import StaticFiles

    state: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if "doc" not in state:
            state["doc"] = config if isinstance(config, dict) else keeper_web_config(config)
        return state["doc"]

    @app.get(PREFIX + "/config.json", include_in_schema=False)
    def _config() -> JSONResponse:
        return JSONResponse(document(), headers={"Cache-Control": "no-store"})

    @app.get(PREFIX, include_in_schema=False)
    def _slash() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/")

    try:
        directory = ensure_built()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        # the API must run even where the bundle cannot be built; say so at /app/
        reason = f"the wallet app is not built here ({exc}); run `make compile`"

        @app.get(PREFIX + "/", include_in_schema=False)
        def _missing() -> JSONResponse:
            return JSONResponse({"detail": reason}, status_code=503)

        return
    app.mount(PREFIX, StaticFiles(directory=directory, html=True), name="web")
