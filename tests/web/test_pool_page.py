"""The pool page in headless Chromium: connect, wrong chain then switch, deposit and see the
position update, a rejected transaction, a revert as a sentence, redeem after the lock-up.
Each test uses its own dev account, so they run in any order and on any xdist worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from offchain.client.pool import PoolClient
from offchain.client.wallet import KeySigner, fmt_usdc, sentence, usdc_units

from .conftest import advance, fund_wallet

pytestmark = [pytest.mark.e2e, pytest.mark.web]


def test_connect__wrong_chain_then_switch__banner_then_connected(open_app, chain, shot):
    _, w3, _ = chain
    page = open_app(4, chain_id=1)
    expect(page.locator("#pool-tvl")).to_contain_text("USDC")  # read before connecting
    page.click("#connect")
    expect(page.locator("#chain-banner")).to_be_visible()
    expect(page.locator("#chain-message")).to_contain_text(f"chain {w3.eth.chain_id}")
    expect(page.locator("#status")).to_have_attribute("data-kind", "error")
    shot(page, "web-wrong-chain", docs=True)
    page.click("#switch-chain")
    expect(page.locator("#chain-banner")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Connected to")
    expect(page.locator("#account")).to_contain_text("0x")
    expect(page.locator("#my-shares")).to_contain_text("0.0000")
    shot(page, "web-connected")


def test_deposit__approve_then_deposit__shares_value_and_tvl_update(open_app, chain, shot):
    _, w3, stack = chain
    pool = PoolClient.connect(w3, stack.deployment)
    page = open_app(5)
    page.click("#connect")
    page.click("[data-action=faucet]")
    expect(page.locator("#my-wallet")).to_contain_text("10,000.000000 USDC")
    tvl = pool.status(stack.deployment.pool).total_assets
    page.fill("form[data-action=pool-deposit] input[name=amount]", "1234.5")
    expect(page.locator("#deposit-preview")).to_contain_text("You get about 1,234.5000 LP tokens")
    page.click("form[data-action=pool-deposit] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Deposited 1,234.500000 USDC")
    expect(page.locator("#my-value")).to_contain_text("1,234.500000 USDC")
    expect(page.locator("#my-shares")).to_contain_text("1,234.5000")
    expect(page.locator("#my-wallet")).to_contain_text("8,765.500000 USDC")
    expect(page.locator("#pool-tvl")).to_contain_text(f"{fmt_usdc(tvl + usdc_units('1234.5'))} USDC")
    expect(page.locator("#my-lock")).to_contain_text("UTC")
    expect(page.locator("#pool-fees")).to_contain_text("USDC")
    shot(page, "web-pool", docs=True)
    assert pool.status(KeySigner(w3, stack.keys[5]).address).value == usdc_units("1234.5")


def test_rejected_transaction__sentence_and_nothing_changes(open_app, chain, shot):
    fund_wallet(chain, 6, usdc_units("100"))
    page = open_app(6)
    page.click("#connect")
    expect(page.locator("#my-wallet")).to_contain_text("100.000000 USDC")
    page.evaluate("window.__mmxWallet.rejectNext()")
    page.fill("form[data-action=pool-deposit] input[name=amount]", "10")
    page.click("form[data-action=pool-deposit] button:not([type])")
    expect(page.locator("#status")).to_have_text("You declined the request in your wallet; nothing was sent.")
    expect(page.locator("#my-value .value")).to_have_text("0.000000 USDC")
    expect(page.locator("#my-wallet .value")).to_have_text("100.000000 USDC")
    shot(page, "web-rejected")


def test_redeem__inside_lockup__revert_as_sentence__after_lockup__paid(open_app, chain, shot):
    _, w3, stack = chain
    fund_wallet(chain, 7, usdc_units("10000"))
    PoolClient.connect(w3, stack.deployment, KeySigner(w3, stack.keys[7])).deposit(usdc_units("1234.5"))
    page = open_app(7)
    page.click("#connect")
    expect(page.locator("#my-shares")).to_contain_text("1,234.5000")
    page.fill("form[data-action=pool-redeem] input[name=shares]", "100")
    page.click("form[data-action=pool-redeem] button:not([type])")
    expect(page.locator("#status")).to_have_text(sentence("pool: locked"))
    expect(page.locator("#status")).to_have_attribute("data-kind", "error")
    shot(page, "web-revert-sentence", docs=True)

    advance(w3, 4 * 86_400 + 1)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.click("#connect")
    expect(page.locator("#my-lock")).to_contain_text("ended")
    room = PoolClient.connect(w3, stack.deployment).status(KeySigner(w3, stack.keys[7]).address).withdrawable
    page.click("[data-action=redeem-max]")
    expect(page.locator("#redeem-preview")).to_contain_text("You get about")
    page.click("form[data-action=pool-redeem] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Redeemed")
    # the daily limit (20 % of the pool per UTC day) caps what comes out today
    expect(page.locator("#my-wallet")).to_contain_text(f"{fmt_usdc(usdc_units('8765.5') + room)} USDC")
    expect(page.locator("#pool-room")).to_contain_text("0.000000 USDC")
    shot(page, "web-redeemed")
