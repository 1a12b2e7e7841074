"""Market registry: add_market / update_market validation and events."""

import ape
import pytest

from tests.constants import ETH, LOT, TICK


def test_add_market__registers_and_logs(exchange, admin):
    tx = exchange.add_market(TICK, LOT, 2 * LOT, 2_000, 1_000, 300, sender=admin)
    assert exchange.market_count() == 2
    assert tuple(exchange.markets(2)) == (TICK, LOT, 2 * LOT, 2_000, 1_000, 300, True)
    logs = tx.decode_logs(exchange.MarketSet)
    assert [(l.market, l.tick, l.lot, l.min_size, l.initial_margin_bps, l.maintenance_margin_bps, l.band_bps, l.active) for l in logs] == [
        (2, TICK, LOT, 2 * LOT, 2_000, 1_000, 300, True)
    ]


def test_default_market__eth(exchange):
    assert exchange.market_count() == 1
    assert tuple(exchange.markets(ETH)) == (TICK, LOT, LOT, 1_000, 500, 500, True)


def test_update_market__changes_params_and_logs(exchange, admin):
    tx = exchange.update_market(ETH, 2 * TICK, LOT, LOT, 1_500, 700, 200, False, sender=admin)
    assert tuple(exchange.markets(ETH)) == (2 * TICK, LOT, LOT, 1_500, 700, 200, False)
    assert not tx.decode_logs(exchange.MarketSet)[0].active


def test_update_market__unknown__reverts(exchange, admin):
    with ape.reverts("exchange: unknown market"):
        exchange.update_market(7, TICK, LOT, LOT, 1_000, 500, 500, True, sender=admin)


def test_add_market__not_admin__reverts(exchange, stranger):
    with ape.reverts("exchange: not admin"):
        exchange.add_market(TICK, LOT, LOT, 1_000, 500, 500, sender=stranger)


def test_update_market__not_admin__reverts(exchange, stranger):
    with ape.reverts("exchange: not admin"):
        exchange.update_market(ETH, TICK, LOT, LOT, 1_000, 500, 500, True, sender=stranger)


@pytest.mark.parametrize(
    "params,reason",
    [
        ((0, LOT, LOT, 1_000, 500, 500), "exchange: bad tick"),
        ((TICK, 0, LOT, 1_000, 500, 500), "exchange: bad lot"),
        ((TICK, LOT, LOT // 2, 1_000, 500, 500), "exchange: bad min size"),
        ((TICK, LOT, LOT + 1, 1_000, 500, 500), "exchange: bad min size"),
        ((TICK, LOT, LOT, 1_000, 0, 500), "exchange: bad margin"),
        ((TICK, LOT, LOT, 500, 1_000, 500), "exchange: bad margin"),
        ((TICK, LOT, LOT, 10_001, 500, 500), "exchange: bad margin"),
        ((TICK, LOT, LOT, 1_000, 500, 0), "exchange: bad band"),
        ((TICK, LOT, LOT, 1_000, 500, 10_001), "exchange: bad band"),
    ],
)
def test_add_market__bad_params__revert(exchange, admin, params, reason):
    with ape.reverts(reason):
        exchange.add_market(*params, sender=admin)
