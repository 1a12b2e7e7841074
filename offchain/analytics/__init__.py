"""Performance analytics for accounts, vaults and the pool (pure: no I/O except charts).

    report = analyze(fills, marks, entity="0xabc", kind="vault", initial_equity=..., nav=...)
    print(format_table(report)); report_to_dict(report)
    from offchain.analytics.charts import render_charts   # matplotlib only when drawing
    render_charts(report, "out/")
See docs/analytics.md.
"""

from offchain.analytics.ledger import Ledger
from offchain.analytics.metrics import PerformanceReport, ReturnStats, analyze, return_stats
from offchain.analytics.records import MarkPoint, NavPoint, SettledFill
from offchain.analytics.report import format_table, report_to_dict

__all__ = ["Ledger", "MarkPoint", "NavPoint", "PerformanceReport", "ReturnStats", "SettledFill", "analyze",
           "format_table", "report_to_dict", "return_stats"]

