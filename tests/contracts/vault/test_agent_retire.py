"""#12 finding 3: pausing (or replacing) a manager voids his signed orders for good; the
vault's own cancel-all is bounded so nobody can push its nonce floor out of reach."""
import ape

from tests.constants import FAR, MARKET, PRICE, USDC
from tests.contracts.receipts import settled

from offchain.order import Domain, Order, sign_order


def _signed(exchange, chain, account, signer, is_buy, size, nonce):
    domain = Domain(chain_id=chain.chain_id, exchange=exchange.address)
    order = Order(account.address if hasattr(account, "address") else account, MARKET, is_buy, PRICE, size, nonce, FAR, 0)
    return order, sign_order(order, domain, signer.private_key)


def test_pause_then_resume__manager_order_signed_before__never_settles(
    vault, owner, manager, taker, deposit, fund, exchange, operator, chain
):
    deposit(vault, owner, 1_000 * USDC)
    fund(taker, 100_000 * USDC, spender=exchange)
    exchange.deposit(100_000 * USDC, sender=taker)
    size = 10**18
    m, ms = _signed(exchange, chain, vault, manager, True, size, 7)
    vault.pause_manager(sender=owner)
    vault.resume_manager(sender=owner)
    t, ts = _signed(exchange, chain, taker, taker, False, size, 8)
    receipt = exchange.settle([(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), size)], sender=operator)
    ok, skipped = settled(receipt, exchange)
    assert ok == [] and skipped == ["bad signature"]
    assert exchange.position(vault, MARKET)[0] == 0


def test_set_manager__old_manager_order__never_settles(
    vault, owner, manager, follower, taker, deposit, fund, exchange, operator, chain
):
    deposit(vault, owner, 1_000 * USDC)
    fund(taker, 100_000 * USDC, spender=exchange)
    exchange.deposit(100_000 * USDC, sender=taker)
    m, ms = _signed(exchange, chain, vault, manager, True, 10**18, 2**63)  # far-future nonce
    vault.set_manager(follower, sender=owner)
    vault.set_manager(manager, sender=owner)  # re-hired: his old key is still retired
    assert vault.agent() == "0x0000000000000000000000000000000000000000"
    t, ts = _signed(exchange, chain, taker, taker, False, 10**18, 9)
    receipt = exchange.settle([(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), 10**18)], sender=operator)
    assert settled(receipt, exchange)[1] == ["bad signature"]


def test_cancel_all__owner_or_manager__floor_raised_with_event(vault, owner, manager, stranger, exchange, chain):
    now_us = chain.pending_timestamp * 10**6
    receipt = vault.cancel_all(now_us, sender=manager)
    assert receipt.events.filter(vault.OrdersCancelled) == [vault.OrdersCancelled(min_nonce=now_us)]
    assert exchange.min_nonce(vault) == now_us
    vault.cancel_all(now_us + 1, sender=owner)
    with ape.reverts("vault: not owner"):
        vault.cancel_all(now_us + 2, sender=stranger)


def test_cancel_all__beyond_a_day_of_nonces__reverts(vault, manager, chain):
    # a floor at 2**64-1 would void every later order, the unwind's included (#12 finding 2)
    with ape.reverts("vault: nonce"):
        vault.cancel_all(2**64 - 1, sender=manager)
    with ape.reverts("vault: nonce"):
        vault.cancel_all((chain.pending_timestamp + 2 * 86_400) * 10**6, sender=manager)
