"""Analytics inputs from chain state (web3, ABIs from offchain.artifacts), and the report.

The chain is the record: settled fills are the Exchange's `FillSettled` logs (with the
taker fee and maker rebate as settled), marks are the Oracle's `PriceUpdated` logs, and a
vault's or the pool's NAV is its (total assets, share supply) read at the blocks where
something happened. Timestamps are block timestamps in ms.

    data = collect(w3, addresses, entity, kind="account" | "pool" | "vault")
    report = analyze_entity(w3, addresses, entity, kind)       # -> PerformanceReport
    text = render_report(w3, deployment, accounts, out_dir)    # CLI tables + PNG charts

`addresses` is anything with `exchange`, `oracle`, `pool` and `vault_factory` (or
`factory`) attributes: an offchain.deploy.Deployment or the keeper's Contracts.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from offchain.analytics.holders import HolderResult, ShareFlow, holder_results
from offchain.analytics.metrics import MIN_PERIODS, PerformanceReport, analyze
from offchain.analytics.quality import OTHERS, Trade
from offchain.analytics.records import MarkPoint, NavPoint, SettledFill
from offchain.analytics.report import format_table
from offchain.artifacts import abi

# The share-price maths of Vault.vy and LiquidityPool.vy: (assets + 1) / (supply + 1e6).
VIRTUAL_ASSETS = 1
VIRTUAL_SHARES = 10**6
LOG_CHUNK = 10_000  # blocks per eth_getLogs request


@dataclass(frozen=True, slots=True)
class Addresses:
    exchange: str
    oracle: str
    pool: str = ""
    factory: str = ""

    @classmethod
    def of(cls, source: Any) -> "Addresses":
        if isinstance(source, Addresses):
            return source
        factory = getattr(source, "vault_factory", "") or getattr(source, "factory", "")
        return cls(source.exchange, source.oracle, getattr(source, "pool", "") or "", factory or "")


@dataclass(frozen=True, slots=True)
class ChainActivity:
    """What analyze() needs for one entity."""

    entity: str
    kind: str
    fills: tuple[SettledFill, ...]
    marks: tuple[MarkPoint, ...]
    nav: tuple[NavPoint, ...] = ()
    initial_equity: int = 0


@dataclass
class _Reader:
    w3: Web3
    addresses: Addresses
    from_block: int = 0
    to_block: int | None = None
    _timestamps: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.exchange = self.w3.eth.contract(address=to_checksum_address(self.addresses.exchange), abi=abi("Exchange"))
        self.oracle = self.w3.eth.contract(address=to_checksum_address(self.addresses.oracle), abi=abi("Oracle"))
        if self.to_block is None:
            self.to_block = self.w3.eth.block_number

    def ts_ms(self, block: int) -> int:
        ts = self._timestamps.get(block)
        if ts is None:
            ts = self._timestamps[block] = int(self.w3.eth.get_block(block)["timestamp"]) * 1000
        return ts

    def logs(self, event, address: str, topics: Sequence[Any] = ()) -> list:
        """Decoded logs of `event` (a web3 ContractEvent) from `address`, in chain order."""
        topic0 = "0x" + event_abi_to_log_topic(event.abi).hex()
        out = []
        lo = self.from_block
        assert self.to_block is not None
        while lo <= self.to_block:
            hi = min(self.to_block, lo + LOG_CHUNK - 1)
            raw = self.w3.eth.get_logs({"address": to_checksum_address(address), "fromBlock": lo, "toBlock": hi,
                                        "topics": [topic0, *topics]})
            out += [event.process_log(entry) for entry in raw]
            lo = hi + 1
        out.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
        return out


def _topic_address(address: str) -> str:
    return "0x" + "00" * 12 + address.lower().removeprefix("0x")


def settled_fills(reader: _Reader, account: str) -> list[SettledFill]:
    """The account's side of every FillSettled (maker: rebate earned; taker: fee paid), and
    of every PositionTransferred (a transfer, split or merge is a trade at its price on the
    Exchange: docs/subaccounts.md; here a fee-free taker fill), in chain order."""
    account = to_checksum_address(account)
    fills = []
    for entry in reader.logs(reader.exchange.events.FillSettled(), reader.addresses.exchange):
        a = entry["args"]
        if account not in (a["maker"], a["taker"]):
            continue
        ts = reader.ts_ms(entry["blockNumber"])
        if a["maker"] == account:
            fill = SettledFill(ts, int(a["market"]), not a["taker_is_buy"], int(a["price"]), int(a["size"]), True, 0,
                               int(a["maker_rebate"]))
        else:
            fill = SettledFill(ts, int(a["market"]), bool(a["taker_is_buy"]), int(a["price"]), int(a["size"]), False,
                               int(a["taker_fee"]), 0)
        fills.append(((entry["blockNumber"], entry["logIndex"]), fill))
    for side, topics in (("source", [_topic_address(account)]), ("target", [None, _topic_address(account)])):
        for entry in reader.logs(reader.exchange.events.PositionTransferred(), reader.addresses.exchange, topics):
            a = entry["args"]
            size = int(a["size"])  # the target's change
            fill = SettledFill(reader.ts_ms(entry["blockNumber"]), int(a["market"]), (size > 0) == (side == "target"),
                               int(a["price"]), abs(size), False, 0, 0)
            fills.append(((entry["blockNumber"], entry["logIndex"]), fill))
    fills.sort(key=lambda item: item[0])
    return [fill for _, fill in fills]


def subaccounts(w3: Web3, addresses: Any, owner: str) -> list[str]:
    """The sub-accounts `owner` opened (SubaccountOpened logs), in opening order."""
    reader = _Reader(w3, Addresses.of(addresses))
    return [entry["args"]["account"] for entry in reader.logs(reader.exchange.events.SubaccountOpened(),
                                                              reader.addresses.exchange, [_topic_address(owner)])]


def oracle_marks(reader: _Reader, markets: Iterable[int] | None = None) -> list[MarkPoint]:
    wanted = set(markets) if markets is not None else None
    marks = []
    for entry in reader.logs(reader.oracle.events.PriceUpdated(), reader.addresses.oracle):
        market = int(entry["args"]["market"])
        if wanted is None or market in wanted:
            marks.append(MarkPoint(reader.ts_ms(entry["blockNumber"]), market, int(entry["args"]["price"]),
                                   entry["blockNumber"]))
    return marks


def net_deposits(reader: _Reader, account: str) -> int:
    """Collateral put into the Exchange account minus what was withdrawn (USDC units)."""
    topic = [_topic_address(account)]
    deposited = sum(int(e["args"]["amount"]) for e in reader.logs(reader.exchange.events.Deposit(),
                                                                  reader.addresses.exchange, topic))
    withdrawn = sum(int(e["args"]["amount"]) for e in reader.logs(reader.exchange.events.Withdraw(),
                                                                  reader.addresses.exchange, topic))
    # collateral moved between an owner's accounts is a deposit into one, a withdrawal from the other
    moved = reader.exchange.events.CollateralMoved()
    moved_in = sum(int(e["args"]["amount"]) for e in reader.logs(moved, reader.addresses.exchange, [None, *topic]))
    moved_out = sum(int(e["args"]["amount"]) for e in reader.logs(moved, reader.addresses.exchange, topic))
    return deposited - withdrawn + moved_in - moved_out


def nav_points(reader: _Reader, address: str, kind: str, blocks: Iterable[int]) -> list[NavPoint]:
    """(total assets + 1, supply + 1e6) at each block: the contracts' own share price."""
    name, assets_fn = ("LiquidityPool", "totalAssets") if kind == "pool" else ("Vault", "total_assets")
    c = reader.w3.eth.contract(address=to_checksum_address(address), abi=abi(name))
    points = []
    for block in sorted(set(blocks)):
        assets = getattr(c.functions, assets_fn)().call(block_identifier=block)
        supply = c.functions.totalSupply().call(block_identifier=block)
        points.append(NavPoint(reader.ts_ms(block), assets + VIRTUAL_ASSETS, supply + VIRTUAL_SHARES))
    return points


