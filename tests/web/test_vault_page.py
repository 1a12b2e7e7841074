"""The vaults pages in headless Chromium: a leader creates a vault and deposits, a follower
deposits, requests a withdrawal that queues (the vault's cash is margin behind a position),
sees its place in the queue, is told why an early claim fails, and claims once the
position is closed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from offchain.client.vaults import VaultClient, VaultFactoryClient
from offchain.client.wallet import KeySigner, sentence, usdc_units

from tests.e2e.vault_helpers import REDUCE_ONLY, fund_taker, settle

from .conftest import fund_wallet

pytestmark = [pytest.mark.e2e, pytest.mark.web]
LEADER, FOLLOWER, TAKER = 8, 10, 11


def test_vault__leader_creates__follower_deposits_queues_and_claims(open_app, chain, shot):
    _, w3, stack = chain
    for index in (LEADER, FOLLOWER):
        fund_wallet(chain, index, usdc_units("20000"))
    page = open_app(LEADER, path="#/vaults")
    page.click("#connect")
    form = "form[data-action=vault-create]"
    page.fill(f"{form} input[name=name]", "Alpha grid")
    page.fill(f"{form} input[name=lockup]", "0")
    page.click(f"{form} button")
    expect(page.locator("#status")).to_contain_text("Vault “Alpha grid” created")
    expect(page.locator("#vault-summary")).to_contain_text("Alpha grid")
    address = VaultFactoryClient.connect(w3, stack.deployment).addresses()[-1]

    page.fill("form[data-action=vault-deposit] input[name=amount]", "1000")
    page.click("form[data-action=vault-deposit] button")
    expect(page.locator("#status")).to_contain_text("Deposited 1,000.000000 USDC into the vault")
    expect(page.locator("#vault-tvl")).to_contain_text("1,000.000000 USDC")
    # the leader's view: publish a strategy for the keeper
    page.select_option("form[data-action=vault-strategy] select[name=kind]", "1")
    page.click("form[data-action=vault-strategy] button")
    expect(page.locator("#status")).to_contain_text("Strategy published")
    assert VaultClient(w3, address, "").info().strategy == "grid"

    # a follower, same browser wallet, switches account
    page.evaluate(f"window.__mmxWallet.switchAccount('{KeySigner(w3, stack.keys[FOLLOWER]).address}')")
    expect(page.locator("#status")).to_contain_text("Account changed")
    expect(page.locator("#my-vault-shares")).to_contain_text("0.0000")
    page.fill("form[data-action=vault-deposit] input[name=amount]", "200")
    page.click("form[data-action=vault-deposit] button")
    expect(page.locator("#my-vault-value")).to_contain_text("200.000000 USDC")
    expect(page.locator("#vault-tvl")).to_contain_text("1,200.000000 USDC")

    # the manager's fill: 11k notional long holds 1.1k margin, so the vault cannot pay 200 now
    fund_taker(w3, stack, stack.keys[TAKER], usdc_units("50000"))
    settle(w3, stack, address, stack.keys[LEADER], stack.keys[TAKER], True, 55 * 10**17)
    page.reload()  # the test wallet starts again on the leader's account
    page.wait_for_selector("body[data-ready='1']")
    page.click("#connect")
    page.evaluate(f"window.__mmxWallet.switchAccount('{KeySigner(w3, stack.keys[FOLLOWER]).address}')")
    expect(page.locator("#my-vault-value")).to_contain_text("200.")
    page.click("[data-action=vault-all]")
    page.click("form[data-action=vault-withdraw] button:not([type])")
    expect(page.locator("#status")).to_contain_text("Your withdrawal is queued as request #0")
    expect(page.locator("#my-requests")).to_contain_text("next in line")
    expect(page.locator("#vault-queue")).to_contain_text("1")
    page.click("[data-action=vault-claim]")
    expect(page.locator("#status")).to_have_text(sentence("vault: insufficient liquidity"))
    shot(page, "web-vault", docs=True)

    settle(w3, stack, address, stack.keys[LEADER], stack.keys[TAKER], False, 55 * 10**17, flags=REDUCE_ONLY)
    page.click("[data-action=vault-claim]")
    expect(page.locator("#status")).to_contain_text("Claimed request #0")
    expect(page.locator("#my-requests")).to_have_count(0)
    expect(page.locator("#my-vault-shares")).to_contain_text("0.0000")
    shot(page, "web-vault-claimed")

    page.goto(page.url.split("#")[0] + "#/vaults")
    expect(page.locator("#vault-list")).to_contain_text("Alpha grid")
    expect(page.locator("#vault-list")).to_contain_text("grid")
    shot(page, "web-vaults", docs=True)


def test_vault__follower_before_leader__owner_stake_sentence(open_app, chain, shot):
    _, w3, stack = chain
    leader = KeySigner(w3, stack.keys[LEADER])
    fund_wallet(chain, 9, usdc_units("1000"))
    address = VaultFactoryClient.connect(w3, stack.deployment, leader).create("Empty", manager=leader.address)
    page = open_app(9, path=f"#/vault/{address}")
    page.click("#connect")
    page.fill("form[data-action=vault-deposit] input[name=amount]", "100")
    page.click("form[data-action=vault-deposit] button")
    expect(page.locator("#status")).to_have_text(sentence("vault: owner stake"))
    token = w3.eth.contract(address=stack.deployment.usdc, abi=__import__("offchain.artifacts").artifacts.abi("TestUSDC"))
    assert token.functions.allowance(KeySigner(w3, stack.keys[9]).address, address).call() == 0
    shot(page, "web-vault-owner-stake")
