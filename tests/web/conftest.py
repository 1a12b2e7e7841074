"""Browser tests of the wallet app: Debian's chromium (never a downloaded browser) driven by
Playwright, a real anvil with the suite deployed, the app served on a free loopback port,
and a test EIP-1193 wallet (wallet.js) forwarding to anvil's unlocked dev accounts."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from offchain.devnet import PROJECT_ROOT, Anvil
from offchain.keeper.devstack import deploy_stack
from offchain.web.server import serve, standalone_app

CHROMIUM = os.environ.get("MMX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
WALLET_JS = (Path(__file__).parent / "wallet.js").read_text()
SHOTS = PROJECT_ROOT / "reports" / "web"
WAIT_MS = 60_000  # upper bound for a page to show a confirmed transaction (a loaded 2-core CI)

def pytest_collection_modifyitems(items):
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM} (make deps installs Debian's chromium)")
        for item in items:
            if "tests/web/" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="module")
def chain():
    with Anvil(accounts=12) as node:
        stack = deploy_stack(node.url, node.private_keys(), traders=0)
        yield node, Web3(Web3.HTTPProvider(node.url)), stack


@pytest.fixture(scope="module")
def site(chain):
    node, w3, stack = chain
    with serve(standalone_app(w3, stack.deployment, node.url)) as url:
        yield url + "/app/"


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        yield context
        context.close()


@pytest.fixture
def open_app(chain, site, browser_context):
    """open_app(account_index, chain_id=None, path="#/pool") -> page with the test wallet."""
    node, w3, stack = chain
    pages = []

    def rpc(_source, method, params):
        reply = httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=60)
        return reply.json()

    def open_page(index: int, chain_id: int | None = None, path: str = "#/pool", base: str | None = None):
        from playwright.sync_api import expect

        expect.set_options(timeout=WAIT_MS)
        page = browser_context.new_page()
        page.expose_binding("__mmxRpc", rpc)
        wallet = {"account": Web3.to_checksum_address(stack_address(stack, index)), "chainId": chain_id or w3.eth.chain_id,
                  "realChainId": w3.eth.chain_id}
        page.add_init_script(f"window.__mmxTestWallet = {json.dumps(wallet)};\n{WALLET_JS}")
        page.goto((base or site) + path)
        page.wait_for_selector("body[data-ready='1']")
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def stack_address(stack, index: int) -> str:
    from offchain.order import address_of

    return address_of(stack.keys[index])


@pytest.fixture
def shot(request):
    """shot(page, name): save a screenshot under reports/web/ (docs/img/ keeps the main ones)."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, docs: bool = False) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if docs and os.environ.get("MMX_DOCS_SCREENSHOTS") == "1":
            shutil.copy(path, PROJECT_ROOT / "docs" / "img" / f"{name}.png")
        return path

    return save


def fund_wallet(chain, index: int, amount: int) -> None:
    """Test USDC straight from the faucet (each test funds its own account: tests are independent)."""
    from offchain.client.pool import PoolClient
    from offchain.client.wallet import KeySigner

    _, w3, stack = chain
    PoolClient.connect(w3, stack.deployment, KeySigner(w3, stack.keys[index])).faucet(amount)


def advance(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])
    w3.provider.make_request("evm_mine", [])
