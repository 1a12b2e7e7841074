"""CLI: python -m offchain.analytics (INPUT.json | --rpc URL --deployment FILE) [--html PATH]

From a file, INPUT.json: {"entity": str, "kind": "account"|"vault"|"pool", "initial_equity": int,
             "bar": "1h", "hold_market": int|null, "hold_base_bps": int,
             "fills": [{ts, market, is_buy, price, size, is_maker, fee, rebate}],
             "marks": [{ts, market, price}], "nav": [{ts, total_assets, total_supply}]}
prints the table (or the JSON report with --json); --charts writes PNGs, --html one
self-contained report. From a live deployment (--rpc and a deployment.json as `make run`
writes it), reads the chain and writes the HTML report of the pool, every vault and the
--account addresses (market quality from fills and marks; book depth needs the samples
only a running job takes), and prints a short summary table.
"""

from __future__ import annotations

import argparse
import json
import sys

from offchain.analytics.metrics import MIN_PERIODS, analyze
from offchain.analytics.records import MarkPoint, NavPoint, SettledFill
from offchain.analytics.report import format_table, report_to_dict


def _from_chain(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table
    from web3 import Web3

    from offchain.analytics.chain_report import SUMMARY_HEADER, chain_sections
    from offchain.analytics.html import HtmlReport
    from offchain.deploy import Deployment

    deployment = Deployment.load(args.deployment)
    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 60}))
    print("reading the chain ...", file=sys.stderr, flush=True)
    accounts = {f"account {i + 1}": a for i, a in enumerate(args.account or [])}
    sections, summary = chain_sections(w3, deployment, accounts, None, bar=args.bar or "1s",
                                       min_periods=args.min_periods, market_names=dict(deployment.markets) or None)
    report = HtmlReport("MMX analytics", f"deployment {args.deployment} on {args.rpc}")
    for s in sections:
        report.add(s)
    table = Table(title="analytics summary")
    for i, h in enumerate(SUMMARY_HEADER):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in summary:
        table.add_row(*row)
    Console().print(table)
    path = report.write(args.html or "var/analytics/report.html")
    print(f"report: {path.resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offchain.analytics", description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", help="JSON file with fills, marks and nav (see module doc)")
    parser.add_argument("--rpc", help="read a live deployment at this RPC URL instead of a file")
    parser.add_argument("--deployment", help="deployment.json (with --rpc)")
    parser.add_argument("--account", action="append", help="an account to include (with --rpc; repeatable)")
    parser.add_argument("--charts", metavar="DIR", help="write equity/inventory/drawdown PNGs here")
    parser.add_argument("--html", metavar="PATH", help="write one self-contained HTML report here")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    parser.add_argument("--bar", help="return sampling grid (pandas offset, e.g. 1s, 1h)")
    parser.add_argument("--min-periods", type=int, default=MIN_PERIODS, help="fewer returns: ratios are n/a")
    args = parser.parse_args(argv)
    if args.rpc:
        if not args.deployment:
            parser.error("--rpc needs --deployment")
        return _from_chain(args)
    if not args.input:
        parser.error("give an INPUT.json, or --rpc and --deployment")
    with open(args.input) as fh:
        data = json.load(fh)
    report = analyze(
        [SettledFill(**f) for f in data.get("fills", [])],
        [MarkPoint(**m) for m in data.get("marks", [])],
        entity=data.get("entity", ""), kind=data.get("kind", "account"),
        initial_equity=int(data.get("initial_equity", 0)),
        nav=[NavPoint(**n) for n in data.get("nav", [])], bar=args.bar or data.get("bar", "1h"),
        hold_market=data.get("hold_market"), hold_base_bps=int(data.get("hold_base_bps", 0)),
        min_periods=args.min_periods,
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
    if args.html:
        from offchain.analytics.html import HtmlReport, performance_section

        html = HtmlReport(f"MMX analytics: {report.entity or report.kind}")
        html.add(performance_section(f"{report.entity or '-'} ({report.kind})", report))
        print(f"report: {html.write(args.html)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