def collect(w3: Web3, addresses: Any, entity: str, kind: str = "account", *, from_block: int = 0,
            to_block: int | None = None) -> ChainActivity:
    """Fills, marks, NAV (pool / vault) and starting equity of one entity from chain."""
    if kind not in ("account", "pool", "vault"):
        raise ValueError(f"unknown kind {kind!r}")
    addrs = Addresses.of(addresses)
    reader = _Reader(w3, addrs, from_block, to_block)
    entity = to_checksum_address(addrs.pool if kind == "pool" else entity)
    fills = settled_fills(reader, entity)
    marks = oracle_marks(reader, {f.market for f in fills} or None)
    nav: list[NavPoint] = []
    if kind in ("pool", "vault"):
        blocks = {e["blockNumber"] for e in reader.logs(reader.exchange.events.FillSettled(), addrs.exchange)
                  if to_checksum_address(e["args"]["maker"]) == entity or to_checksum_address(e["args"]["taker"]) == entity}
        blocks |= {e["blockNumber"] for e in reader.logs(reader.oracle.events.PriceUpdated(), addrs.oracle)}
        blocks.add(reader.to_block)  # type: ignore[arg-type]
        first_deposit = reader.logs(reader.exchange.events.Deposit(), addrs.exchange, [_topic_address(entity)])
        start = first_deposit[0]["blockNumber"] if first_deposit else reader.from_block
        nav = nav_points(reader, entity, kind, [b for b in blocks if b >= start])
    return ChainActivity(entity, kind, tuple(fills), tuple(marks), tuple(nav), net_deposits(reader, entity))


