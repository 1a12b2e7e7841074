"""Queued withdrawals: FIFO claims, min(request, claim) pricing, the forced unwind."""
import ape
import pytest

from tests.constants import PRICE, REDUCE_ONLY, USDC, ZERO
from tests.contracts.receipts import settled

SIZE = 45 * 10**18  # 90k notional at 2000: 9k initial margin out of ~10k equity


@pytest.fixture
def loaded(vault, owner, follower, deposit, open_position, after_lockup, set_price):
    """Owner 1k + follower 9k, long 45 at 2000, lock-ups over, fresh price."""
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    open_position(vault, SIZE)
    after_lockup()
    set_price(PRICE)
    return vault


def _queue(vault, who):
    shares = vault.balanceOf(who)
    receipt = vault.withdraw(shares, sender=who)
    return shares, receipt.events.filter(vault.WithdrawalQueued)[0]


def _close_at(vault, manager, taker, trade, set_price, price):
    """The mark moves to `price` and the vault closes its long there (reduce-only)."""
    set_price(price)
    trade(vault, manager, taker, taker, False, SIZE, price=price, maker_flags=REDUCE_ONLY)


def test_withdraw__beyond_free_collateral__queued_with_event(loaded, follower):
    vault = loaded
    shares = vault.balanceOf(follower)
    value = vault.convert_to_assets(shares)
    assert value > vault.available_liquidity()
    receipt = vault.withdraw(shares, sender=follower)
    assert receipt.events.filter(vault.WithdrawalQueued) == [
        vault.WithdrawalQueued(request_id=0, depositor=follower.address, shares=shares, value=value, basis=9_000 * USDC)
    ]
    assert receipt.events.filter(vault.Withdraw) == []
    assert vault.balanceOf(follower) == 0
    assert vault.pending_shares() == shares
    assert vault.queue_length() == 1
    assert vault.requests(0).depositor == follower


def test_claim__not_enough_liquidity__reverts(loaded, follower, stranger):
    _queue(loaded, follower)
    with ape.reverts("vault: insufficient liquidity"):
        loaded.claim(0, sender=stranger)
    with ape.reverts("vault: no request"):
        loaded.claim(1, sender=stranger)


def test_withdraw__queue_not_empty__later_request_queues_behind(loaded, owner, follower, stranger):
    vault = loaded
    _queue(vault, follower)
    receipt = vault.withdraw(10**6, sender=owner)  # tiny, liquid, but the queue is first
    assert receipt.events.filter(vault.WithdrawalQueued)[0].request_id == 1
    with ape.reverts("vault: not head"):
        vault.claim(1, sender=stranger)


def test_claim__after_keeper_closes__pays_request_value_fifo(
    loaded, follower, manager, taker, trade, stranger, usdc, exchange
):
    vault = loaded
    shares, queued = _queue(vault, follower)
    ok, _ = settled(trade(vault, manager, taker, taker, False, SIZE, maker_flags=REDUCE_ONLY), exchange)
    assert len(ok) == 1
    assert vault.available_liquidity() >= queued.value
    fee = (queued.value - queued.basis) * 1_000 // 10_000 if queued.value > queued.basis else 0
    receipt = vault.claim(0, sender=stranger)
    assert receipt.events.filter(vault.WithdrawalClaimed) == [
        vault.WithdrawalClaimed(request_id=0, depositor=follower.address, shares=shares, assets=queued.value - fee, fee=fee)
    ]
    assert usdc.balanceOf(follower) == queued.value - fee
    assert usdc.balanceOf(manager) == fee
    assert vault.pending_shares() == 0
    assert vault.queue_head() == 1
    assert vault.queue_length() == 0


