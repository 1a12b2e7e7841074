"""The report sections of a deployment, read from chain (the `make run` report).

    sections, summary = chain_sections(w3, deployment, {"trader 1": "0x..."}, samples, bar="1s")
    for s in sections: html_report.add(s)

Sections: market quality per market (from book samples taken during the run plus the
settled fills and oracle marks on chain), the pool, each vault and each named account
(performance tables and charts), LPs and followers (PnL since entry against USDC and the
base asset), and funding (paid / received per entity, rates per market with a chart). `summary` holds the short rows the CLI prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from web3 import Web3

from offchain.analytics.collect import (Addresses, _Reader, analyze_entity, fee_income, holders, market_trades,
                                        oracle_marks, vaults)
from offchain.analytics.funding import funding_rates, funding_totals, rate_bps
from offchain.analytics.html import Section, funding_section, note, performance_section, quality_section, table
from offchain.analytics.metrics import MIN_PERIODS
from offchain.analytics.quality import BookSample, MarketQuality, market_quality
from offchain.analytics.report import bps, ratio_text, usdc

SUMMARY_HEADER = ["entity", "net PnL (USDC)", "total return", "max drawdown", "Sharpe (annualised)",
                  "two-sided uptime", "top of book (mean of sides)"]


def participant_names(w3: Web3, deployment: Any) -> dict[str, str]:
    """Checksum address -> the name book samples and trades use: "pool", "vault" (one
    vault) or "vault 0x1234" (several)."""
    addrs = Addresses.of(deployment)
    names = {Web3.to_checksum_address(addrs.pool): "pool"} if addrs.pool else {}
    vs = vaults(w3, addrs)
    for v in vs:
        names[Web3.to_checksum_address(v)] = "vault" if len(vs) == 1 else f"vault {v[:6]}"
    return names


def chain_sections(w3: Web3, deployment: Any, accounts: Mapping[str, str],
                   samples: Mapping[int, Sequence[BookSample]] | None = None, *, bar: str = "1s",
                   min_periods: int = MIN_PERIODS, markout_s: float = 5.0,
                   market_names: Mapping[int, str] | None = None) -> tuple[list[Section], list[list[str]]]:
    addrs = Addresses.of(deployment)
    names = participant_names(w3, addrs)
    sections: list[Section] = []
    trades = market_trades(w3, addrs, names)
    marks = oracle_marks(_Reader(w3, addrs))
    quality: dict[int, MarketQuality] = {}
    for market in sorted(set(trades) | set(samples or {})):
        market_marks = [(m.ts, m.price) for m in marks if m.market == market]
        q = market_quality(list((samples or {}).get(market, ())), trades.get(market, []), market_marks,
                           horizon_s=markout_s, participants=[*names.values()])
        quality[market] = q
        label = (market_names or {}).get(market, f"market {market}")
        sections.append(quality_section(f"Market quality: {label}", q, list((samples or {}).get(market, ())),
                                        trades.get(market, []),
                                        notes=[f"Book sampled by the main job during the run; markout = mark "
                                               f"{markout_s:g} s after each maker fill, signed for the maker."]))

    summary: list[list[str]] = []
    rebates: dict[str, int] = {}
    targets: list[tuple[str, str, str]] = []
    if addrs.pool:
        targets.append(("pool", "pool", addrs.pool))
    targets += [(names[Web3.to_checksum_address(v)], "vault", v) for v in vaults(w3, addrs)]
    targets += [(label, "account", a) for label, a in accounts.items()]
    for label, kind, entity in targets:
        report = analyze_entity(w3, addrs, entity, kind, bar=bar, min_periods=min_periods)
        rebates[Web3.to_checksum_address(report.entity or entity)] = report.rebates_earned
        s = report.stats
        # per market it quoted at all (a vault makes one market; the pool each grid market)
        quoted = [((market_names or {}).get(m, f"m{m}"), q.participants[label]) for m, q in sorted(quality.items())
                  if label in q.participants and q.participants[label].two_sided_uptime > 0]
        uptime = ", ".join(f"{n} {p.two_sided_uptime * 100:.1f}%" for n, p in quoted) or "-"
        top = ", ".join(f"{n} {(p.top_bid_share + p.top_ask_share) / 2 * 100:.1f}%" for n, p in quoted) or "-"
        summary.append([label, usdc(report.net_pnl), bps(s.total_return), bps(s.max_drawdown),
                        ratio_text(s.sharpe, s), uptime, top])
        sections.append(performance_section(f"{label} ({kind} {entity})", report))

    # funding paid / received per entity (FundingSettled logs + unsettled funding_owed)
    entities = {label: entity for label, _, entity in targets}
    funding = funding_totals(w3, deployment, entities) if entities else {}
    net_funding = {Web3.to_checksum_address(entities[label]): t.net for label, t in funding.items()}

    rows = []
    for kind, address in ([("pool", addrs.pool)] if addrs.pool else []) + [("vault", v) for v in vaults(w3, addrs)]:
        base_market = 1
        found = holders(w3, address, kind, [m for m in marks if m.market == base_market])
        # fees the entity earned: rebates on its maker fills, plus (the pool) its share of fees
        earned = rebates.get(Web3.to_checksum_address(address), 0)
        if kind == "pool":
            earned += fee_income(w3, addrs, address)
        supply = sum(h.shares for h in found.values())
        for h in found.values():
            mine = earned * h.shares // supply if supply else 0
            fund_mine = net_funding.get(Web3.to_checksum_address(address), 0) * h.shares // supply if supply else 0
            rows.append([f"{kind} {address[:10]}", h.holder, usdc(h.deposited), usdc(h.withdrawn), usdc(h.value),
                         usdc(h.pnl), bps(h.return_on_deposits), usdc(mine), usdc(h.fees_paid),
                         "n/a" if h.vs_base is None else usdc(h.vs_base), usdc(fund_mine)])
    sections.append(Section("LPs and followers", table(rows, [
        "in", "holder", "deposited", "withdrawn", "value now", "PnL since entry", "return on deposits",
        "fees earned (pro rata)", "profit share paid", "vs holding base (market 1)", "funding (pro rata)"]) + note(
        "Value now = shares at the contract's share price (virtual shares included); PnL = value + withdrawn - "
        "deposited, which is also the result against holding USDC. Against base: each deposit bought, each "
        "withdrawal sold the base asset at the mark of its time. Fees earned: the pool's share of trading fees "
        "(FeesDistributed) plus maker rebates (pool and vaults), split by the shares held now. Funding: the "
        "pool's or vault's funding PnL (received - paid - unsettled), split the same way.")))
    figures = []
    for label, t in funding.items():
        figures.append((f"{label}: paid / received / unsettled", f"{usdc(t.paid)} / {usdc(t.received)} / "
                                                                  f"{usdc(t.unsettled)}"))
        figures.append((f"{label}: funding PnL (settlements)", f"{usdc(t.net)} ({t.settlements})"))
    rates = funding_rates(w3, deployment)
    for market, points in sorted(rates.items()):
        label = (market_names or {}).get(market, f"market {market}")
        total = sum(r for _, _, r in points)
        figures.append((f"{label}: intervals funded / sum of rates", f"{len(points)} / {rate_bps(total):.3f} bps"))
    series = {}
    if rates:
        import pandas as pd

        for market, points in sorted(rates.items()):
            label = (market_names or {}).get(market, f"market {market}")
            series[label] = (pd.to_datetime([t for t, _, _ in points], unit="ms", utc=True),
                             [rate_bps(r) for _, _, r in points])
    sections.append(funding_section(figures, series))
    return sections, summary


__all__ = ["SUMMARY_HEADER", "chain_sections", "participant_names"]
