"""MarketMaker, the one loop both hosts run: engine protocol, fills, and the risk gate on
ticks where the engine keeps its quotes."""

import pytest

from offchain.keeper.keys import Key
from offchain.keeper.runners import MarketMaker, OrderSigner
from offchain.keeper.runners.configs import PoolGridParams, pool_grid_config
from offchain.strategies import Engine, Fill, GridEngine, QuoteConfig, QuoteEngine, RiskLimits
from offchain.strategies.delta_neutral import DeltaNeutralConfig, DeltaNeutralEngine

from .fakes import AGENT, AGENT_KEY, DOMAIN, ETH, MARK, VAULT, FakeFill, FakeVenue

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)


def maker(engine_factory, limits=RiskLimits()):
    signer = OrderSigner(DOMAIN, Key(AGENT, AGENT_KEY), VAULT, first_nonce=1)
    return MarketMaker(VAULT, 1, signer, limits=limits, engine_factory=engine_factory)


def test_engines__one_protocol():
    engines = [GridEngine(pool_grid_config(PoolGridParams(1, 3, 30, ETH // 10, True), MARK)),
               QuoteEngine(QuoteConfig(1, 20, ETH // 10)),
               DeltaNeutralEngine(DeltaNeutralConfig(1, hedge_threshold=ETH))]
    for engine in engines:
        assert all(callable(getattr(engine, name)) for name in ("desired", "on_fill", "undo_fill"))
        assert engine.paused is False
        assert not engine.undo_fill(Fill(1, True, MARK, ETH), 0)
    _: list[Engine] = engines  # type-checks against the protocol


async def test_market_maker__stale_mark_while_quotes_kept__pulls_at_once():
    """The quote engine keeps its quotes inside refresh_ms (desired -> None); the gate still
    sees the stale mark and everything is cancelled now, not at the next requote."""
    venue = FakeVenue()
    mm = maker(lambda _anchor: QuoteEngine(QuoteConfig(1, 20, ETH // 10, refresh_ms=60_000)),
               RiskLimits(max_mark_age_ms=1_000))
    venue.marks[1] = venue.market(MARK, mark_ts=venue.now)
    first = await mm.step(venue, venue.now)
    assert first.requoted and len(venue.resting(VAULT)) == 2
    kept = await mm.step(venue, venue.now + 500)
    assert kept.plan.empty and not kept.requoted and kept.risk is None
    stale = await mm.step(venue, venue.now + 2_000)
    assert not stale.requoted and len(stale.plan.cancels) == 2 and stale.risk.reasons
    assert venue.resting(VAULT) == [] and len(venue.cancelled) == 2


async def test_market_maker__grid_fill_then_skip__undone_by_fill_id():
    venue = FakeVenue()
    mm = maker(lambda anchor: GridEngine(pool_grid_config(PoolGridParams(1, 3, 30, ETH // 10, True), anchor)))
    await mm.step(venue, venue.now)
    before = mm.engine.quantities
    bid = max((o for o in venue.resting(VAULT) if o.is_buy), key=lambda o: o.price)
    fill = FakeFill(1, VAULT, True, bid.price, bid.size, id=7)
    assert mm.on_fill(fill, venue.now) and mm.engine.quantities != before
    assert mm.on_fill_rejected(fill) and mm.engine.quantities == before
    assert not mm.on_fill_rejected(fill)  # once only
