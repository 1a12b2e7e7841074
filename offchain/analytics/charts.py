"""PNG charts of a report: equity (or NAV per share), inventory, drawdown.

Uses matplotlib's object API with the Agg canvas directly rather than pyplot, so it
never touches the process-wide backend (the keeper may import this) and needs no display.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from offchain.analytics.html import _plain

from offchain.analytics.metrics import PerformanceReport


def _figure(title: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(9, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))  # plain labels, never an offset
    return fig, ax


def render_charts(report: PerformanceReport, out_dir: str | Path, prefix: str = "") -> dict[str, Path]:
    """Write equity.png, inventory.png and drawdown.png (prefixed) and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = prefix or (report.entity.replace("/", "_") + "_" if report.entity else "")
    series = report.series
    paths: dict[str, Path] = {}
    label = report.entity or report.kind

    nav = report.kind in ("vault", "pool") and "value" in series and series["value"].notna().any() \
        and not series["value"].equals(series.get("equity"))
    fig, ax = _figure(f"{label}: {'NAV per share, change since start (bps)' if nav else 'equity (USDC)'}")
    if not series.empty:
        if nav:
            first = float(series["value"].dropna().iloc[0])
            ax.plot(series.index, (series["value"] / first - 1) * 10_000, label="NAV per share")
            if "hold" in series:
                ax.plot(series.index, (series["hold"] / first - 1) * 10_000, label="hold", linestyle="--")
        else:
            ax.plot(series.index, series["equity"] / 1e6, label="equity")
            if "hold" in series:
                ax.plot(series.index, series["hold"] / 1e6, label="hold", linestyle="--")
        ax.legend()
    paths["equity"] = out / f"{name}equity.png"
    fig.savefig(paths["equity"])

    fig, ax = _figure(f"{label}: inventory (base units)")
    for col in (c for c in series.columns if str(c).startswith("inventory_")):
        ax.step(series.index, series[col].astype(float) / 1e18, where="post", label=f"market {col[10:]}")
    if any(str(c).startswith("inventory_") for c in series.columns):
        ax.legend()
    paths["inventory"] = out / f"{name}inventory.png"
    fig.savefig(paths["inventory"])

    fig, ax = _figure(f"{label}: drawdown")
    if "drawdown" in series:
        ax.fill_between(series.index, -series["drawdown"].astype(float) * 10_000, 0, color="tab:red", alpha=0.4)
        ax.set_ylabel("bps below peak")
    paths["drawdown"] = out / f"{name}drawdown.png"
    fig.savefig(paths["drawdown"])
    return paths
