"""JSON dict, CLI table, PNG charts."""

import json

from offchain.analytics import MarkPoint, SettledFill, analyze, format_table, report_to_dict
from offchain.analytics.__main__ import main
from offchain.analytics.charts import render_charts
from tests.constants import USDC

ETH = 10**18
H = 3_600_000
FILLS = [SettledFill(0, 1, True, 3000 * USDC, ETH, True, rebate=300_000),
         SettledFill(H, 1, False, 3030 * USDC, ETH, True, rebate=303_000),
         SettledFill(2 * H, 1, True, 3000 * USDC, ETH, False, fee=1_500_000)]
MARKS = [MarkPoint(3 * H, 1, 2990 * USDC)]


def test_analytics__report_dict__json_round_trips_exact_integers():
    d = report_to_dict(analyze(FILLS, MARKS, entity="mm1", initial_equity=10_000 * USDC))
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["realised_pnl"] == 30 * USDC and d["positions"] == {"1": ETH}
    assert d["series"][0] == {"ts": 0, "equity": 10_000_300_000, "inventory_1": ETH, "value": 10_000_300_000.0,
                              "drawdown": 0.0}


def test_analytics__table__exact_usdc_and_ratios():
    table = format_table(analyze(FILLS, MARKS, entity="mm1", initial_equity=10_000 * USDC))
    assert "realised PnL (USDC)" in table and "30.000000" in table
    assert "rebates earned (USDC)" in table and "0.603000" in table
    assert "win rate" in table and "100.00%" in table


def test_analytics__charts__three_pngs(tmp_path):
    paths = render_charts(analyze(FILLS, MARKS, entity="mm1", initial_equity=10_000 * USDC), tmp_path)
    assert set(paths) == {"equity", "inventory", "drawdown"}
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analytics__cli__prints_table_and_writes_charts(tmp_path, capsys):
    src = tmp_path / "in.json"
    src.write_text(json.dumps({
        "entity": "mm1", "initial_equity": 10_000 * USDC,
        "fills": [{"ts": f.ts, "market": f.market, "is_buy": f.is_buy, "price": f.price, "size": f.size,
                   "is_maker": f.is_maker, "fee": f.fee, "rebate": f.rebate} for f in FILLS],
        "marks": [{"ts": m.ts, "market": m.market, "price": m.price} for m in MARKS]}))
    assert main([str(src), "--charts", str(tmp_path / "charts")]) == 0
    out = capsys.readouterr().out
    assert "net PnL (USDC)" in out and "equity chart:" in out
    assert (tmp_path / "charts" / "mm1_equity.png").exists()
