"""The operator's and the LP's Ape scripts against a real anvil, as a user runs them."""

import subprocess

import pytest

from offchain.devnet import PROJECT_ROOT, Anvil, project_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    with Anvil(accounts=6) as node:
        yield node, tmp_path_factory.mktemp("deploy") / "deployment.json"


def ape_run(node, *args):
    return subprocess.run(
        ["ape", "run", *args, "--network", node.url], cwd=PROJECT_ROOT, env=project_env(),
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )


def lines(result) -> dict[str, str]:
    out = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition("  ")
        if value.strip():
            out[key.strip()] = value.strip()
    return out


def test_ape_run_deploy_then_pool__lp_wallet__deposit_status_and_locked_redeem(devnet):
    node, deployment = devnet
    deployed = ape_run(node, "deploy", "--account", "TEST::0", "--out", str(deployment))
    assert deployed.returncode == 0, deployed.stderr[-2000:]
    assert deployment.exists()

    common = ["--account", "TEST::4", "--deployment", str(deployment)]
    assert ape_run(node, "pool", "faucet", "5000", *common).returncode == 0
    deposited = ape_run(node, "pool", "deposit", "1234.5", *common)
    assert deposited.returncode == 0, deposited.stderr[-2000:]

    status = lines(ape_run(node, "pool", "status", *common))
    assert status["pool total assets"] == "1,234.500000 USDC"
    assert status["your value"] == "1,234.500000 USDC"
    assert status["wallet USDC"] == "3,765.500000"
    assert status["withdrawable now"] == "0.000000 USDC"  # inside the 4-day lock-up

    redeemed = ape_run(node, "pool", "redeem", "ALL", *common)
    assert redeemed.returncode != 0
    assert "nothing redeemable now" in redeemed.stderr + redeemed.stdout


def test_ape_run_pool__bad_amount__clear_error(devnet):
    node, deployment = devnet
    result = ape_run(node, "pool", "deposit", "12.3456789", "--account", "TEST::4",
                     "--deployment", str(deployment))
    assert result.returncode != 0
    assert "at most 6 decimals" in result.stderr + result.stdout
