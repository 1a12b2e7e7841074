"""PnL, fees, volume and round trips against hand-computed cases."""

from offchain.analytics import Ledger, MarkPoint, SettledFill, analyze
from tests.constants import USDC

ETH = 10**18
H = 3_600_000  # one hour in ms


def test_analytics__maker_round_trip_then_taker_open__hand_computed():
    fills = [
        SettledFill(0 * H, 1, True, 3000 * USDC, ETH, is_maker=True, rebate=300_000),  # +0.30 rebate
        SettledFill(1 * H, 1, False, 3030 * USDC, ETH, is_maker=True, rebate=303_000),
        SettledFill(2 * H, 1, True, 3000 * USDC, 2 * ETH, is_maker=False, fee=3 * USDC),
    ]
    marks = [MarkPoint(3 * H, 1, 2950 * USDC)]
    r = analyze(fills, marks, initial_equity=10_000 * USDC)
    assert r.maker_volume == 6030 * USDC and r.taker_volume == 6000 * USDC
    assert r.fees_paid == 3 * USDC and r.rebates_earned == 603_000
    assert r.realised_pnl == 30 * USDC
    assert r.unrealised_pnl == -100 * USDC  # 2 ETH bought at 3000, marked at 2950
    assert r.gross_pnl == -70 * USDC
    assert r.net_pnl == -70 * USDC - 3 * USDC + 603_000
    assert r.round_trips == 1 and r.win_rate == 1.0
    assert r.positions == {1: 2 * ETH}
    assert list(r.series["equity"]) == [10_000_300_000, 10_030_603_000, 10_027_603_000, 9_927_603_000]
    assert list(r.series["inventory_1"]) == [ETH, 0, 2 * ETH, 2 * ETH]


def test_analytics__short_then_cover_through_flip__average_cost():
    ledger = Ledger()
    ledger.apply(SettledFill(0, 1, False, 3000 * USDC, ETH, True))
    ledger.apply(SettledFill(1, 1, False, 3100 * USDC, ETH, True))  # short 2 @ avg 3050
    ledger.apply(SettledFill(2, 1, True, 2950 * USDC, 3 * ETH, True))  # cover 2 (+200), open long 1
    assert ledger.realised == 200 * USDC and ledger.round_trips == [200 * USDC]
    book = ledger.books[1]
    assert book.position == ETH and book.cost == 2950 * USDC


def test_analytics__partial_closes__round_trips_sum_to_realised_and_win_rate():
    fills = [
        SettledFill(0, 1, True, 100 * USDC, 4 * ETH, True),
        SettledFill(1, 1, False, 110 * USDC, ETH, True),  # +10
        SettledFill(2, 1, False, 90 * USDC, ETH, True),  # -10
        SettledFill(3, 1, False, 105 * USDC, 2 * ETH, True),  # +10
    ]
    r = analyze(fills)
    assert r.realised_pnl == 10 * USDC and r.round_trips == 3
    assert abs(r.win_rate - 2 / 3) < 1e-12
    assert r.positions == {1: 0} and r.unrealised_pnl == 0


def test_analytics__no_fills__empty_report():
    r = analyze([])
    assert r.net_pnl == 0 and r.win_rate is None and r.stats.sharpe is None and r.series.empty
