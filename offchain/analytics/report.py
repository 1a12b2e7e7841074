"""Report outputs: a JSON-able dict (for the keeper's API) and a CLI table."""

from __future__ import annotations

import math
from typing import Any

from offchain.analytics.metrics import PerformanceReport


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
        "max_drawdown": _num(s.max_drawdown), "return_periods": s.periods,
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


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 100:.2f}%"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.2f}"


def format_table(report: PerformanceReport) -> str:
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
        ("total return", _pct(s.total_return)),
        ("Sharpe (annualised)", _ratio(s.sharpe)),
        ("Sortino (annualised)", _ratio(s.sortino)),
        ("max drawdown", _pct(s.max_drawdown)),
        ("round trips", str(report.round_trips)),
        ("win rate", _pct(report.win_rate)),
    ]
    rows += [(f"position market {m}", base(p)) for m, p in report.positions.items()]
    if report.hold_return is not None:
        rows += [("hold return", _pct(report.hold_return)),
                 ("excess vs hold", _pct(report.excess_return_vs_hold))]
    width = max(len(k) for k, _ in rows)
    vwidth = max(len(v) for _, v in rows)
    rule = "-" * (width + vwidth + 3)
    lines = [rule] + [f"{k:<{width}} | {v:>{vwidth}}" for k, v in rows] + [rule]
    return "\n".join(lines)
