"""The liquidation figures of a run, for the `make run` report: from the chain's
Liquidation logs and the runner's journal (both still readable after the keeper stopped)."""

from __future__ import annotations

from offchain.artifacts import abi

from .liquidation_journal import CONFIRMED, DEAD, OPEN_STATES, REVERTED, LiquidationJournal

ONE = 10**18
USDC = 10**6


def _usdc(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // USDC:,}.{amount % USDC:06d}"


def liquidation_rows(w3, deployment, journal_url: str) -> list[tuple[str, str]]:
    exchange = w3.eth.contract(address=deployment.exchange, abi=abi("Exchange"))
    logs = list(exchange.events.Liquidation().get_logs(from_block=0))
    moved = sum(abs(e["args"]["size"]) * e["args"]["price"] // ONE for e in logs)
    penalties = sum(e["args"]["penalty"] for e in logs)
    accounts = {e["args"]["account"] for e in logs}
    journal = LiquidationJournal(journal_url)
    try:
        rows = journal.steps()
    finally:
        journal.close()
    latency = sorted(r.block - r.seen_block for r in rows if r.state == CONFIRMED and r.block)
    p99 = latency[min(len(latency) - 1, int(0.99 * len(latency)))] if latency else 0
    return [
        ("liquidations (chain)", f"{len(logs)} on {len(accounts)} accounts"),
        ("  notional moved to the backstop", _usdc(moved)),
        ("  penalties to the backstop", _usdc(penalties)),
        ("runner steps", f"{sum(r.state == CONFIRMED for r in rows)} confirmed, "
                         f"{sum(r.state == REVERTED for r in rows)} reverted, {sum(r.state == DEAD for r in rows)} dead, "
                         f"{sum(r.state in OPEN_STATES for r in rows)} open"),
        ("  blocks from breach seen to mined p99", str(p99)),
        ("insurance fund (USDC)", f"{_usdc(exchange.functions.insurance_fund().call())}  inflows "
                                  f"{_usdc(exchange.functions.insurance_inflows().call())}"),
        ("  bad debt covered", _usdc(exchange.functions.bad_debt_covered().call())),
        ("ADL", f"{len(list(exchange.events.Adl().get_logs(from_block=0)))} counterparty closes"),
    ]
