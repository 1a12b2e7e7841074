"""PnL since entry per LP / follower with several deposits and withdrawals (hand-computed)."""

from offchain.analytics.holders import ShareFlow, holder_results, share_value
from tests.constants import USDC

V = 10**6  # virtual shares


def test_holders__several_deposits_and_withdrawals__pnl_since_entry():
    # Two deposits, one partial withdrawal (with a profit share fee), then the price now.
    flows = [ShareFlow(0, "lp", True, 1_000 * USDC, 1_000 * USDC),
             ShareFlow(10, "lp", True, 2_000 * USDC, 1_900 * USDC),
             ShareFlow(20, "lp", False, 525 * USDC, 500 * USDC, fee=5 * USDC),
             ShareFlow(5, "other", True, 100 * USDC, 100 * USDC)]
    assets, supply = 3_000 * USDC, 2_500 * USDC  # share price 1.2
    r = holder_results(flows, assets, supply)
    lp = r["lp"]
    assert lp.shares == 2_400 * USDC
    assert lp.value == 2_400 * USDC * (assets + 1) // (supply + V) == share_value(lp.shares, assets, supply)
    assert lp.deposited == 3_000 * USDC and lp.withdrawn == 525 * USDC
    assert lp.pnl == lp.value + 525 * USDC - 3_000 * USDC
    assert lp.return_on_deposits == lp.pnl / (3_000 * USDC)
    assert lp.fees_paid == 5 * USDC and lp.vs_usdc == lp.pnl
    assert lp.hold_base_value is None and lp.vs_base is None and lp.funding is None
    assert r["other"].pnl == share_value(100 * USDC, assets, supply) - 100 * USDC


def test_holders__against_base__deposits_buy_base_at_their_mark():
    marks = {0: 2_000 * USDC, 10: 2_500 * USDC, 20: 2_000 * USDC}
    flows = [ShareFlow(0, "lp", True, 2_000 * USDC, 2_000 * USDC),   # 1 base
             ShareFlow(10, "lp", True, 2_500 * USDC, 2_500 * USDC),  # 1 base
             ShareFlow(20, "lp", False, 1_000 * USDC, 1_000 * USDC)]  # sells 0.5 base
    r = holder_results(flows, 3_500 * USDC, 3_500 * USDC, price_at=lambda f: marks.get(f.ts), price_now=3_000 * USDC)["lp"]
    assert r.hold_base_value == 4_500 * USDC  # 1.5 base x 3000
    assert r.vs_base == r.value - 4_500 * USDC
    assert r.vs_base < 0 < r.hold_base_value - r.value  # holding base beat the pool on a rally
