"""Liquidation constants come from the keeper's settings ([liquidation] / defaults), and a
setting the Exchange would refuse (its steps skipped) is refused at start with a reason."""

import pytest

from offchain.keeper.config import LiquidationConfig, load_config
from offchain.keeper.runners.liquidation import LiquidationRunner
from offchain.keeper.service import configured_runners
from offchain.risk.liquidation import LiquidationParams


def test_settings__defaults__the_runner_params():
    assert LiquidationConfig().params() == LiquidationParams()


def test_settings__toml__runner_uses_them(tmp_path):
    path = tmp_path / "keeper.toml"
    path.write_text("[runners]\nliquidation = true\n\n[liquidation]\nbook = false\nmax_step_bps = 1000\n"
                    "buffer_bps = 800\ncooldown_s = 3.5\n")
    config = load_config(str(path), env={})
    (runner,) = [r for r in configured_runners(config) if isinstance(r, LiquidationRunner)]
    assert runner.book is False
    assert (runner.params.max_step_bps, runner.params.buffer_bps, runner.params.cooldown_s) == (1000, 800, 3.5)


@pytest.mark.parametrize("bad", ["max_step_bps = 2500", "backstop_bps = 5000", "cooldown_s = 0.5",
                                 "whole_below_notional = 200000000000"])
def test_settings__beyond_the_exchange_bounds__refused(tmp_path, bad):
    path = tmp_path / "keeper.toml"
    path.write_text(f"[liquidation]\n{bad}\n")
    with pytest.raises(ValueError, match="liquidation settings outside the Exchange's bounds"):
        load_config(str(path), env={})
