"""Risk limits: Exchange caps set through the vault, the drawdown checkpoint."""
import ape
import pytest

from tests.constants import ONE, PRICE, REDUCE_ONLY, USDC
from tests.contracts.receipts import settled



@pytest.fixture
def funded_vault(vault, owner, deposit):
    deposit(vault, owner, 10_000 * USDC)
    return vault


def test_set_leverage_cap__owner__enforced_by_exchange(funded_vault, owner, open_position, exchange):
    vault = funded_vault
    receipt = vault.set_leverage_cap(20_000, sender=owner)
    assert receipt.events.filter(vault.LeverageCapSet) == [vault.LeverageCapSet(bps=20_000)]
    assert exchange.leverage_cap(vault) == 20_000
    _, skipped = settled(open_position(vault, 11 * ONE), exchange)  # 22k notional > 2x 10k
    assert skipped == ["leverage"]
    ok, _ = settled(open_position(vault, 9 * ONE), exchange)
    assert len(ok) == 1


def test_set_position_cap__owner__enforced_by_exchange(funded_vault, owner, open_position, exchange):
    vault = funded_vault
    receipt = vault.set_position_cap(1, 5 * ONE, sender=owner)
    assert receipt.events.filter(vault.PositionCapSet) == [vault.PositionCapSet(market=1, size=5 * ONE)]
    assert exchange.position_cap(vault, 1) == 5 * ONE
    _, skipped = settled(open_position(vault, 6 * ONE), exchange)
    assert skipped == ["position cap"]


def test_set_drawdown_limit__owner__event_and_bounds(vault, owner):
    receipt = vault.set_drawdown_limit(500, sender=owner)
    assert receipt.events.filter(vault.DrawdownLimitSet) == [vault.DrawdownLimitSet(bps=500)]
    assert vault.drawdown_limit_bps() == 500
    for bad in (0, 10_001):
        with ape.reverts("vault: drawdown limit"):
            vault.set_drawdown_limit(bad, sender=owner)


def test_checkpoint__gain__raises_peak(funded_vault, stranger, add_profit):
    vault = funded_vault
    peak = vault.peak_price()
    add_profit(vault, 1_000 * USDC)
    receipt = vault.checkpoint(sender=stranger)
    price = vault.share_price()
    assert price > peak
    assert vault.peak_price() == price
    assert receipt.events.filter(vault.Checkpoint) == [vault.Checkpoint(price=price, peak=price)]


def test_checkpoint__small_drawdown__not_halted(funded_vault, stranger, open_position, set_price):
    vault = funded_vault
    open_position(vault, 20 * ONE)
    vault.checkpoint(sender=stranger)
    set_price(PRICE * 97 // 100)  # -1.2k on 10k: 12% < 20%
    receipt = vault.checkpoint(sender=stranger)
    assert not vault.halted()
    assert receipt.events.filter(vault.DrawdownHalt) == []


def test_checkpoint__beyond_limit__close_only_then_only_reduce_settles(
    funded_vault, owner, manager, taker, stranger, open_position, set_price, trade, exchange, deposit
):
    vault = funded_vault
    open_position(vault, 20 * ONE)
    vault.checkpoint(sender=stranger)
    peak = vault.peak_price()
    low = PRICE * 94 // 100  # -2.4k on 10k: 24% > 20%
    set_price(low)
    receipt = vault.checkpoint(sender=stranger)
    price = vault.share_price()
    assert receipt.events.filter(vault.DrawdownHalt) == [vault.DrawdownHalt(price=price, peak=peak)]
    assert vault.halted()
    assert exchange.close_only(vault)
    _, skipped = settled(trade(vault, manager, taker, taker, True, ONE, price=low), exchange)
    assert skipped == ["close only"]
    ok, _ = settled(trade(vault, manager, taker, taker, False, ONE, price=low, maker_flags=REDUCE_ONLY), exchange)
    assert len(ok) == 1
    with ape.reverts("vault: halted"):
        deposit(vault, owner, USDC)


def test_clear_halt__owner__trading_resumes_peak_reset(funded_vault, owner, stranger, open_position, set_price, exchange):
    vault = funded_vault
    open_position(vault, 20 * ONE)
    set_price(PRICE * 94 // 100)
    vault.checkpoint(sender=stranger)
    with ape.reverts("vault: not owner"):
        vault.clear_halt(sender=stranger)
    receipt = vault.clear_halt(sender=owner)
    price = vault.share_price()
    assert receipt.events.filter(vault.HaltCleared) == [vault.HaltCleared(peak=price)]
    assert not vault.halted()
    assert vault.peak_price() == price
    assert not exchange.close_only(vault)
    with ape.reverts("vault: not halted"):
        vault.clear_halt(sender=owner)


def test_deposit__after_everyone_left__peak_restarts(
    vault, owner, manager, taker, deposit, open_position, trade, set_price, after_lockup, stranger
):
    deposit(vault, owner, 10_000 * USDC)
    vault.checkpoint(sender=stranger)
    open_position(vault, 20 * ONE)
    low = PRICE * 94 // 100  # -24% on the share price, never checkpointed
    set_price(low)
    trade(vault, manager, taker, taker, False, 20 * ONE, price=low, maker_flags=REDUCE_ONLY)
    after_lockup()
    set_price(low)
    vault.withdraw(vault.balanceOf(owner), sender=owner)
    deposit(vault, owner, 1_000 * USDC)
    assert vault.peak_price() == vault.share_price()
    vault.checkpoint(sender=stranger)
    assert not vault.halted()
