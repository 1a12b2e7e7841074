"""Funding PnL from chain (docs/analytics.md, "Funding"; docs/funding.md).

Per account (trader, vault, pool): funding paid and received, from the Exchange's
`FundingSettled(account, market, amount, index)` logs (amount > 0: paid) and, for funding
settled by a fill, each `FillSettled`'s maker_funding / taker_funding, plus what is
still unsettled (`Exchange.funding_owed`, already in the account's equity). Funding PnL =
received - paid (settled) - unsettled. Per market: the rate of every interval from the
Funding contract's `FundingRateSet` logs, for the chart.

    totals = funding_totals(w3, deployment, {"pool": "0x..", "trader 1": "0x.."})
    rates = funding_rates(w3, deployment)

Integers (USDC units; rates scaled by RATE_ONE = 1e12) everywhere; only the chart's bps
are floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from offchain.analytics.collect import Addresses, _Reader, _topic_address
from offchain.artifacts import abi

RATE_ONE = 10**12


@dataclass(frozen=True, slots=True)
class FundingTotals:
    """One account's funding (USDC units)."""

    paid: int = 0        # settled payments (sum of positive FundingSettled amounts)
    received: int = 0    # settled receipts (minus the sum of negative amounts)
    unsettled: int = 0   # owed now and not yet settled (> 0: owes), already in equity
    settlements: int = 0

    @property
    def net(self) -> int:
        """Funding PnL: received - paid - unsettled (> 0: the account earned funding)."""
        return self.received - self.paid - self.unsettled


def totals_from(amounts: Iterable[int], unsettled: int = 0) -> FundingTotals:
    """FundingTotals of an account's settled amounts (FundingSettled.amount, > 0: paid)."""
    paid = received = n = 0
    for a in amounts:
        n += 1
        if a > 0:
            paid += a
        else:
            received -= a
    return FundingTotals(paid, received, unsettled, n)


def funding_totals(w3: Web3, deployment: Any, accounts: Mapping[str, str], *, from_block: int = 0,
                   markets: Iterable[int] = ()) -> dict[str, FundingTotals]:
    """label -> FundingTotals, from FundingSettled and FillSettled logs and funding_owed in `markets`
    (default: every market of the Exchange)."""
    reader = _Reader(w3, Addresses.of(deployment), from_block)
    ex = reader.exchange
    wanted = list(markets) or list(range(1, ex.functions.market_count().call() + 1))
    fills = fill_funding(reader.logs(ex.events.FillSettled(), reader.addresses.exchange))
    out = {}
    for label, address in accounts.items():
        account = to_checksum_address(address)
        logs = reader.logs(ex.events.FundingSettled(), reader.addresses.exchange, [_topic_address(account)])
        owed = sum(int(ex.functions.funding_owed(account, m).call()) for m in wanted)
        amounts = [int(e["args"]["amount"]) for e in logs] + fills.get(account, [])
        out[label] = totals_from(amounts, owed)
    return out


def fill_funding(fill_logs: Iterable[Any]) -> dict[str, list[int]]:
    """account -> the non-zero funding amounts its fills settled (FillSettled's maker_funding
    / taker_funding: the fill path logs no FundingSettled), from decoded FillSettled logs."""
    out: dict[str, list[int]] = {}
    for e in fill_logs:
        a = e["args"]
        for who, amount in ((a["maker"], a["maker_funding"]), (a["taker"], a["taker_funding"])):
            if amount:
                out.setdefault(to_checksum_address(who), []).append(int(amount))
    return out


def funding_rates(w3: Web3, deployment: Any, *, from_block: int = 0) -> dict[int, list[tuple[int, int, int]]]:
    """market -> [(timestamp ms, interval, rate)] of every FundingRateSet, in chain order
    ({} without a Funding contract)."""
    address = getattr(deployment, "funding", "") or ""
    if not address:
        return {}
    reader = _Reader(w3, Addresses.of(deployment), from_block)
    funding = w3.eth.contract(address=to_checksum_address(address), abi=abi("Funding"))
    out: dict[int, list[tuple[int, int, int]]] = {}
    for e in reader.logs(funding.events.FundingRateSet(), address):
        a = e["args"]
        out.setdefault(int(a["market"]), []).append((reader.ts_ms(e["blockNumber"]), int(a["interval"]), int(a["rate"])))
    return out


def rate_bps(rate: int) -> float:
    """A rate (scaled by RATE_ONE) in bps, for charts."""
    return rate * 10_000 / RATE_ONE


__all__ = ["FundingTotals", "fill_funding", "funding_rates", "funding_totals", "rate_bps", "totals_from"]