def test_claim__value_fell_after_request__pays_claim_value(
    loaded, follower, manager, taker, trade, set_price, stranger, usdc, exchange
):
    vault = loaded
    shares, queued = _queue(vault, follower)
    _close_at(vault, manager, taker, trade, set_price, PRICE * 99 // 100)
    now_value = vault.convert_to_assets(shares)
    assert now_value < queued.value
    vault.claim(0, sender=stranger)
    assert usdc.balanceOf(follower) == now_value  # below basis: no profit share
    assert usdc.balanceOf(manager) == 0


def test_claim__value_rose_after_request__capped_upside_stays(
    loaded, owner, follower, manager, taker, trade, set_price, stranger, usdc
):
    vault = loaded
    shares, queued = _queue(vault, follower)
    _close_at(vault, manager, taker, trade, set_price, PRICE * 101 // 100)
    assert vault.convert_to_assets(shares) > queued.value
    owner_before = vault.convert_to_assets(vault.balanceOf(owner))
    vault.claim(0, sender=stranger)
    fee = (queued.value - queued.basis) * 1_000 // 10_000
    assert usdc.balanceOf(follower) == queued.value - fee
    assert vault.convert_to_assets(vault.balanceOf(owner)) > owner_before


def test_start_unwind__before_grace__reverts(loaded, follower, stranger):
    _queue(loaded, follower)
    with ape.reverts("vault: grace"):
        loaded.start_unwind(sender=stranger)


def test_start_unwind__no_queue__reverts(loaded, stranger):
    assert not loaded.unwind_due()
    with ape.reverts("vault: no queue"):
        loaded.start_unwind(sender=stranger)


def test_start_unwind__after_grace__close_only_and_agents_swapped(
    loaded, follower, manager, stranger, unwind_agent, exchange, chain
):
    vault = loaded
    _queue(vault, follower)
    chain.pending_timestamp += 86_400
    assert vault.unwind_due()
    receipt = vault.start_unwind(sender=stranger)
    assert receipt.events.filter(vault.UnwindStarted) == [
        vault.UnwindStarted(request_id=0, caller=stranger.address, unwind_agent=unwind_agent.address)
    ]
    assert vault.unwinding()
    assert exchange.close_only(vault)
    assert not exchange.is_agent(vault, manager)
    assert exchange.is_agent(vault, unwind_agent)
    with ape.reverts("vault: unwinding"):
        vault.start_unwind(sender=stranger)
    with ape.reverts("vault: manager paused"):
        vault.set_agent(stranger, sender=manager)


def test_unwind__agent_reduces__claim_then_owner_ends(
    loaded, owner, follower, manager, taker, stranger, unwind_agent, trade, set_price, exchange, chain, usdc
):
    vault = loaded
    shares, queued = _queue(vault, follower)
    chain.pending_timestamp += 86_400
    vault.start_unwind(sender=stranger)
    set_price(PRICE)
    # the manager's key no longer signs for the vault; growing the position is refused
    _, skipped = settled(trade(vault, manager, taker, taker, False, SIZE), exchange)
    assert skipped == ["bad signature"]
    _, skipped = settled(trade(vault, unwind_agent, taker, taker, True, 10**18), exchange)
    assert skipped == ["close only"]
    for _ in range(3):  # close in steps
        ok, _ = settled(trade(vault, unwind_agent, taker, taker, False, SIZE // 3, maker_flags=REDUCE_ONLY), exchange)
        assert len(ok) == 1
    assert exchange.position(vault, 1)[0] == 0
    with ape.reverts("vault: not owner"):
        vault.end_unwind(sender=stranger)
    vault.claim(0, sender=stranger)
    assert usdc.balanceOf(follower) > 0
    receipt = vault.end_unwind(sender=owner)
    assert receipt.events.filter(vault.UnwindEnded) == [vault.UnwindEnded(by=owner.address)]
    assert not vault.unwinding()
    assert not exchange.close_only(vault)
    # the manager's pre-unwind key stays retired: he sets a fresh one to trade again
    assert not exchange.is_agent(vault, manager)
    assert vault.agent() == ZERO
    assert not exchange.is_agent(vault, unwind_agent)


def test_end_unwind__queue_not_empty__reverts(loaded, owner, follower, stranger, chain):
    _queue(loaded, follower)
    chain.pending_timestamp += 86_400
    loaded.start_unwind(sender=stranger)
    with ape.reverts("vault: queue"):
        loaded.end_unwind(sender=owner)
