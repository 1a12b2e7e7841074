"""The market-making bot's configuration: frozen dataclasses, a TOML loader, exact amounts.

Amounts follow one rule everywhere (TOML and command line):
- a **string** is a decimal in whole units: sizes in whole base units ("0.05" = 0.05 ETH =
  5 * 10**16 base units), prices and notionals in USDC ("1900.5" = 1_900_500_000 units);
  converted exactly (Decimal), and refused if it does not land on a whole unit;
- an **integer** (TOML only) is already in raw units (base units of 1e-18, USDC units of 1e-6).
No floats are involved at any point.

The key is never in the config: `key` is a key spec (`env:NAME`, `keyfile:PATH`,
`ape:ALIAS`) resolved by `offchain.keeper.keys.load_key` when the bot starts.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from offchain.keeper.runners.configs import centred_lower_price
from offchain.strategies import GridConfig, QuoteConfig, RiskLimits

SIZE_DECIMALS = 18  # base units per whole unit: 10**18
USDC_DECIMALS = 6
KEY_SPEC_KINDS = ("env", "keyfile", "ape")
STRATEGIES = ("quote", "grid")


def parse_amount(value: int | str, decimals: int) -> int:
    """An exact integer amount: int = raw units; str = decimal whole units (see module doc)."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise ValueError(f"amounts are integers (raw units) or decimal strings, not {type(value).__name__}")
    try:
        scaled = Decimal(value.strip().replace("_", "")) * (Decimal(10) ** decimals)
    except InvalidOperation:
        raise ValueError(f"not a decimal amount: {value!r}") from None
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} has more than {decimals} decimals")
    return int(scaled)


def parse_size(value: int | str) -> int:
    return parse_amount(value, SIZE_DECIMALS)


def parse_usdc(value: int | str) -> int:
    return parse_amount(value, USDC_DECIMALS)


def check_key_spec(spec: str) -> str:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in KEY_SPEC_KINDS or not rest:
        # never echo the value: it may be a raw key pasted by mistake
        raise ValueError("key must be a key spec: env:NAME, keyfile:PATH or ape:ALIAS (never the key itself)")
    return spec


@dataclass(frozen=True, slots=True)
class GridSpec:
    """A grid for the bot. With lower/upper_price 0 it is centred on the oracle mark when
    the bot first quotes: `levels_per_side` levels `step_bps` apart below and above it."""

    step_bps: int
    levels_per_side: int
    size_per_level: int
    lower_price: int = 0
    upper_price: int = 0
    seed_levels: int = 0
    max_open_orders: int = 0

    def __post_init__(self) -> None:
        if self.size_per_level <= 0 or self.levels_per_side < 1:
            raise ValueError("grid needs size_per_level > 0 and levels_per_side >= 1")
        if bool(self.lower_price) != bool(self.upper_price):
            raise ValueError("grid: give both lower_price and upper_price, or neither")
        if not self.lower_price and self.step_bps <= 0:
            raise ValueError("grid: step_bps > 0 is needed for a grid centred on the price")

    def build(self, market: int, anchor: int) -> GridConfig:
        common = dict(seed_levels=self.seed_levels, max_open_orders=self.max_open_orders)
        if self.lower_price:
            levels = 2 * self.levels_per_side + 1
            if self.step_bps:
                return GridConfig(market, self.lower_price, self.upper_price, levels, self.size_per_level,
                                  step_bps=self.step_bps, **common)  # type: ignore[arg-type]
            return GridConfig(market, self.lower_price, self.upper_price, levels, self.size_per_level,
                              **common)  # type: ignore[arg-type]
        lower = centred_lower_price(anchor, self.step_bps, self.levels_per_side)
        return GridConfig.from_step(market, lower, self.step_bps, 2 * self.levels_per_side + 1,
                                    self.size_per_level, **common)


@dataclass(frozen=True, slots=True)
class BotConfig:
    """Everything the bot needs except the key itself (see module doc).

    tick_ms: the decision loop runs at least this often (and on fills, marks and book
    moves, at most every min_step_ms). account_refresh_ms: equity and position are re-read
    from the keeper this often (and after every fill). resync_ms: live orders are re-read
    from the keeper this often (the stream keeps them in sync in between).
    """

    keeper_url: str
    key: str
    market: int
    account: str = ""  # the trading account when `key` is an agent's; "" = the key's own
    strategy: str = "quote"
    quote: QuoteConfig | None = None
    grid: GridSpec | None = None
    risk: RiskLimits = field(default_factory=RiskLimits)
    tick_ms: int = 1_000
    min_step_ms: int = 50
    account_refresh_ms: int = 2_000
    resync_ms: int = 15_000
    order_ttl_s: int = 86_400
    backoff_ms: int = 500
    max_backoff_ms: int = 10_000
    cancel_on_exit: bool = True
    duration_s: float = 0.0  # 0 = until SIGINT / SIGTERM

    def __post_init__(self) -> None:
        check_key_spec(self.key)
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        if self.strategy == "quote" and self.quote is None:
            raise ValueError("strategy quote needs a [quote] config")
        if self.strategy == "grid" and self.grid is None:
            raise ValueError("strategy grid needs a [grid] config")
        if self.quote is not None and self.quote.market != self.market:
            raise ValueError("quote.market differs from market")
        if self.market <= 0:
            raise ValueError("market must be > 0")
        for name in ("tick_ms", "min_step_ms", "account_refresh_ms", "resync_ms", "order_ttl_s", "backoff_ms",
                     "max_backoff_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")

    @property
    def order_size(self) -> int:
        """The smallest size the strategy places (checked against the market's min size)."""
        if self.strategy == "grid":
            assert self.grid is not None
            return self.grid.size_per_level
        assert self.quote is not None
        return self.quote.order_size


