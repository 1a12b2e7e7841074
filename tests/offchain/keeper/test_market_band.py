"""The engine's band is the chain's: out-of-band orders are refused by the keeper with the
Exchange's own reason ("band"), at exactly the prices where `Exchange.settle` would skip."""

import time

import pytest

from offchain.keeper.core import market_config
from offchain.matching import Engine

from .helpers import MARKET, PRICE, order, signed

TICK = MARKET.tick


def chain_band_reason(price: int, mark: int, band_bps: int) -> str | None:
    """Exchange.vy's band rule (`diff * BPS > mark * band_bps` -> "band")."""
    diff = abs(price - mark)
    return "band" if diff * 10_000 > mark * band_bps else None


def test_market_config__band_from_registry_entry():
    assert market_config(MARKET).band_bps == MARKET.band_bps == 500


def test_market_config__widest_chain_band__accepted_by_engine():
    from dataclasses import replace

    Engine([market_config(replace(MARKET, band_bps=10_000))])  # the chain allows 0 < band <= 10_000


@pytest.mark.parametrize("is_buy,offset_ticks", [
    (True, 0), (True, 1), (False, 0), (False, -1),
])
@pytest.mark.anyio
async def test_place__at_and_past_band_edge__keeper_agrees_with_chain(offline_keeper, is_buy, offset_ticks):
    edge = PRICE * (10_000 + MARKET.band_bps) // 10_000 if is_buy else PRICE * (10_000 - MARKET.band_bps) // 10_000
    price = edge + offset_ticks * TICK
    assert price % TICK == 0

    k = offline_keeper()
    seq = k.core.next_seq()
    ts = int(time.time() * 1000)
    await k.gateway.run_command(lambda ws, out: k.core.set_mark(seq, ts, 1, PRICE, ws, out))
    (r,) = await k.gateway.place_batch([signed(0, order(0, is_buy, price=price))])
    await k.stop()
    expected = chain_band_reason(price, PRICE, MARKET.band_bps)
    if expected is None:
        assert r["status"] == "accepted"
    else:
        assert r == {"status": "rejected", "reason": expected, "hash": r["hash"]}
    assert (expected is None) == (offset_ticks == 0)
