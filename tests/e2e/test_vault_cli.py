"""`ape run vault ...` and `ape run pool ...` as a user runs them, against a real anvil.

Every refusal must exit non-zero with the sentence (no traceback) and change nothing."""

from __future__ import annotations

import re
import subprocess

import pytest
from web3 import Web3

from offchain.client.pool import PoolClient
from offchain.client.vaults import VaultClient
from offchain.client.wallet import KeySigner, sentence
from offchain.devnet import PROJECT_ROOT, Anvil, project_env
from offchain.keeper.devstack import deploy_stack

pytestmark = pytest.mark.e2e
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with Anvil(accounts=8) as node:
        stack = deploy_stack(node.url, node.private_keys(), traders=0)
        path = tmp_path_factory.mktemp("deploy") / "deployment.json"
        stack.deployment.save(path)
        yield node, stack, path


def faucet(stack, index: int) -> None:
    w3 = Web3(Web3.HTTPProvider(stack.url))
    PoolClient.connect(w3, stack.deployment, KeySigner(w3, stack.keys[index])).faucet(5000 * 10**6)


def ape(devnet, *args, network=True):
    node, _, path = devnet
    extra = ["--network", node.url] if network else []
    return subprocess.run(
        ["ape", "run", *args, "--deployment", str(path), *extra], cwd=PROJECT_ROOT, env=project_env(),
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )


def ok(result) -> str:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def refused(result, reason: str) -> None:
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert sentence(reason) in out, out[-3000:]
    assert "Traceback" not in out


def test_vault_cli__create_follow_refusals_status_and_withdraw(devnet):
    node, stack, _ = devnet
    created = ok(ape(devnet, "vault", "create", "CLI grid", "--account", "TEST::4", "--lockup-hours", "1",
                     "--profit-share-bps", "1500", "--yes"))
    vault = re.search(r"at (0x[0-9a-fA-F]{40})", created).group(1)
    assert VaultClient(Web3(Web3.HTTPProvider(node.url)), vault, "").info().profit_share_bps == 1500

    for index in (4, 5):  # the SDK is quicker than two more `ape run pool faucet` (tested elsewhere)
        faucet(stack, index)
    refused(ape(devnet, "vault", "deposit", vault, "200", "--account", "TEST::5"), "vault: owner stake")
    assert "deposited 1,000.000000 USDC" in ok(ape(devnet, "vault", "deposit", vault, "1000", "--account", "TEST::4"))
    ok(ape(devnet, "vault", "deposit", vault, "200", "--account", "TEST::5"))
    refused(ape(devnet, "vault", "withdraw", vault, "ALL", "--account", "TEST::5"), "vault: locked")

    listed = ok(ape(devnet, "vault", "list"))
    assert vault in listed and "CLI grid" in listed and "TVL 1,200.000000 USDC" in listed
    status = ok(ape(devnet, "vault", "status", vault, "--account", "TEST::5"))
    assert "your value          200.000000 USDC" in status
    assert ISO.search(status.split("locked until")[1])

    w3 = Web3(Web3.HTTPProvider(node.url))
    w3.provider.make_request("evm_increaseTime", [3601])
    w3.provider.make_request("evm_mine", [])
    assert "paid 200.000000 USDC" in ok(ape(devnet, "vault", "withdraw", vault, "ALL", "--account", "TEST::5"))
    refused(ape(devnet, "vault", "claim", vault, "0", "--account", "TEST::5"), "vault: no request")


def test_vault_cli__bad_input__clear_errors(devnet):
    out = ape(devnet, "vault", "create", "", "--account", "TEST::6")
    refused(out, "factory: name")
    bad = ape(devnet, "vault", "deposit", "0x" + "11" * 20, "abc", "--account", "TEST::6")
    assert bad.returncode != 0 and "not an amount" in bad.stdout + bad.stderr


def test_pool_cli__status_without_network__says_so(devnet):
    result = ape(devnet, "pool", "status", network=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in out
    assert "no LiquidityPool contract at" in out and "--network" in out


def test_pool_cli__locked_redeem__sentence_and_iso_dates(devnet):
    faucet(devnet[1], 7)
    deposited = ok(ape(devnet, "pool", "deposit", "100", "--account", "TEST::7", "--yes"))
    assert ISO.search(deposited.split("locked until")[1])
    refused(ape(devnet, "pool", "redeem", str(10**12), "--account", "TEST::7"), "pool: locked")


def test_pool_cli__keyfile_account__signs_with_passphrase_env_and_yes(devnet, tmp_path):
    """A keyfile account (what `ape accounts import` writes) signs without a prompt: the
    passphrase from APE_ACCOUNTS_<alias>_PASSPHRASE and --yes (stdin is closed)."""
    import json
    import os

    from eth_account import Account

    node, stack, path = devnet
    key = stack.keys[6]
    faucet(stack, 6)
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    (accounts / "ci.json").write_text(json.dumps(Account.encrypt(key, "s3cret")))
    env = project_env() | {"APE_DATA_FOLDER": str(tmp_path), "APE_ACCOUNTS_ci_PASSPHRASE": "s3cret"}
    result = subprocess.run(
        ["ape", "run", "pool", "deposit", "10", "--account", "ci", "--yes", "--deployment", str(path),
         "--network", node.url], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL)
    assert "deposited 10.000000 USDC" in ok(result)
