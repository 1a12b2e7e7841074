"""The funding runner: sampling, one submission per interval, crash-resume without a
double submission (a fake chain with real nonce and mempool rules, a real SQLite journal)."""

from __future__ import annotations

import asyncio

import pytest

from offchain.funding import FundingParams, RATE_ONE, average_premium, funding_rate, sample_book
from offchain.funding.journal import CONFIRMED, DEAD, PLANNED, FundingJournal
from offchain.funding.runner import FundingRunner
from tests.constants import ONE, USDC

from .fakes import Crash, FakeFundingChain

INDEX = 2_000 * USDC
PARAMS = FundingParams(interval_s=60, sample_s=5, impact_notional=10_000 * USDC)
T0 = 1_800_000_000 // 60 * 60  # start of an interval
# bids 0.5 % above the index: longs crowd the book, so longs pay
SKEWED = ([(2_010 * USDC, 100 * ONE)], [(2_020 * USDC, 100 * ONE)])


@pytest.fixture
def journal(tmp_path):
    j = FundingJournal(f"sqlite:///{tmp_path}/funding.db")
    yield j
    j.close()


def runner_for(journal, chain, book=SKEWED, published=None):
    def publish(market, message):
        if published is not None:
            published.append((market, message))
    return FundingRunner({1: PARAMS}, journal, chain, lambda m: book, lambda m: INDEX, publish)


def run(coro):
    return asyncio.run(coro)


async def drive(runner, times):
    for t in times:
        await runner.tick(t)
    await runner.drain()


def test_runner__skewed_book__longs_pay_one_rate_per_interval(journal):
    chain, published = FakeFundingChain(), []
    runner = runner_for(journal, chain, published=published)
    run(drive(runner, [T0 + s for s in range(0, 60, 5)] + [T0 + 60, T0 + 65, T0 + 120]))
    sample = sample_book(*SKEWED, INDEX, PARAMS.impact_notional)
    assert sample == RATE_ONE * 10 // 2_000
    rate = funding_rate(sample, PARAMS)
    assert rate > 0
    k = T0 // 60
    assert chain.applied == [(1, k, rate), (1, k + 1, rate)]
    rec = journal.rate(1, k)
    assert rec.state == CONFIRMED and rec.samples == 12 and rec.avg_premium == sample
    assert [m["interval"] for _, m in published] == [str(k), str(k + 1)]


def test_runner__tick_twice_at_boundary__no_second_submission(journal):
    chain = FakeFundingChain()
    runner = runner_for(journal, chain)
    run(drive(runner, [T0, T0 + 60, T0 + 60, T0 + 61]))
    runner2 = runner_for(journal, chain)  # a restart replays nothing twice either
    run(runner2.resume(T0 + 62))
    run(drive(runner2, [T0 + 63]))
    assert len(chain.applied) == 1


