from offchain.strategies import AccountState, DesiredOrder, Reason, RiskGate, RiskLimits
from tests.constants import USDC

ETH = 10**18
BOOK = [DesiredOrder(1, True, 2999 * USDC, ETH), DesiredOrder(1, False, 3001 * USDC, ETH)]


def _run(gate, at, equity, now):
    return gate.filter(BOOK, AccountState(0, equity), at(3000 * USDC), now)


def test_risk__drawdown_beyond_limit__kill_switch_pulls_quotes(at):
    gate = RiskGate(RiskLimits(max_drawdown_bps=1_000))
    assert _run(gate, at, 1_000 * USDC, 0).allowed == BOOK
    assert _run(gate, at, 1_200 * USDC, 1).allowed == BOOK  # new peak
    allowed, decision = _run(gate, at, 1_080 * USDC, 2)  # exactly 10% below 1200
    assert allowed == [] and decision.killed and decision.reasons == (Reason.KILLED,)
    assert decision.drawdown_bps == 1_000 and decision.peak_equity == 1_200 * USDC


def test_risk__kill_switch__manual_resume_rebases_peak(at):
    gate = RiskGate(RiskLimits(max_drawdown_bps=1_000))
    _run(gate, at, 1_000 * USDC, 0)
    assert _run(gate, at, 850 * USDC, 1).allowed == []
    assert _run(gate, at, 850 * USDC, 2).allowed == []  # stays tripped
    gate.resume(3, equity=850 * USDC)
    allowed, decision = _run(gate, at, 850 * USDC, 4)
    assert allowed == BOOK and not decision.killed and decision.peak_equity == 850 * USDC


def test_risk__kill_switch__resumes_after_cool_down(at):
    gate = RiskGate(RiskLimits(max_drawdown_bps=1_000, resume_after_ms=60_000))
    _run(gate, at, 1_000 * USDC, 0)
    assert _run(gate, at, 850 * USDC, 1_000).allowed == []
    assert _run(gate, at, 850 * USDC, 60_999).allowed == []
    allowed, decision = _run(gate, at, 850 * USDC, 61_000)
    assert allowed == BOOK and decision.peak_equity == 850 * USDC
    assert _run(gate, at, 760 * USDC, 62_000).allowed == []  # a new 10% fall trips it again


def test_risk__kill_switch__resumes_on_recovery(at):
    gate = RiskGate(RiskLimits(max_drawdown_bps=1_000, resume_below_drawdown_bps=300))
    _run(gate, at, 1_000 * USDC, 0)
    assert _run(gate, at, 880 * USDC, 1).allowed == []
    assert _run(gate, at, 960 * USDC, 2).allowed == []  # 4% below peak: not yet
    assert _run(gate, at, 975 * USDC, 3).allowed == BOOK  # 2.5%: resumed, peak kept
    assert _run(gate, at, 899 * USDC, 4).allowed == []


def test_risk__manual_kill__pauses_until_resume(at):
    gate = RiskGate(RiskLimits())
    gate.kill(0)
    assert _run(gate, at, 1_000 * USDC, 1).allowed == []
    gate.resume(2)
    assert _run(gate, at, 1_000 * USDC, 3).allowed == BOOK
