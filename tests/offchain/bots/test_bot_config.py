"""Bot config: exact amounts, key specs only, TOML loading, command-line overrides."""

from __future__ import annotations

import pytest

from offchain.bots import BotConfig, GridSpec, load_config, parse_size, parse_usdc
from offchain.bots.cli import build_config
from offchain.strategies import QuoteConfig

TOML = """
keeper_url = "http://127.0.0.1:8080"
key = "env:BOT_KEY"
market = 1
tick_ms = 250
[quote]
spread_bps = 20
size = "0.05"
levels = 3
inventory_limit = "1.5"
price_ceiling = "2500"
[risk]
max_position = "2"
max_notional = "10000.5"
max_drawdown_bps = 500
"""


def test_parse_amount__decimal_strings_exact__ints_raw():
    assert parse_size("0.05") == 5 * 10**16
    assert parse_size("1") == 10**18
    assert parse_size(123) == 123
    assert parse_usdc("1900.5") == 1_900_500_000
    with pytest.raises(ValueError, match="decimals"):
        parse_usdc("0.0000001")
    with pytest.raises(ValueError):
        parse_size("abc")
    with pytest.raises(ValueError):
        parse_size(0.05)  # floats are refused


def test_load_config__toml__converted_and_typed(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(TOML)
    cfg = load_config(path)
    assert cfg.strategy == "quote" and cfg.tick_ms == 250
    assert cfg.quote == QuoteConfig(1, 20, 5 * 10**16, 3, inventory_limit=15 * 10**17, price_ceiling=2_500_000_000)
    assert cfg.risk.max_position == 2 * 10**18 and cfg.risk.max_notional == 10_000_500_000
    assert cfg.risk.max_drawdown_bps == 500


def test_load_config__overrides_win(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(TOML)
    cfg = load_config(path, market=None, tick_ms=100, **{"quote.spread_bps": 40})
    assert cfg.tick_ms == 100 and cfg.quote.spread_bps == 40 and cfg.market == 1


def test_config__key_must_be_a_spec__value_never_echoed():
    raw = "0x" + "ab" * 32
    with pytest.raises(ValueError, match="key spec") as info:
        BotConfig("http://k", raw, 1, quote=QuoteConfig(1, 20, 10**16))
    assert raw not in str(info.value)
    for spec in ("env:BOT_KEY", "keyfile:/tmp/k.json", "ape:mm"):
        BotConfig("http://k", spec, 1, quote=QuoteConfig(1, 20, 10**16))


def test_config__unknown_keys_and_missing_engine__refused(tmp_path):
    path = tmp_path / "bot.toml"
    path.write_text(TOML + "\n[grid]\nstepbps = 3\n")
    with pytest.raises(ValueError, match="stepbps"):
        load_config(path)
    with pytest.raises(ValueError, match="grid"):
        BotConfig("http://k", "env:K", 1, strategy="grid")
    with pytest.raises(ValueError, match="quote.market"):
        BotConfig("http://k", "env:K", 1, quote=QuoteConfig(2, 20, 10**16))


def test_cli_options__quote_and_grid():
    base = dict(keeper_url="http://k", key="env:K", market=1, size="0.05", levels=3)
    q = build_config(base | dict(strategy="quote", spread_bps=20, max_orders_per_s=10, duration=5))
    assert q.quote.spread_bps == 20 and q.quote.levels == 3 and q.quote.order_size == 5 * 10**16
    assert q.risk.max_orders_per_window == 10 and q.risk.rate_window_ms == 1_000 and q.duration_s == 5
    g = build_config(base | dict(strategy="grid", step_bps=30))
    assert g.grid == GridSpec(step_bps=30, levels_per_side=3, size_per_level=5 * 10**16) and g.quote is None
    with pytest.raises(ValueError, match="--key"):
        build_config(dict(keeper_url="http://k", market=1, strategy="quote", spread_bps=20, size="0.05"))


def test_grid_spec__centred_on_anchor__middle_level_near_it():
    spec = GridSpec(step_bps=50, levels_per_side=3, size_per_level=10**16)
    grid = spec.build(1, 2_000_000_000)
    assert grid.levels == 7 and grid.step_bps == 50
    middle = grid.raw_levels()[3]
    assert abs(middle - 2_000_000_000) <= 10
    ranged = GridSpec(step_bps=0, levels_per_side=2, size_per_level=10**16, lower_price=1_900_000_000,
                      upper_price=2_100_000_000).build(1, 0)
    assert (ranged.lower_price, ranged.upper_price, ranged.levels) == (1_900_000_000, 2_100_000_000, 5)


def test_cli_options__levels_without_spacing__spaced_by_half_the_spread():
    base = dict(keeper_url="http://k", key="env:K", market=1, strategy="quote", spread_bps=20, size="0.05")
    assert build_config(base | dict(levels=3)).quote.level_spacing_bps == 10
    assert build_config(base | dict(levels=3, level_spacing_bps=4)).quote.level_spacing_bps == 4
    assert build_config(base).quote.level_spacing_bps == 0