def analyze_entity(w3: Web3, addresses: Any, entity: str = "", kind: str = "account", *, bar: str = "1h",
                   from_block: int = 0, to_block: int | None = None, min_periods: int = MIN_PERIODS) -> PerformanceReport:
    data = collect(w3, addresses, entity, kind, from_block=from_block, to_block=to_block)
    return analyze(data.fills, data.marks, entity=data.entity, kind=data.kind, initial_equity=data.initial_equity,
                   nav=data.nav, bar=bar, min_periods=min_periods)


def vaults(w3: Web3, addresses: Any) -> list[str]:
    addrs = Addresses.of(addresses)
    if not addrs.factory:
        return []
    factory = w3.eth.contract(address=to_checksum_address(addrs.factory), abi=abi("VaultFactory"))
    return [factory.functions.vaults(i).call() for i in range(factory.functions.vault_count().call())]


def market_trades(w3: Web3, addresses: Any, names: dict[str, str], *, from_block: int = 0,
                  to_block: int | None = None) -> dict[int, list[Trade]]:
    """Every settled fill per market as a quality.Trade; accounts named by `names`
    (checksum address -> participant), everyone else is OTHERS."""
    reader = _Reader(w3, Addresses.of(addresses), from_block, to_block)
    named = {to_checksum_address(a): n for a, n in names.items()}
    out: dict[int, list[Trade]] = {}
    for entry in reader.logs(reader.exchange.events.FillSettled(), reader.addresses.exchange):
        a = entry["args"]
        out.setdefault(int(a["market"]), []).append(Trade(
            reader.ts_ms(entry["blockNumber"]), int(a["price"]), int(a["size"]),
            named.get(to_checksum_address(a["maker"]), OTHERS), named.get(to_checksum_address(a["taker"]), OTHERS),
            not a["taker_is_buy"]))
    return out


def fee_income(w3: Web3, addresses: Any, recipient: str, *, from_block: int = 0) -> int:
    """`recipient`'s share of trading fees: what the Exchange paid it (FeesDistributed)
    plus, when it is the fee recipient now, its share of the fees accrued and not yet
    distributed (distribute_fees is called by anyone, from time to time)."""
    reader = _Reader(w3, Addresses.of(addresses), from_block)
    want = to_checksum_address(recipient)
    paid = sum(int(e["args"]["recipient_amount"]) for e in
               reader.logs(reader.exchange.events.FeesDistributed(), reader.addresses.exchange)
               if to_checksum_address(e["args"]["recipient"]) == want)
    fn = reader.exchange.functions
    if to_checksum_address(fn.fee_recipient().call()) == want:
        paid += fn.fees_accrued().call() * fn.fee_share_bps().call() // 10_000
    return paid


