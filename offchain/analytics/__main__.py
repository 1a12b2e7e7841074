"""CLI: python -m offchain.analytics INPUT.json [--charts DIR] [--json]

INPUT.json: {"entity": str, "kind": "account"|"vault"|"pool", "initial_equity": int,
             "bar": "1h", "hold_market": int|null, "hold_base_bps": int,
             "fills": [{ts, market, is_buy, price, size, is_maker, fee, rebate}],
             "marks": [{ts, market, price}], "nav": [{ts, total_assets, total_supply}]}
Prints the table (or the JSON report with --json); --charts writes the PNGs.
"""

from __future__ import annotations

import argparse
import json
import sys

from offchain.analytics.metrics import analyze
from offchain.analytics.records import MarkPoint, NavPoint, SettledFill
from offchain.analytics.report import format_table, report_to_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offchain.analytics", description=__doc__.splitlines()[0])
    parser.add_argument("input", help="JSON file with fills, marks and nav (see module doc)")
    parser.add_argument("--charts", metavar="DIR", help="write equity/inventory/drawdown PNGs here")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    args = parser.parse_args(argv)
    with open(args.input) as fh:
        data = json.load(fh)
    report = analyze(
        [SettledFill(**f) for f in data.get("fills", [])],
        [MarkPoint(**m) for m in data.get("marks", [])],
        entity=data.get("entity", ""), kind=data.get("kind", "account"),
        initial_equity=int(data.get("initial_equity", 0)),
        nav=[NavPoint(**n) for n in data.get("nav", [])], bar=data.get("bar", "1h"),
        hold_market=data.get("hold_market"), hold_base_bps=int(data.get("hold_base_bps", 0)),
    )
    if args.json:
        json.dump(report_to_dict(report), sys.stdout, indent=1)
        print()
    else:
        print(format_table(report))
    if args.charts:
        from offchain.analytics.charts import render_charts

        for kind, path in render_charts(report, args.charts).items():
            print(f"{kind} chart: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
