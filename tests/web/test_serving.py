"""How the app is served: the keeper's API mounts it at /app/ with its deployment's config;
the bundle is local (no CDN, nothing loaded from another origin)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient

from offchain.keeper.config import ChainConfig, Contracts
from offchain.web import DIST, ensure_built, mount

ADDR = {k: "0x" + f"{i:02x}" * 20 for i, k in enumerate(("exchange", "oracle", "usdc", "pool", "factory"), 1)}


def keeper_like(rpc_url: str):
    config = SimpleNamespace(chain=ChainConfig(rpc_url=rpc_url), contracts=Contracts(**ADDR))
    return SimpleNamespace(config=config, chain=SimpleNamespace(chain_id=31337))


def test_mount__keeper_service__config_from_its_deployment_and_loopback_rpc():
    app = FastAPI()
    mount(app, keeper_like("http://127.0.0.1:8545"))
    client = TestClient(app)
    config = client.get("/app/config.json").json()
    assert config["chain_id"] == 31337 and config["rpc_url"] == "http://127.0.0.1:8545"
    assert config["contracts"]["pool"] == ADDR["pool"] and config["contracts"]["factory"] == ADDR["factory"]
    assert any(e.get("name") == "previewDeposit" for e in config["abis"]["LiquidityPool"])
    page = client.get("/app/")
    assert page.status_code == 200 and 'src="app.js"' in page.text
    assert client.get("/app/app.js").headers["content-type"].startswith(("application/javascript", "text/javascript"))


def test_mount__remote_rpc__not_handed_to_browsers():
    app = FastAPI()
    mount(app, keeper_like("https://rpc.example.invalid/v1/secret-key"))
    assert TestClient(app).get("/app/config.json").json()["rpc_url"] == ""


def test_bundle__local_only__no_external_scripts_or_styles():
    ensure_built()
    html = (DIST / "index.html").read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    bundle = (DIST / "app.js").read_text()
    assert "import(" not in bundle.replace("import()", "")  # no dynamic loading at run time
    assert "cdn." not in bundle and "unpkg" not in bundle and "jsdelivr" not in bundle
