"""One self-contained HTML report: sections of tables and charts, no network to open it.

A report is a list of `Section`s (a title, an HTML body), so each part of the system can
add its own (the main job's run figures, the pool, each vault, market quality, funding).
Charts are matplotlib figures drawn on the Agg canvas (no pyplot: the keeper may import
this) and embedded as base64 PNGs; axes show absolute values or bps with plain tick
labels, never an offset (`1e-13+1e-6` is not a number a reader can use).

    report = HtmlReport("MMX devnet run")
    report.add(performance_section("pool", perf))
    report.add(quality_section("ETH-PERP", quality, samples, trades))
    report.add(funding_section(None))          # the slot for the funding figures
    path = report.write("var/run-x/report.html")
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from offchain.analytics.metrics import PerformanceReport
from offchain.analytics.quality import BookSample, MarketQuality, Trade
from offchain.analytics.report import table_rows

MAX_POINTS = 2_000  # per line: a day of 1 s values is downsampled to what a chart can show
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
p.note{color:#555;font-size:13px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-variant-numeric:tabular-nums}
td:first-child,th:first-child{text-align:left}
th{background:#f4f6f8}
.charts{display:flex;flex-wrap:wrap;gap:10px}
.charts figure{margin:0} .charts img{width:560px;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555}
"""


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    body: str  # HTML


@dataclass
class HtmlReport:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section | None) -> None:
        if section is not None:
            self.sections.append(section)

    def render(self) -> str:
        toc = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(self.sections))
        parts = [f'<h2 id="s{i}">{html.escape(s.title)}</h2>\n{s.body}' for i, s in enumerate(self.sections)]
        sub = f'<p class="note">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{CSS}</style></head><body><h1>{html.escape(self.title)}</h1>{sub}<ul>{toc}</ul>"
                + "\n".join(parts) + "</body></html>\n")

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render())
        return path


