"""The keeper serves the wallet app at /app/ with its own deployment's config; the page
works against it in the browser (reads, a deposit, the analytics routes for history)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from playwright.sync_api import expect

from offchain.keeper.service import Keeper
from tests.e2e.keeper_helpers import key, keeper_config

from .conftest import fund_wallet

pytestmark = [pytest.mark.e2e, pytest.mark.web]


@pytest.fixture(scope="module")
def keeper_url(chain, tmp_path_factory):
    _, _, stack = chain
    keeper = Keeper(keeper_config(stack, tmp_path_factory.mktemp("web-keeper") / "k.db"), operator=key(stack.operator_key))
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        # its own thread and loop: Playwright's sync API owns the main thread's loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(keeper.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(120), "the keeper did not start"
    yield keeper.url
    asyncio.run_coroutine_threadsafe(keeper.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_keeper__serves_app_with_its_deployment(chain, keeper_url, open_app, shot):
    node, w3, stack = chain
    config = httpx.get(f"{keeper_url}/app/config.json", timeout=30).json()
    assert config["chain_id"] == w3.eth.chain_id and config["rpc_url"] == node.url
    assert config["contracts"]["pool"] == stack.deployment.pool
    fund_wallet(chain, 9, 500 * 10**6)
    page = open_app(9, base=f"{keeper_url}/app/")
    page.click("#connect")
    page.fill("form[data-action=pool-deposit] input[name=amount]", "250")
    page.click("form[data-action=pool-deposit] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Deposited 250.000000 USDC")
    expect(page.locator("#my-value")).to_contain_text("250.000000 USDC")
    shot(page, "web-keeper-pool")
