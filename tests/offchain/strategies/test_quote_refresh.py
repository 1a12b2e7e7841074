from offchain.strategies import AccountState, Fill, QuoteConfig, QuoteEngine
from tests.constants import USDC

ETH = 10**18
FLAT = AccountState(0, 0)


def _engine(**kw):
    return QuoteEngine(QuoteConfig(1, spread_bps=20, order_size=ETH, refresh_ms=1_000, tolerance_bps=5, **kw))


def test_quote__first_update__quotes(at):
    assert len(_engine().update(at(3000 * USDC), FLAT, 0)) == 2


def test_quote__before_refresh_time__keeps_quotes(at):
    engine = _engine()
    engine.update(at(3000 * USDC), FLAT, 0)
    assert engine.update(at(3002 * USDC), FLAT, 500) is None


def test_quote__move_within_tolerance__keeps_quotes(at):
    engine = _engine()
    engine.update(at(3000 * USDC), FLAT, 0)
    assert engine.update(at(3001 * USDC), FLAT, 1_000) is None  # 3.3 bps < 5


def test_quote__move_beyond_tolerance_at_refresh__requotes(at):
    engine = _engine()
    engine.update(at(3000 * USDC), FLAT, 0)
    orders = engine.update(at(3002 * USDC), FLAT, 1_000)  # 6.7 bps >= 5
    assert orders is not None and orders[0].price == 2998_990000


def test_quote__price_runs_into_quote__requotes_before_refresh(at):
    engine = _engine(min_spread_bps=10)
    engine.update(at(3000 * USDC), FLAT, 0)  # bid 2997
    assert engine.update(at(2998 * USDC), FLAT, 100) is not None  # bid now 3.3 bps away < 5


def test_quote__position_changed__requotes(at):
    engine = _engine()
    engine.update(at(3000 * USDC), FLAT, 0)
    assert engine.update(at(3000 * USDC), AccountState(ETH, 0), 100) is not None


def test_quote__after_fill__waits_fill_delay(at):
    engine = _engine(fill_delay_ms=300)
    first = engine.update(at(3000 * USDC), FLAT, 0)
    engine.on_fill(Fill(1, True, first[0].price, ETH), now=2_000)
    assert engine.update(at(2990 * USDC), AccountState(ETH, 0), 2_200) is None
    assert engine.update(at(2990 * USDC), AccountState(ETH, 0), 2_300) is not None