# -- building blocks ---------------------------------------------------------------------------
def table(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _downsample(x: pd.DatetimeIndex, y: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    if len(x) <= MAX_POINTS:
        return x, y
    step = int(math.ceil(len(x) / MAX_POINTS))
    return x[::step], y[::step]


def _plain(v: float, _pos: object = None) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.1f}".rstrip("0").rstrip(".")
    return f"{v:.4g}"


def chart(title: str, lines: dict[str, tuple[Sequence, Sequence]], ylabel: str, *, kind: str = "line",
          caption: str = "") -> str:
    """A chart as an <img> with an embedded PNG. `lines` maps a label to (x, y); x are
    UTC datetimes (pandas) or numbers. kind: "line", "step" or "bar"."""
    fig = Figure(figsize=(7.2, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    drawn = False
    for label, (x, y) in lines.items():
        if len(x) == 0:
            continue
        x = pd.DatetimeIndex(x) if not isinstance(x, pd.DatetimeIndex) else x
        y = np.asarray(y, dtype=float)
        x, y = _downsample(x, y)
        if kind == "step":
            ax.step(x, y, where="post", label=label)
        elif kind == "bar":
            width = (x[1] - x[0]) * 0.8 if len(x) > 1 else pd.Timedelta(seconds=1)
            ax.bar(x, y, width=width, label=label, alpha=0.7)
        else:
            ax.plot(x, y, label=label, linewidth=1.2)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="#888")
    else:
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if len(lines) > 1:
            ax.legend(fontsize=8)
    ax.yaxis.set_major_formatter(FuncFormatter(_plain))  # plain labels: never an offset
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_xlabel("time (UTC)", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">{cap}</figure>'


def charts(*images: str) -> str:
    return '<div class="charts">' + "".join(images) + "</div>"


# -- sections ----------------------------------------------------------------------------------
def performance_section(title: str, report: PerformanceReport, *, extra_rows: Sequence[tuple[str, str]] = (),
                        notes: Sequence[str] = ()) -> Section:
    """Table + value / inventory / drawdown charts of one account, vault or pool."""
    s = report.series
    images = []
    if not s.empty and "value" in s:
        value = s["value"].astype(float)
        nav = report.kind in ("vault", "pool") and not value.equals(s.get("equity"))
        if nav:
            first = float(value.dropna().iloc[0]) if value.notna().any() else 0.0
            change = (value / first - 1.0) * 10_000 if first else value * 0
            lines = {"NAV per share": (s.index, change)}
            if "hold" in s:
                lines["hold"] = (s.index, (s["hold"].astype(float) / first - 1.0) * 10_000)
            images.append(chart("NAV per share: change since start", lines, "bps"))
        else:
            lines = {"equity": (s.index, s["equity"].astype(float) / 1e6)}
            images.append(chart("equity", lines, "USDC"))
    inv = {f"market {c[10:]}": (s.index, s[c].astype(float) / 1e18) for c in s.columns
           if str(c).startswith("inventory_")} if not s.empty else {}
    images.append(chart("inventory", inv, "base units", kind="step"))
    dd = {"drawdown": (s.index, -s["drawdown"].astype(float) * 10_000)} if "drawdown" in s else {}
    images.append(chart("drawdown", dd, "bps below peak"))
    body = table([*table_rows(report), *extra_rows], ["figure", "value"]) + "".join(note(n) for n in notes)
    return Section(title, body + charts(*images))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"


def _bps(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.2f}"


def _usd(units: float) -> str:
    return f"{units / 1e6:,.0f}"


def quality_rows(q: MarketQuality) -> tuple[list[str], list[list[str]]]:
    header = ["participant", "two-sided uptime", "top of book (bid / ask / both)",
              *[f"depth {b} bps (USDC, bid / ask)" for b in q.bands_bps], "maker share", "maker volume (USDC)",
              "fill rate", f"markout {q.horizon_s:g} s (bps, + = for maker)", "markout (USDC)"]
    rows = []
    for p in q.participants.values():
        rows.append([
            p.name, _pct(p.two_sided_uptime),
            f"{_pct(p.top_bid_share)} / {_pct(p.top_ask_share)} / {_pct(p.top_both_share)}",
            *[f"{_usd(b)} / {_usd(a)}" for b, a in zip(p.mean_bid_depth, p.mean_ask_depth)],
            _pct(p.maker_share), _usd(p.maker_volume), _pct(p.fill_rate), _bps(p.markout_bps),
            f"{p.markout_usdc / 1e6:,.2f}",
        ])
    return header, rows


def quality_section(title: str, q: MarketQuality, samples: Sequence[BookSample], trades: Sequence[Trade],
                    *, notes: Sequence[str] = ()) -> Section:
    """Spread, depth by participant, uptime, top of book, maker share, fill rate, markouts."""
    summary = [
        ("time-weighted spread", "n/a" if q.time_weighted_spread_bps is None else f"{q.time_weighted_spread_bps:.2f} bps"),
        ("book two-sided", _pct(q.two_sided_book_share)),
        ("book samples", f"{q.samples:,} over {q.duration_s:,.0f} s"),
        ("trades", f"{q.trades:,}"), ("volume (USDC)", _usd(q.volume)),
    ]
    header, rows = quality_rows(q)
    idx = pd.to_datetime([s.ts for s in samples], unit="ms", utc=True)
    spread = [s.spread_bps if s.spread_bps is not None else np.nan for s in samples]
    band = 1 if len(q.bands_bps) > 1 else 0
    depth_lines = {}
    for name in q.participants:
        ys = []
        for s in samples:
            qq = s.quotes.get(name)
            ys.append(((qq.bid_depth[band] + qq.ask_depth[band]) / 1e6) if qq is not None and qq.bid_depth else 0.0)
        depth_lines[name] = (idx, ys)
    fills = {}
    if trades:
        t_idx = pd.to_datetime([t.ts for t in trades], unit="ms", utc=True)
        span = (t_idx.max() - t_idx.min()) if len(t_idx) > 1 else pd.Timedelta(seconds=60)
        bucket = "1min" if span > pd.Timedelta(minutes=10) else "5s"
        if span > pd.Timedelta(hours=6):
            bucket = "15min"
        frame = pd.DataFrame({"maker": [t.maker for t in trades], "n": 1.0}, index=t_idx)
        for name, g in frame.groupby("maker"):
            counts = g["n"].resample(bucket).sum()
            fills[f"{name} (maker)"] = (counts.index, counts.to_numpy())
    images = [
        chart("spread (best ask - best bid)", {"spread": (idx, spread)}, "bps of mid"),
        chart(f"depth within {q.bands_bps[band]} bps of mid (both sides)", depth_lines, "USDC"),
        chart("fills over time", fills, "fills per bucket", kind="line"),
    ]
    body = (table(summary, ["figure", "value"]) + table(rows, header) + "".join(note(n) for n in notes)
            + charts(*images))
    return Section(title, body)


def funding_section(figures: Sequence[tuple[str, str]] | None, series: dict | None = None) -> Section:
    """The funding slot: rows and an optional chart once the funding runner provides them."""
    if not figures:
        return Section("Funding", note("Funding figures are not available yet: they arrive with the funding "
                                       "runner (rates per interval and payments per account)."))
    images = [chart("funding", series, "bps per interval")] if series else []
    return Section("Funding", table(figures, ["figure", "value"]) + charts(*images))


__all__ = ["HtmlReport", "Section", "chart", "charts", "funding_section", "note", "performance_section",
           "quality_rows", "quality_section", "table"]
