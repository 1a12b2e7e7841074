"""The backstop below maintenance is a liquidatable account too (docs/liquidation.md,
"The backstop's own waterfall"), offline: the runner's real decision code over a
stubbed chain (snapshots, the fund, the simulation's answers).

Invariant: the runner scans the backstop (whether or not the keeper's view holds it),
its step is always the whole position (never the book, never liquidate: the Exchange
refuses liquidate(backstop)); it is deleveraged against the ranked profitable opposite
side and then socialised among the opposite side, and the backstop is never listed as its
own counterparty in either call."""

from __future__ import annotations

import types

import pytest
from eth_abi import decode as abi_decode
from web3 import Web3

from offchain.artifacts import abi as artifact_abi
from offchain.keeper.admission import AccountState, MarketInfo
from offchain.keeper.runners.liquidation import ADL_KIND, SOCIALISE_KIND, LiquidationRunner
from offchain.risk.liquidation import (
    AccountRisk,
    LiquidationParams,
    MarketRisk,
    StepKind,
    adl_price,
    bankruptcy_price,
    health,
    next_step,
    socialise_list,
)
from tests.constants import ONE, USDC

pytestmark = pytest.mark.anyio

INFO = {1: MarketInfo(1, tick=10_000, lot=10**15, min_size=10**15)}
MARKETS = {1: MarketRisk.of(INFO[1])}
CRASH = 1_200 * USDC
BS = Web3.to_checksum_address("0x" + "b" * 40)   # the backstop (the pool)
WIN = Web3.to_checksum_address("0x" + "1" * 40)  # short from 2,000: in profit at the crash
LATE = Web3.to_checksum_address("0x" + "2" * 40)  # short from the crash price: not in profit
EXCHANGE = Web3.to_checksum_address("0x" + "e" * 40)

# the backstop long 10 ETH from 2,000 on 3,000 USDC: -5,000 at the crash
BACKSTOP = AccountRisk(BS, 3_000 * USDC, ((1, 10 * ONE, 20_000 * USDC),))


# ---------------------------------------------------------------- the pure layer

def test_next_step__backstop_in_book_range__whole_position_never_the_book():
    # 1,780: equity 800 against maintenance 890, above 2/3 of it: a trader's step is BOOK
    marks = {1: 1_780 * USDC}
    trader = next_step(BACKSTOP, marks, MARKETS, LiquidationParams())
    step = next_step(BACKSTOP, marks, MARKETS, LiquidationParams(), backstop=True)
    assert trader is not None and trader.kind is StepKind.BOOK and trader.limit_price != 0
    assert step is not None and (step.kind, step.size, step.is_buy) == (StepKind.BACKSTOP, 10 * ONE, False)


def test_next_step__healthy_backstop__none():
    assert next_step(BACKSTOP, {1: 2_000 * USDC}, MARKETS, backstop=True) is None


def test_adl_price__backstop_at_mark_while_the_fund_covers__bankruptcy_price_when_short():
    size, cost = 10 * ONE, 20_000 * USDC
    equity = health(BACKSTOP, {1: CRASH}, MARKETS).equity
    assert equity == -5_000 * USDC
    assert adl_price(size, cost, equity, CRASH, 5_000 * USDC, backstop=True) == CRASH
    assert adl_price(size, cost, 500 * USDC, CRASH, 0, backstop=True) == CRASH  # below maintenance, not bankrupt
    short = adl_price(size, cost, equity, CRASH, 4_999 * USDC, backstop=True)
    assert short == bankruptcy_price(size, cost, equity, CRASH) == 1_700 * USDC
    # a trader's ADL is always at its bankruptcy price (the chain requires the fund short)
    assert adl_price(size, cost, equity, CRASH, 0) == 1_700 * USDC


def test_socialise_list__backstop_is_the_bankrupt__opposite_side_only():
    accounts = [BACKSTOP, AccountRisk(WIN, 10**10, ((1, -4 * ONE, -8_000 * USDC),)),
                AccountRisk(LATE, 10**10, ((1, -6 * ONE, -7_200 * USDC),))]
    listed = socialise_list(True, 1, accounts, BS, BS)
    assert listed == sorted([WIN, LATE], key=lambda a: int(a, 16))
    assert BS not in listed


# ---------------------------------------------------------------- the runner

def _state(address: str, collateral: int, size: int, cost: int) -> AccountState:
    s = AccountState(address)
    s.collateral = collateral
    s.positions = {1: [size, cost]}
    return s


class Chain:
    """What the runner reads: snapshots (the keeper's accounts, at the crash), the fund,
    the Exchange's ABI for calldata. `refuse` maps a function name to the simulated revert."""

    def __init__(self, accounts: list[AccountState], fund: int, refuse: dict[str, str]) -> None:
        self.accounts = {a.address: a for a in accounts}
        self.fund = fund
        self.refuse = refuse
        self.exchange = Web3().eth.contract(address=EXCHANGE, abi=artifact_abi("Exchange"))

    async def call(self, contract, name: str, *args):
        assert name == "insurance_fund"
        return self.fund

    async def block_number(self) -> int:
        return 7

    async def account_snapshots(self, accounts, markets, block="latest", by_market=False):
        out = {}
        for a in accounts:
            s = self.accounts[Web3.to_checksum_address(a)]
            out[a] = (s.collateral, {m: tuple(s.positions.get(m, (0, 0))) for m in markets}, 0,
                      {m: 0 for m in markets} if by_market else 0)
        return out