def share_flows(w3: Web3, address: str, kind: str, *, from_block: int = 0) -> list[ShareFlow]:
    """Deposits and withdrawals of a pool (ERC-4626 Deposit / Withdraw) or a vault
    (Deposit, Withdraw and WithdrawalClaimed, with the profit share charged)."""
    name = "LiquidityPool" if kind == "pool" else "Vault"
    c = w3.eth.contract(address=to_checksum_address(address), abi=abi(name))
    ts: dict[int, int] = {}

    def at(block: int) -> int:
        if block not in ts:
            ts[block] = int(w3.eth.get_block(block)["timestamp"]) * 1000
        return ts[block]

    flows: list[tuple[int, int, ShareFlow]] = []
    for e in c.events.Deposit().get_logs(from_block=from_block):
        a = e["args"]
        who = a["owner"] if kind == "pool" else a["depositor"]
        flows.append((e["blockNumber"], e["logIndex"], ShareFlow(at(e["blockNumber"]), who, True, int(a["assets"]),
                                                                 int(a["shares"]), block=e["blockNumber"])))
    events = [c.events.Withdraw()] + ([c.events.WithdrawalClaimed()] if kind == "vault" else [])
    for event in events:
        for e in event.get_logs(from_block=from_block):
            a = e["args"]
            who = a["owner"] if kind == "pool" else a["depositor"]
            flows.append((e["blockNumber"], e["logIndex"], ShareFlow(at(e["blockNumber"]), who, False,
                                                                     int(a["assets"]), int(a["shares"]),
                                                                     int(a.get("fee", 0)), e["blockNumber"])))
    flows.sort(key=lambda x: (x[0], x[1]))
    return [f for _, _, f in flows]


def holders(w3: Web3, address: str, kind: str, marks: Sequence[MarkPoint] = ()) -> dict[str, HolderResult]:
    """PnL since entry of every LP (pool) or follower (vault), against USDC and the base
    asset of `marks` (one market's marks; none: no base comparison)."""
    name, assets_fn = ("LiquidityPool", "totalAssets") if kind == "pool" else ("Vault", "total_assets")
    c = w3.eth.contract(address=to_checksum_address(address), abi=abi(name))
    assets = getattr(c.functions, assets_fn)().call()
    supply = c.functions.totalSupply().call()
    # Chain order, not time: a devnet mines several blocks a second, and a mark set just
    # after a deposit in the same second is not the price the depositor could have bought at.
    ordered = sorted(marks, key=lambda m: (m.ts, m.block))
    keys = [(m.ts, m.block) for m in ordered]

    def price_at(flow: ShareFlow) -> int | None:
        key = (flow.ts, flow.block) if flow.block else (flow.ts, float("inf"))
        i = bisect_right(keys, key) - 1
        return ordered[max(i, 0)].price if ordered else None

    return holder_results(share_flows(w3, address, kind), assets, supply, price_at if ordered else None,
                          ordered[-1].price if ordered else None)


def render_report(w3: Web3, deployment: Any, accounts: Iterable[str], out_dir: str | Path, *,
                  include_pool: bool = True, include_vaults: bool = True, bar: str = "1h") -> str:
    """The CLI table text for the pool, every vault and each of `accounts`; writes
    <entity>_equity.png / _inventory.png / _drawdown.png per entity into out_dir."""
    from offchain.analytics.charts import render_charts

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[str, str]] = []
    addrs = Addresses.of(deployment)
    if include_pool and addrs.pool:
        targets.append(("pool", addrs.pool))
    if include_vaults:
        targets += [("vault", v) for v in vaults(w3, addrs)]
    targets += [("account", a) for a in accounts]
    # each account's sub-accounts get their own section (isolated margin: own PnL and risk)
    targets += [("account", sub) for a in accounts for sub in subaccounts(w3, addrs, a)]
    sections = []
    for kind, entity in targets:
        report = analyze_entity(w3, addrs, entity, kind, bar=bar)
        prefix = f"{kind}_{entity[:10]}_" if kind != "pool" else "pool_"
        render_charts(report, out, prefix=prefix)
        sections.append(format_table(report))
    return "\n\n".join(sections)