# -- loading ------------------------------------------------------------------------------------
_QUOTE_SIZES = ("order_size", "target_inventory", "inventory_limit")
_QUOTE_PRICES = ("price_ceiling", "price_floor")
_GRID_SIZES = ("size_per_level",)
_GRID_PRICES = ("lower_price", "upper_price")
_RISK_SIZES = ("max_position",)
_RISK_USDC = ("max_notional",)
_TOP = {f.name for f in dataclasses.fields(BotConfig)} - {"quote", "grid", "risk"}


def _convert(table: Mapping[str, Any], sizes: tuple[str, ...], prices: tuple[str, ...]) -> dict[str, Any]:
    out = dict(table)
    for name in sizes:
        if name in out:
            out[name] = parse_size(out[name])
    for name in prices:
        if name in out:
            out[name] = parse_usdc(out[name])
    return out


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ValueError(f"unknown key(s) in {where}: {', '.join(sorted(unknown))}")


def config_from_mapping(data: Mapping[str, Any], **overrides: Any) -> BotConfig:
    """Build a BotConfig from a parsed TOML document; `overrides` (non-None) win.

    Top-level keys are BotConfig fields; [quote] takes QuoteConfig fields (`size` is an
    alias of order_size), [grid] GridSpec fields (`size` = size_per_level, `levels` =
    levels_per_side), [risk] RiskLimits fields.
    """
    data = dict(data)
    quote_t = dict(data.pop("quote", {}) or {})
    grid_t = dict(data.pop("grid", {}) or {})
    risk_t = dict(data.pop("risk", {}) or {})
    _only(data, _TOP, "the top level")
    top = {k: v for k, v in data.items()}
    top.update({k: v for k, v in overrides.items() if v is not None and k in _TOP})
    for section, table in (("quote", quote_t), ("grid", grid_t), ("risk", risk_t)):
        for k, v in overrides.items():
            if v is not None and k.startswith(section + "."):
                table[k.split(".", 1)[1]] = v
    market = int(top.get("market", 0))

    quote = None
    if quote_t:
        if "size" in quote_t:
            quote_t["order_size"] = quote_t.pop("size")
        _only(quote_t, {f.name for f in dataclasses.fields(QuoteConfig)} - {"market"}, "[quote]")
        quote = QuoteConfig(market=market, **_convert(quote_t, _QUOTE_SIZES, _QUOTE_PRICES))
    grid = None
    if grid_t:
        if "size" in grid_t:
            grid_t["size_per_level"] = grid_t.pop("size")
        if "levels" in grid_t:
            grid_t["levels_per_side"] = grid_t.pop("levels")
        _only(grid_t, {f.name for f in dataclasses.fields(GridSpec)}, "[grid]")
        grid = GridSpec(**_convert(grid_t, _GRID_SIZES, _GRID_PRICES))
    _only(risk_t, {f.name for f in dataclasses.fields(RiskLimits)}, "[risk]")
    risk = RiskLimits(**_convert(risk_t, _RISK_SIZES, _RISK_USDC))
    for name in ("market", "tick_ms", "min_step_ms", "account_refresh_ms", "resync_ms", "order_ttl_s",
                 "backoff_ms", "max_backoff_ms"):
        if name in top:
            top[name] = int(top[name])
    if "duration_s" in top:
        top["duration_s"] = float(top["duration_s"])  # a wall-clock duration, not money
    top.setdefault("strategy", "grid" if grid is not None and quote is None else "quote")
    return BotConfig(quote=quote, grid=grid, risk=risk, **top)


def load_config(path: str | Path | None = None, **overrides: Any) -> BotConfig:
    """Read a TOML config file (optional) and apply overrides (e.g. from the command line)."""
    data: dict[str, Any] = {}
    if path:
        data = tomllib.loads(Path(path).read_text())
    return config_from_mapping(data, **overrides)