def _runner(chain: Chain, view: list[AccountState]) -> LiquidationRunner:
    runner = LiquidationRunner()
    runner.chain = chain
    runner.backstop = BS.lower()
    runner.markets = MARKETS
    runner.last_marks = {1: CRASH}
    core = types.SimpleNamespace(accounts={a.address: a for a in view}, marks={1: CRASH}, markets=INFO)
    runner.keeper = types.SimpleNamespace(core=core)
    simulated: list[tuple[str, list[str]]] = []

    async def simulate(data: bytes) -> str:
        name, listed = _decode(chain, data)
        simulated.append((name, listed))
        return chain.refuse.get(name, "")

    runner._simulate = simulate
    runner.simulated = simulated
    return runner


def _decode(chain: Chain, data: bytes) -> tuple[str, list[str]]:
    """(function name, counterparties) of an adl / socialise call (same argument types)."""
    for name in ("adl", "socialise"):
        types_ = ["address", "uint256", "address[]"]
        selector = Web3.keccak(text=f"{name}(address,uint256,address[])")[:4]
        if data[:4] == selector:
            account, market, listed = abi_decode(types_, data[4:])
            assert Web3.to_checksum_address(account) == BS and market == 1
            return name, [Web3.to_checksum_address(a) for a in listed]
    raise AssertionError("not an adl / socialise call")


def _everyone():
    return [_state(BS, 3_000 * USDC, 10 * ONE, 20_000 * USDC),
            _state(WIN, 10_000 * USDC, -4 * ONE, -8_000 * USDC),
            _state(LATE, 10_000 * USDC, -6 * ONE, -7_200 * USDC)]


def _step():
    step = next_step(BACKSTOP, {1: CRASH}, MARKETS, backstop=True)
    assert step is not None
    return step


async def test_backstop_calldata__profitable_opposite__adl_against_it_never_the_backstop():
    runner = _runner(Chain(_everyone(), fund=0, refuse={}), _everyone())
    data, kind, refusal = await runner._backstop_calldata(_step())
    assert (kind, refusal) == (ADL_KIND, "")
    assert _decode(runner.chain, data) == ("adl", [WIN])  # LATE is not in profit; BS never


async def test_backstop_calldata__adl_refused__socialised_among_the_opposite_side():
    for reason in ("exchange: adl equity", "exchange: adl counterparty"):
        runner = _runner(Chain(_everyone(), fund=0, refuse={"adl": reason}), _everyone())
        data, kind, refusal = await runner._backstop_calldata(_step())
        assert (kind, refusal) == (SOCIALISE_KIND, "")
        assert _decode(runner.chain, data) == ("socialise", sorted([WIN, LATE], key=lambda a: int(a, 16)))
        assert all(BS not in listed for _, listed in runner.simulated)


async def test_backstop_calldata__no_profitable_opposite__socialised_without_an_adl():
    accounts = [a for a in _everyone() if a.address != WIN] + [_state(WIN, 10_000 * USDC, 0, 0)]
    accounts[1].positions[1] = [-10 * ONE, -12_000 * USDC]  # LATE holds the whole short, at the crash
    runner = _runner(Chain(accounts, fund=0, refuse={}), accounts)
    data, kind, _ = await runner._backstop_calldata(_step())
    assert kind == SOCIALISE_KIND and _decode(runner.chain, data) == ("socialise", [LATE])
    assert [name for name, _ in runner.simulated] == ["socialise"]


async def test_backstop_calldata__healthy_again__refused_no_adl_nothing_sent():
    runner = _runner(Chain(_everyone(), fund=0, refuse={"adl": "exchange: no adl"}), _everyone())
    _, kind, refusal = await runner._backstop_calldata(_step())
    assert (kind, refusal) == (ADL_KIND, "exchange: no adl")  # execute() logs it and sends nothing


async def test_scan__backstop_outside_the_keeper_view__scanned_whole_position_step():
    everyone = _everyone()
    runner = _runner(Chain(everyone, fund=0, refuse={}), [a for a in everyone if a.address != BS])
    decided = []

    async def read_marks():
        return {1: CRASH}, set()

    async def execute(step, h, seen_block):
        decided.append(step)

    runner.read_marks = read_marks
    runner.execute = execute
    runner._spawn = lambda coro: coro.close()  # the step is in `steps`; nothing runs
    steps = await runner.scan(full=True)
    (step,) = [s for s in steps if s.account.lower() == BS.lower()]
    assert (step.kind, step.size, step.is_buy) == (StepKind.BACKSTOP, 10 * ONE, False)
