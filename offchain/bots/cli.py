"""Command line for the market-making bot (`mmx-bot` = `offchain.bots.cli:main`; `ape run bot`).

    mmx-bot --keeper-url http://127.0.0.1:8080 --key env:BOT_KEY --market 1 \\
            --strategy quote --spread-bps 20 --size 0.05 --levels 3 [--duration 60]
    mmx-bot --config bot.toml [flags override the file]

Sizes are decimal whole base units ("0.05"), prices and notionals decimal USDC ("1900.5").
The key is a key spec (env:NAME, keyfile:PATH, ape:ALIAS), never the key itself.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable

import click

from .config import config_from_mapping

_OPTIONS: list[Callable] = [
    click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
                 help="bot TOML config (flags override it)"),
    click.option("--keeper-url", default=None, help="keeper base URL, e.g. http://127.0.0.1:8080"),
    click.option("--key", default=None, help="key spec: env:NAME | keyfile:PATH | ape:ALIAS"),
    click.option("--account", default=None, help="trading account when --key is an approved agent's"),
    click.option("--market", type=int, default=None, help="market id"),
    click.option("--strategy", type=click.Choice(["quote", "grid"]), default=None),
    click.option("--spread-bps", type=int, default=None, help="quote: full bid-ask width of level 0"),
    click.option("--size", default=None, help="order size per level, whole base units (e.g. 0.05)"),
    click.option("--levels", type=int, default=None, help="quote: levels per side; grid: levels per side"),
    click.option("--level-spacing-bps", type=int, default=None,
                 help="quote: extra distance per level (default with --levels > 1: half the spread)"),
    click.option("--skew-bps", type=int, default=None, help="quote: inventory skew at the limit"),
    click.option("--inventory-limit", default=None, help="quote: inventory limit, whole base units"),
    click.option("--refresh-ms", type=int, default=None, help="quote: requote at most this often"),
    click.option("--tolerance-bps", type=int, default=None, help="quote: keep quotes if the price moved less"),
    click.option("--step-bps", type=int, default=None, help="grid: step between levels"),
    click.option("--lower-price", default=None, help="grid: lowest level, USDC (with --upper-price)"),
    click.option("--upper-price", default=None, help="grid: highest level, USDC"),
    click.option("--max-position", default=None, help="risk: max |position|, whole base units"),
    click.option("--max-notional", default=None, help="risk: max position notional at mark, USDC"),
    click.option("--max-open-orders", type=int, default=None, help="risk: max resting orders"),
    click.option("--max-orders-per-s", type=int, default=None, help="risk: max new orders per second"),
    click.option("--max-drawdown-bps", type=int, default=None, help="risk: kill switch on equity drawdown"),
    click.option("--tick-ms", type=int, default=None, help="decide at least this often"),
    click.option("--duration", type=float, default=None, help="seconds to run (default: until SIGINT/SIGTERM)"),
    click.option("--log-level", default="INFO", show_default=True),
]


def bot_options(fn: Callable) -> Callable:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def build_config(options: dict[str, Any]):
    """The BotConfig from a TOML file (optional) and command-line options (which win)."""
    o = dict(options)
    data: dict[str, Any] = {}
    if o.get("config_path"):
        data = tomllib.loads(Path(o["config_path"]).read_text())
    strategy = o.get("strategy") or data.get("strategy") or ("grid" if "grid" in data and "quote" not in data
                                                             else "quote")
    if strategy == "grid" and "quote" in data and not data.get("grid"):
        raise ValueError("strategy grid needs a [grid] config")
    overrides: dict[str, Any] = {
        "keeper_url": o.get("keeper_url"), "key": o.get("key"), "account": o.get("account"),
        "market": o.get("market"), "strategy": strategy, "tick_ms": o.get("tick_ms"),
        "duration_s": o.get("duration"),
        f"{strategy}.size": o.get("size"), f"{strategy}.levels": o.get("levels"),
        "risk.max_position": o.get("max_position"), "risk.max_notional": o.get("max_notional"),
        "risk.max_open_orders": o.get("max_open_orders"), "risk.max_drawdown_bps": o.get("max_drawdown_bps"),
    }
    if o.get("max_orders_per_s") is not None:
        overrides["risk.max_orders_per_window"] = o["max_orders_per_s"]
        overrides["risk.rate_window_ms"] = 1_000
    if strategy == "quote":
        for name in ("spread_bps", "level_spacing_bps", "skew_bps", "inventory_limit", "refresh_ms",
                     "tolerance_bps"):
            overrides[f"quote.{name}"] = o.get(name)
        quote_t = data.get("quote") or {}
        levels = o.get("levels") or quote_t.get("levels") or 1
        spread = o.get("spread_bps") or quote_t.get("spread_bps") or 0
        if levels > 1 and o.get("level_spacing_bps") is None and "level_spacing_bps" not in quote_t:
            # without spacing every level would sit at the same price (one order per side)
            overrides["quote.level_spacing_bps"] = max(spread // 2, 1)
        data.pop("grid", None)  # only the chosen engine's section is built
    else:
        for name in ("step_bps", "lower_price", "upper_price"):
            overrides[f"grid.{name}"] = o.get(name)
        data.pop("quote", None)
    missing = [name for name in ("keeper_url", "key", "market") if overrides.get(name) is None and name not in data]
    if missing:
        raise ValueError("missing: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    try:
        return config_from_mapping(data, **overrides)
    except TypeError as exc:  # a required engine field is missing
        raise ValueError(str(exc)) from None


def run_from_options(options: dict[str, Any]) -> None:
    from .bot import MarketMakerBot

    logging.basicConfig(level=str(options.get("log_level") or "INFO").upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    try:
        config = build_config(options)
        bot = MarketMakerBot(config)
    except (ValueError, KeyError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    asyncio.run(bot.run(handle_signals=True))
    print(f"bot done: {dict(bot.stats)}; rejections {dict(bot.rejections)}")


@click.command(name="bot")
@bot_options
def command(**options: Any) -> None:
    """Run a market-making bot against a keeper's API."""
    run_from_options(options)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`offchain.bots.cli:main`)."""
    command.main(args=sys.argv[1:] if argv is None else argv, prog_name="mmx-bot")


if __name__ == "__main__":
    main()
