"""`make run`'s main job as a user runs it: `ape run mmx`, a short run, its report."""

import re
import subprocess

import pytest

from offchain.devnet import PROJECT_ROOT, project_env

pytestmark = pytest.mark.e2e


def figure(report: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(.+)$", report, re.MULTILINE)
    assert match, f"{label!r} missing from the report"
    return match.group(1)


def test_ape_run_mmx__short_run__settles_fills_and_reports(tmp_path):
    result = subprocess.run(
        ["ape", "run", "mmx", "--duration", "8", "--traders", "2", "--workdir", str(tmp_path)],
        cwd=PROJECT_ROOT, env=project_env(), capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL,
    )
    report = result.stdout
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    settled, skipped = re.match(r"(\d+)\s+skipped by the chain (\d+)",
                                figure(report, "fills settled on chain")).groups()
    assert int(settled) > 0
    assert int(skipped) == 0
    assert int(figure(report, "orders accepted").split()[0]) > 0
    assert int(figure(report, "settle batches (txs)")) > 0
    assert int(figure(report, "gas per settled fill").replace(",", "")) > 0
    assert "liquidity pool (assets, USDC)" in report and "vault (assets, USDC)" in report
    assert "liquidations (chain)" in report and "runner steps" in report  # docs/liquidation.md
    assert "analytics summary" in report and "Sharpe" in report  # the short rich table
    html = (tmp_path / "report.html").read_text()  # the one self-contained report
    assert f"report: {tmp_path / 'report.html'}" in report
    for title in ("Market quality: ETH-PERP", "LPs and followers", "Funding"):
        assert title in html
    assert html.count("data:image/png;base64,") >= 9
    assert (tmp_path / "keeper.db").exists()
