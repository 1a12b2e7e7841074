"""Market-quality figures on a scripted book (hand-computed)."""

import math

from offchain.analytics.quality import Trade, market_quality, markouts, summarize_book
from tests.constants import ONE, USDC



def _book():
    # mid 2000; pool at 1999/2001 (5 bps each side), vault 1998/2002, others far out.
    s0 = summarize_book(0, {"pool": [(1_999 * USDC, ONE)], "vault": [(1_998 * USDC, 2 * ONE)],
                            "others": [(1_970 * USDC, 10 * ONE)]},
                        {"pool": [(2_001 * USDC, ONE)], "vault": [(2_002 * USDC, 2 * ONE)],
                         "others": [(2_030 * USDC, 10 * ONE)]})
    # 1 s later: the pool's ask is gone (one-sided), the vault is top of the ask.
    s1 = summarize_book(1_000, {"pool": [(1_999 * USDC, ONE)], "vault": [(1_998 * USDC, 2 * ONE)]},
                        {"vault": [(2_002 * USDC, 2 * ONE)]})
    # 3 s later (lasts 2 s): both back.
    s2 = summarize_book(3_000, {"pool": [(1_999 * USDC, ONE)]}, {"pool": [(2_001 * USDC, ONE)]})
    return [s0, s1, s2]


def test_quality__summarize__depth_within_bands_by_participant():
    s0 = _book()[0]
    assert s0.best_bid == 1_999 * USDC and s0.best_ask == 2_001 * USDC and s0.mid == 2_000 * USDC
    assert math.isclose(s0.spread_bps, 10.0)
    assert s0.quotes["pool"].bid_depth == (1_999 * USDC, 1_999 * USDC, 1_999 * USDC)  # 5 bps: in every band
    assert s0.quotes["vault"].ask_depth == (4_004 * USDC,) * 3  # exactly 10 bps from mid: within the 10 bps band
    assert s0.quotes["others"].bid_depth == (0, 0, 0)  # 150 bps away
    assert s0.quotes["vault"].bid_depth[0] == 3_996 * USDC  # exactly 10 bps: counted


def test_quality__time_weighted__uptime_top_spread():
    q = market_quality(_book(), [], horizon_s=1)
    # weights: 1 s, 2 s, and the last sample the median gap (1.5 s): total 4.5 s
    pool, vault = q.participants["pool"], q.participants["vault"]
    assert math.isclose(pool.two_sided_uptime, (1 + 1.5) / 4.5)
    assert math.isclose(vault.two_sided_uptime, (1 + 2) / 4.5)
    assert math.isclose(pool.top_bid_share, 1.0)
    assert math.isclose(pool.top_ask_share, (1 + 1.5) / 4.5) and math.isclose(vault.top_ask_share, 2 / 4.5)
    spread1 = (2_002 - 1_999) * 10_000 / 2_000.5
    assert math.isclose(q.time_weighted_spread_bps, (10 * 1 + spread1 * 2 + 10 * 1.5) / 4.5)
    assert math.isclose(q.two_sided_book_share, 1.0)


def test_quality__trades__maker_share_fill_rate_markouts():
    trades = [Trade(0, 2_001 * USDC, ONE, "pool", "others", False),      # pool sold at 2001
              Trade(500, 1_998 * USDC, 2 * ONE, "vault", "others", True),  # vault bought at 1998
              Trade(2_500, 2_000 * USDC, ONE, "others", "pool", True)]
    marks = [(0, 2_000 * USDC), (1_000, 2_004 * USDC), (2_000, 1_996 * USDC)]
    assert markouts(trades, [m[0] for m in marks], [m[1] for m in marks], 1_000) == [2_004 * USDC, 2_004 * USDC,
                                                                                      None]
    q = market_quality(_book(), trades, marks, horizon_s=1, placed={"pool": 4 * ONE, "vault": 4 * ONE})
    pool, vault = q.participants["pool"], q.participants["vault"]
    assert q.volume == 2_001 * USDC + 3_996 * USDC + 2_000 * USDC
    assert pool.maker_volume == 2_001 * USDC and pool.taker_volume == 2_000 * USDC
    assert math.isclose(pool.maker_share, 2_001 / 7_997)
    assert pool.fill_rate == 0.25 and vault.fill_rate == 0.5
    # pool sold at 2001, mark 1 s later 2004: -3 USDC for the maker, i.e. adverse
    assert pool.markout_usdc == -3 * USDC and math.isclose(pool.markout_bps, -3 * 10_000 / 2_001)
    assert math.isclose(pool.adverse_selection_bps, 3 * 10_000 / 2_001)
    assert vault.markout_usdc == 12 * USDC  # bought 2 at 1998, mark 2004
