"""The pool page in headless Chromium: connect, wrong chain then switch, deposit and see the
position update, a rejected transaction, a revert as a sentence, redeem after the lock-up."""

from __future__ import annotations

from playwright.sync_api import expect

from offchain.client.pool import PoolClient
from offchain.client.wallet import KeySigner, sentence, usdc_units

from .conftest import advance

LP = 5


def test_connect__wrong_chain_then_switch__banner_then_connected(open_app, chain, shot):
    _, w3, _ = chain
    page = open_app(LP, chain_id=1)
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
    page = open_app(LP)
    page.click("#connect")
    page.click("[data-action=faucet]")
    expect(page.locator("#my-wallet")).to_contain_text("10,000.000000 USDC")
    page.fill("form[data-action=pool-deposit] input[name=amount]", "1234.5")
    expect(page.locator("#deposit-preview")).to_contain_text("You get about 1,234.5000 LP tokens")
    page.click("form[data-action=pool-deposit] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Deposited 1,234.500000 USDC")
    expect(page.locator("#my-value")).to_contain_text("1,234.500000 USDC")
    expect(page.locator("#my-shares")).to_contain_text("1,234.5000")
    expect(page.locator("#pool-tvl")).to_contain_text("1,234.500000 USDC")
    expect(page.locator("#my-lock")).to_contain_text("UTC")
    shot(page, "web-pool", docs=True)
    pool = PoolClient.connect(w3, stack.deployment)
    assert pool.status(KeySigner(w3, stack.keys[LP]).address).value == usdc_units("1234.5")


def test_rejected_transaction__sentence_and_nothing_changes(open_app, chain, shot):
    _, w3, stack = chain
    page = open_app(LP)
    page.click("#connect")
    expect(page.locator("#my-value")).to_contain_text("USDC")
    before = page.locator("#my-value .value").text_content()
    page.evaluate("window.__mmxWallet.rejectNext()")
    page.fill("form[data-action=pool-deposit] input[name=amount]", "10")
    page.click("form[data-action=pool-deposit] button:not([type])")
    expect(page.locator("#status")).to_have_text("You declined the request in your wallet; nothing was sent.")
    expect(page.locator("#my-value .value")).to_have_text(before)
    shot(page, "web-rejected")


def test_redeem__inside_lockup__revert_as_sentence__after_lockup__paid(open_app, chain, shot):
    _, w3, stack = chain
    page = open_app(LP)
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
    page.click("[data-action=redeem-max]")
    expect(page.locator("#redeem-preview")).to_contain_text("You get about")
    page.click("form[data-action=pool-redeem] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Redeemed")
    # the daily limit (20 % of the pool per UTC day) allows 246.9 of the 1,234.5 today
    expect(page.locator("#my-shares")).to_contain_text("987.6000")
    expect(page.locator("#my-wallet")).to_contain_text("9,012.400000 USDC")
    expect(page.locator("#pool-room")).to_contain_text("0.000000 USDC")
    shot(page, "web-redeemed")
