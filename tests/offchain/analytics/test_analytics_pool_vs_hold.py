import math

from offchain.analytics import MarkPoint, NavPoint, analyze
from tests.constants import USDC

H = 3_600_000


def _pool(**kw):
    nav = [NavPoint(0, 1_000 * USDC, 1_000 * USDC), NavPoint(H, 1_020 * USDC, 1_000 * USDC)]
    marks = [MarkPoint(0, 1, 3000 * USDC), MarkPoint(H, 1, 3300 * USDC)]
    return analyze([], marks, nav=nav, kind="pool", **kw)


def test_analytics__pool_vs_holding_usdc__excess_is_own_return():
    r = _pool()
    assert r.hold_return == 0.0 and math.isclose(r.excess_return_vs_hold, 0.02, rel_tol=1e-12)


def test_analytics__pool_vs_half_in_base__hand_computed():
    r = _pool(hold_market=1, hold_base_bps=5_000)  # half held in base, which rose 10%
    assert math.isclose(r.hold_return, 0.05, rel_tol=1e-12)
    assert math.isclose(r.excess_return_vs_hold, 0.02 - 0.05, rel_tol=1e-12)
    assert math.isclose(r.series["hold"].iloc[-1], 1.05, rel_tol=1e-12)  # share-price scale
