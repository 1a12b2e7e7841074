"""Report outputs: a JSON-able dict (for the keeper's API) and a CLI table."""

from __future__ import annotations

import math
from typing import Any

from offchain.analytics.metrics import PerformanceReport, ReturnStats


def _num(x: float | None) -> float | None:
    """NaN / inf are not JSON: they become None."""
    return None if x is None or not math.isfinite(x) else float(x)


def report_to_dict(report: PerformanceReport, *, include_series: bool = True) -> dict[str, Any]:
    """Everything in the report as JSON-able values (ints stay exact integers)."""
    s = report.stats
    out: dict[str, Any] = {
        "entity": report.entity, "kind": report.kind,
        "start_ts": report.start_ts, "end_ts": report.end_ts,
        "maker_volume": report.maker_volume, "taker_volume": report.taker_volume,
        "fees_paid": report.fees_paid, "rebates_earned": report.rebates_earned,
        "realised_pnl": report.realised_pnl, "unrealised_pnl": report.unrealised_pnl,
        "gross_pnl": report.gross_pnl, "net_pnl": report.net_pnl,
        "positions": {str(m): p for m, p in report.positions.items()},
        "round_trips": report.round_trips, "win_rate": _num(report.win_rate),
        "total_return": _num(s.total_return), "sharpe": _num(s.sharpe), "sortino": _num(s.sortino),
        "max_drawdown": _num(s.max_drawdown), "return_periods": s.periods, "bar": s.bar,
        "min_periods": s.min_periods, "sharpe_per_bar": _num(s.sharpe_per_bar), "apr": _num(s.apr),
        "hold_return": _num(report.hold_return), "excess_return_vs_hold": _num(report.excess_return_vs_hold),
    }
    if include_series:
        rows = []
        for ts, row in report.series.iterrows():
            item: dict[str, Any] = {"ts": int(ts.value // 1_000_000)}
            for col, v in row.items():
                if col == "equity" or str(col).startswith("inventory_"):
                    item[str(col)] = None if v != v else int(v)  # exact integers (NaN -> None)
                else:
                    item[str(col)] = _num(float(v))
            rows.append(item)
        out["series"] = rows
    return out


def usdc(units: int) -> str:
    """Exact decimal USDC from integer units (no float rounding in the table)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**6)
    return f"{sign}{whole:,}.{frac:06d}"


def base(units: int) -> str:
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**18)
    return f"{sign}{whole:,}.{frac:018d}".rstrip("0").rstrip(".")


def bps(x: float | None) -> str:
    """A fraction as basis points with enough digits for seconds of data (1 bp = 0.01%);
    percent alongside once it is large enough to read that way."""
    if x is None or not math.isfinite(x):
        return "n/a"
    text = f"{x * 10_000:,.2f} bps" if abs(x) >= 1e-6 or x == 0 else f"{x * 10_000:.3g} bps"
    return f"{text} ({x * 100:.2f}%)" if abs(x) >= 0.01 else text


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 100:.2f}%"


def ratio_text(x: float | None, stats: ReturnStats) -> str:
    """A ratio, or why it is missing."""
    if not stats.enough:
        return f"n/a (fewer than {stats.min_periods} periods)"
    return "n/a (no variation)" if x is None else f"{x:.2f}"


def stats_rows(s: ReturnStats) -> list[tuple[str, str]]:
    return [
        ("total return", bps(s.total_return)),
        ("APR (simple)", bps(s.apr) if s.enough else f"n/a (fewer than {s.min_periods} periods)"),
        (f"return periods ({s.bar} bars)", str(s.periods)),
        (f"Sharpe per {s.bar} bar", ratio_text(s.sharpe_per_bar, s)),
        (f"Sharpe (annualised x{s.annualisation:,.0f})", ratio_text(s.sharpe, s)),
        (f"Sortino (annualised x{s.annualisation:,.0f})", ratio_text(s.sortino, s)),
        ("max drawdown", bps(s.max_drawdown)),
    ]


def table_rows(report: PerformanceReport) -> list[tuple[str, str]]:
    """(label, text) rows of a report: the CLI table, the HTML report and rich all use them."""
    s = report.stats
    rows = [
        ("entity", f"{report.entity or '-'} ({report.kind})"),
        ("maker volume (USDC)", usdc(report.maker_volume)),
        ("taker volume (USDC)", usdc(report.taker_volume)),
        ("fees paid (USDC)", usdc(report.fees_paid)),
        ("rebates earned (USDC)", usdc(report.rebates_earned)),
        ("realised PnL (USDC)", usdc(report.realised_pnl)),
        ("unrealised PnL (USDC)", usdc(report.unrealised_pnl)),
        ("gross PnL (USDC)", usdc(report.gross_pnl)),
        ("net PnL (USDC)", usdc(report.net_pnl)),
        *stats_rows(s),
        ("round trips", str(report.round_trips)),
        ("win rate", _pct(report.win_rate)),
    ]
    rows += [(f"position market {m}", base(p)) for m, p in report.positions.items()]
    if report.hold_return is not None:
        rows += [("hold return", bps(report.hold_return)),
                 ("excess vs hold", bps(report.excess_return_vs_hold))]
    return rows


def format_table(report: PerformanceReport) -> str:
    rows = table_rows(report)
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    rule = "-" * (width + vwidth + 3)
    lines = [rule] + [f"{k:<{width}} | {v:>{vwidth}}" for k, v in rows] + [rule]
    return "\n".join(lines)
