"""The `make run` report is composed of parts: each adds terminal lines and HTML sections;
a part that fails is reported and the others still print and land in report.html."""

from offchain import mainjob
from offchain.analytics.html import Section


def _ok(ctx):
    return mainjob.ReportPart(["orders accepted  12"], [Section("Run", "<p>twelve</p>")])


def _boom(ctx):
    raise RuntimeError("chain went away")


def _later(ctx):
    return mainjob.ReportPart(["funding  n/a"], [Section("Funding", "<p>slot</p>")])


def test_report__parts_in_order__one_failure_loses_nothing_else(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mainjob, "REPORT_PARTS", [_ok, _boom, _later])
    path = mainjob.report(None, {}, mainjob.TraderStats(), 5.0, [], tmp_path)
    out = capsys.readouterr().out
    assert out.index("orders accepted  12") < out.index("_boom unavailable: RuntimeError('chain went away')") \
        < out.index("funding  n/a")
    assert path == tmp_path / "report.html" and f"report: {path}" in out
    html = path.read_text()
    assert html.index("twelve") < html.index("slot") and "MMX devnet run: 5 s" in html


def test_report__summary_lines__rich_table_as_text():
    lines = mainjob._summary_lines(["entity", "net PnL (USDC)"], [["pool", "1.000000"], ["vault", "-2.000000"]])
    text = "\n".join(lines)
    assert "analytics summary" in text and "pool" in text and "-2.000000" in text
    assert all(len(line) <= 140 for line in lines)
