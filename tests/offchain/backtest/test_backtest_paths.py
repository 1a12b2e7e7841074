"""Price paths: seeded GBM with jumps, CSV."""

import numpy as np
import pytest

from offchain.backtest import GbmConfig, PricePath, csv_path, gbm_path
from tests.constants import TICK



def test_gbm__same_seed__same_path_on_the_tick():
    a = gbm_path(GbmConfig(seconds=600, seed=5), TICK)
    b = gbm_path(GbmConfig(seconds=600, seed=5), TICK)
    c = gbm_path(GbmConfig(seconds=600, seed=6), TICK)
    assert a == b and a != c
    assert len(a) == 601 and all(p % TICK == 0 for p in a.prices)
    assert all(t2 - t1 == 1_000 for t1, t2 in zip(a.ts, a.ts[1:]))


def test_gbm__volatility__matches_config():
    path = gbm_path(GbmConfig(seconds=86_400, vol_bps=8_000, jumps_per_day=0, seed=3), TICK)
    r = np.diff(np.log(np.array(path.prices, dtype=float)))
    annual = r.std() * np.sqrt(365 * 86_400)
    assert 0.75 < annual < 0.85  # 80% a year, within sampling and tick rounding


def test_gbm__jumps__fatten_the_tails():
    calm = gbm_path(GbmConfig(seconds=86_400, jumps_per_day=0, seed=3), TICK)
    jumpy = gbm_path(GbmConfig(seconds=86_400, jumps_per_day=50, jump_bps=200, seed=3), TICK)
    def biggest(p):
        return float(np.max(np.abs(np.diff(np.log(np.array(p.prices, dtype=float))))))
    assert biggest(jumpy) > 3 * biggest(calm)


def test_csv_path__decimal_prices_and_second_timestamps(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("ts,price\n1700000000,2000.004\n1700000001,2000.016\n")
    path = csv_path(f, TICK)
    assert path.ts == (1_700_000_000_000, 1_700_000_001_000)
    assert path.prices == (2_000_000_000, 2_000_020_000)  # rounded to the tick


def test_path__bad_input__clear_error():
    with pytest.raises(ValueError, match="increase"):
        PricePath((0, 0), (1, 1))
    with pytest.raises(ValueError, match="positive"):
        PricePath((0, 1), (1, 0))