def test_runner__crash_before_broadcast__resume_sends_same_bytes_once(journal):
    chain = FakeFundingChain()
    runner = runner_for(journal, chain)
    run(drive(runner, [T0, T0 + 5]))
    chain.crash_on_send = True
    with pytest.raises(Crash):
        run(drive(runner, [T0 + 60]))
    rec = journal.rate(1, T0 // 60)
    assert rec.state == PLANNED and rec.raw_tx  # journaled before the bytes left
    chain.crash_on_send = False
    chain.restart()
    restarted = runner_for(journal, chain)
    run(restarted.resume(T0 + 70))
    run(restarted.drain())
    assert chain.applied == [(1, T0 // 60, rec.rate)]
    assert journal.rate(1, T0 // 60).state == CONFIRMED
    assert journal.rate(1, T0 // 60).tx_hash == rec.tx_hash


def test_runner__crash_after_broadcast__resume_finds_receipt(journal):
    chain = FakeFundingChain()
    chain.auto_mine = False
    runner = runner_for(journal, chain)
    run(drive(runner, [T0]))

    async def crash_after_send():
        await runner.tick(T0 + 60)
        raise Crash()  # dies before any receipt arrives

    with pytest.raises(Crash):
        run(crash_after_send())
    chain.mine()
    chain.restart()
    restarted = runner_for(journal, chain)
    run(restarted.resume(T0 + 61))
    run(restarted.drain())
    assert len(chain.applied) == 1 and journal.rate(1, T0 // 60).state == CONFIRMED


def test_runner__nonce_taken_while_down__dead_then_signed_again_once(journal):
    chain = FakeFundingChain()
    runner = runner_for(journal, chain)
    run(drive(runner, [T0]))
    chain.crash_on_send = True
    with pytest.raises(Crash):
        run(drive(runner, [T0 + 60]))
    old = journal.rate(1, T0 // 60)
    chain.crash_on_send = False
    chain.restart()
    chain.other_tx()  # settlement took the nonce after the restart
    restarted = runner_for(journal, chain)
    run(restarted.resume(T0 + 61))
    run(restarted.drain())
    new = journal.rate(1, T0 // 60)
    assert new.state == CONFIRMED and new.nonce != old.nonce
    assert chain.applied == [(1, T0 // 60, old.rate)]


def test_runner__node_refuses__dead_row_retried_next_tick(journal):
    chain = FakeFundingChain()
    runner = runner_for(journal, chain)
    run(drive(runner, [T0]))
    chain.refuse_send = True
    run(drive(runner, [T0 + 60]))
    assert journal.rate(1, T0 // 60).state == DEAD and chain.applied == []
    assert chain.allocated == 0  # the refused tx gave its nonce back
    chain.refuse_send = False
    run(drive(runner, [T0 + 61]))
    assert chain.applied == [(1, T0 // 60, journal.rate(1, T0 // 60).rate)]


def test_runner__chain_already_has_interval__nothing_sent(journal):
    chain = FakeFundingChain()
    chain.last[1] = T0 // 60  # a standby keeper got there first
    runner = runner_for(journal, chain)
    run(drive(runner, [T0, T0 + 60]))
    assert chain.applied == [] and chain.allocated == 0


def test_runner__samples_survive_restart(journal):
    chain = FakeFundingChain()
    first = runner_for(journal, chain, book=SKEWED)
    run(drive(first, [T0, T0 + 5]))
    flat = ([(1_990 * USDC, 100 * ONE)], [(2_010 * USDC, 100 * ONE)])
    second = runner_for(journal, chain, book=flat)
    run(second.resume(T0 + 7))
    run(drive(second, [T0 + 10, T0 + 60]))
    skewed = sample_book(*SKEWED, INDEX, PARAMS.impact_notional)
    expected = average_premium([skewed, skewed, 0])
    assert journal.rate(1, T0 // 60).avg_premium == expected
    assert chain.applied == [(1, T0 // 60, funding_rate(expected, PARAMS))]


def test_runner__predicted_rate__from_running_samples(journal):
    runner = runner_for(journal, FakeFundingChain())
    run(drive(runner, [T0]))
    assert runner.predicted_rate(1) == funding_rate(sample_book(*SKEWED, INDEX, PARAMS.impact_notional), PARAMS)


def test_runner__no_index__no_sample(journal):
    chain = FakeFundingChain()
    runner = FundingRunner({1: PARAMS}, journal, chain, lambda m: SKEWED, lambda m: None)
    run(drive(runner, [T0, T0 + 60]))
    rec = journal.rate(1, T0 // 60)
    assert rec.samples == 0 and rec.rate == funding_rate(0, PARAMS)  # interest only


def test_runner__stop_with_tx_pending__returns_and_resume_confirms(journal):
    chain = FakeFundingChain()
    chain.auto_mine = False
    runner = runner_for(journal, chain)

    async def until_stop():
        await runner.tick(T0)
        await runner.tick(T0 + 60)
        await runner.stop()  # does not wait out the receipt timeout

    run(until_stop())
    assert journal.rate(1, T0 // 60).state == "submitted"
    chain.mine()
    restarted = runner_for(journal, chain)
    run(restarted.resume(T0 + 61))
    assert journal.rate(1, T0 // 60).state == CONFIRMED and len(chain.applied) == 1
