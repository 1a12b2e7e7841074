"""transfer_position: both sides' EIP-712 consent (or the owner alone), at a price in the band."""

import ape
import pytest

from offchain.subaccounts import transfer_hash
from tests.constants import ETH, LOT, ONE, PRICE, TICK, USDC


@pytest.fixture
def book(exchange, fund, maker, taker, trade):
    """maker long 2 ETH at 2,000 (collateral 2,000), taker short 2 ETH (collateral 10,000); other funded."""
    fund(maker, 2_000 * USDC)
    fund(taker, 10_000 * USDC)
    trade(maker, maker, taker, taker, True, 2 * ONE)
    return maker, taker


@pytest.fixture
def one_eth_to_other(book, other, fund, create_transfer):
    """(maker, a transfer of 1 ETH of the book maker's long to `other` at PRICE), `other`
    funded with 1,000 USDC; nothing signed or sent yet."""
    maker, _ = book
    fund(other, 1_000 * USDC)
    return maker, create_transfer(maker, other, ONE, PRICE)


@pytest.fixture
def refused_to_other(book, other, fund, stranger, create_transfer, relay):
    """refused_to_other(collateral, size, price, reason): `other` funded with `collateral`,
    the book maker's transfer of `size` to it at `price` (both signed, a stranger relays)
    reverts with `reason`."""

    def check(collateral, size, price, reason):
        maker, _ = book
        fund(other, collateral)
        t = create_transfer(maker, other, size, price)
        with ape.reverts(reason):
            relay(t, maker, other, stranger)

    return check


def _identity(exchange, usdc, accounts):
    # the ledger's cash identity: transfers move neither USDC nor sum(collateral - cost)
    total = sum(exchange.collateral(a) - exchange.position(a, ETH)[1] for a in accounts)
    return usdc.balanceOf(exchange), total, sum(exchange.position(a, ETH)[0] for a in accounts)


def test_transfer__both_signed__relayed_by_stranger(
    exchange, usdc, book, other, stranger, fund, create_transfer, relay
):
    maker, taker = book
    fund(other, 1_000 * USDC)
    accounts = [maker, taker, other, exchange.treasury()]
    before = _identity(exchange, usdc, accounts)
    price = PRICE + 50 * USDC  # maker realises +50 on the 1 ETH it gives up
    t = create_transfer(maker, other, ONE, price)
    coll = exchange.collateral(maker)
    tx = relay(t, maker, other, stranger)
    assert exchange.position(maker, ETH) == (ONE, PRICE)  # cost basis pro rata: average entry kept
    assert exchange.position(other, ETH) == (ONE, price)  # the target opens at the agreed price
    assert exchange.collateral(maker) == coll + 50 * USDC
    assert exchange.collateral(other) == 1_000 * USDC
    assert _identity(exchange, usdc, accounts) == before
    digest = transfer_hash(t, _domain(exchange))
    assert [(l.source, l.target, l.market, l.size, l.price, l.transfer_hash) for l in
            tx.decode_logs(exchange.PositionTransferred)] == [(maker.address, other.address, ETH, ONE, price, digest)]


def _domain(exchange):
    from offchain.order import Domain
    return Domain(ape.chain.chain_id, exchange.address)


def test_transfer__caller_is_one_side__needs_only_the_other_signature(
    exchange, subs, other, sign_t, no_sig, one_eth_to_other
):
    maker, t = one_eth_to_other
    subs.transfer_position(t.as_tuple(), no_sig, sign_t(t, other), sender=maker)
    assert exchange.position(other, ETH)[0] == ONE


def test_transfer__short_position__negative_size(exchange, book, other, fund, create_transfer, relay):
    _, taker = book
    fund(other, 1_000 * USDC)
    t = create_transfer(taker, other, -ONE, PRICE - TICK)
    relay(t, taker, other, other)
    assert exchange.position(taker, ETH)[0] == -ONE
    assert exchange.position(other, ETH) == (-ONE, -(PRICE - TICK))


def test_transfer__owner_alone_between_own_accounts(exchange, subs, book, open_sub, create_transfer, no_sig):
    maker, _ = book
    sub = open_sub(maker)
    subs.move_collateral(maker, sub, 500 * USDC, sender=maker)
    t = create_transfer(maker, sub, ONE, PRICE)
    subs.transfer_position(t.as_tuple(), no_sig, no_sig, sender=maker)
    assert exchange.position(sub, ETH) == (ONE, PRICE)
    # relayed: the owner's one signature is consent for both of its accounts
    t2 = create_transfer(sub, maker, ONE, PRICE)
    from offchain.subaccounts import sign_transfer
    sig = sign_transfer(t2, _domain(exchange), maker.private_key).as_tuple()
    subs.transfer_position(t2.as_tuple(), sig, sig, sender=ape.accounts.test_accounts[12])
    assert exchange.position(sub, ETH) == (0, 0)
    assert exchange.position(maker, ETH) == (2 * ONE, 2 * PRICE)


def test_transfer__owners_agent_signs_for_sub(
    exchange, subs, book, open_sub, other, fund, stranger, create_transfer, relay
):
    maker, _ = book
    sub = open_sub(maker)
    subs.move_collateral(maker, sub, 500 * USDC, sender=maker)
    exchange.approve_agent(stranger, True, sender=maker)
    fund(other, 1_000 * USDC)
    t = create_transfer(maker, sub, ONE, PRICE)
    relay(t, stranger, stranger, other)
    assert exchange.position(sub, ETH)[0] == ONE


# ---------------------------------------------------------------- refusals

def test_transfer__one_signature_missing__reverts(subs, other, stranger, sign_t, no_sig, one_eth_to_other):
    maker, t = one_eth_to_other
    with ape.reverts("exchange: missing signature"):
        subs.transfer_position(t.as_tuple(), sign_t(t, maker), no_sig, sender=stranger)
    with ape.reverts("exchange: missing signature"):
        subs.transfer_position(t.as_tuple(), no_sig, sign_t(t, other), sender=stranger)


def test_transfer__foreign_signer__reverts(other, stranger, relay, one_eth_to_other):
    maker, t = one_eth_to_other
    with ape.reverts("exchange: bad signature"):
        relay(t, stranger, other, stranger)
    with ape.reverts("exchange: bad signature"):
        relay(t, maker, maker, stranger)


def test_transfer__replay__reverts(book, other, fund, stranger, create_transfer, relay):
    maker, _ = book
    fund(other, 1_000 * USDC)
    t = create_transfer(maker, other, LOT, PRICE)
    relay(t, maker, other, stranger)
    with ape.reverts("exchange: transfer used"):
        relay(t, maker, other, stranger)


def test_transfer__expired__reverts(chain, book, other, fund, stranger, create_transfer, relay):
    maker, _ = book
    fund(other, 1_000 * USDC)
    t = create_transfer(maker, other, ONE, PRICE, expiry=chain.pending_timestamp - 1)
    with ape.reverts("exchange: expired"):
        relay(t, maker, other, stranger)


def test_transfer__below_nonce_floor__reverts(exchange, book, other, fund, stranger, create_transfer, relay):
    maker, _ = book
    fund(other, 1_000 * USDC)
    t = create_transfer(maker, other, ONE, PRICE, nonce=5)
    exchange.cancel_all_below(6, sender=other)  # the target voids it
    with ape.reverts("exchange: nonce"):
        relay(t, maker, other, stranger)


@pytest.mark.parametrize("price", [PRICE * 95 // 100 - TICK, PRICE * 105 // 100 + TICK])
def test_transfer__price_outside_band__reverts(refused_to_other, price):
    refused_to_other(100_000 * USDC, ONE, price, "exchange: band")


def test_transfer__price_at_band_edge__settles(exchange, book, other, fund, stranger, create_transfer, relay):
    maker, _ = book
    fund(other, 1_000 * USDC)
    t = create_transfer(maker, other, ONE, PRICE * 95 // 100)
    relay(t, maker, other, stranger)
    assert exchange.position(other, ETH)[0] == ONE


def test_transfer__target_below_initial_margin__reverts(refused_to_other):
    refused_to_other(200 * USDC - 1, ONE, PRICE, "exchange: margin")  # initial margin of 1 ETH at 2,000: 200 USDC


def test_transfer__source_below_initial_margin_after__reverts(
    exchange, book, other, fund, stranger, create_transfer, set_price, relay
):
    # the band-edge attack: sell to a friend at mark -5% so the source's loss leaves it
    # below initial margin (its friend keeps the difference): refused
    maker, _ = book
    fund(other, 100_000 * USDC)
    exchange.withdraw(1_590 * USDC, sender=maker)  # collateral 410.8, 2 ETH long at 2,000
    set_price(1_900 * USDC)  # equity 210.8: below initial (380), above maintenance (190)
    t = create_transfer(maker, other, ONE, 1_805 * USDC)  # mark -5%: equity after 115.8 < 190
    with ape.reverts("exchange: margin"):
        relay(t, maker, other, stranger)
    # at the mark the same account de-risks: equity 210.8 >= initial 190 after
    t = create_transfer(maker, other, ONE, 1_900 * USDC)
    relay(t, maker, other, stranger)
    assert exchange.position(maker, ETH)[0] == ONE


def test_transfer__grows_or_flips_source__reverts(refused_to_other):
    for size in (-ONE, 3 * ONE):  # the wrong direction; more than the source holds
        refused_to_other(100_000 * USDC, size, PRICE, "exchange: no position")


def test_transfer__bad_lot_tick_market__reverts(subs, book, other, fund, stranger, create_transfer, sign_t):
    maker, _ = book
    fund(other, 100_000 * USDC)
    cases = [(create_transfer(maker, other, LOT + 1, PRICE), "exchange: bad lot"),
             (create_transfer(maker, other, ONE, PRICE + 1), "exchange: bad price"),
             (create_transfer(maker, other, ONE, 0), "exchange: bad price"),
             (create_transfer(maker, other, ONE, PRICE, market=9), "exchange: unknown market"),
             (create_transfer(maker, other, -(2**255), PRICE), "exchange: size"),
             (create_transfer(maker, maker, ONE, PRICE), "exchange: same account")]
    for t, reason in cases:
        with ape.reverts(reason):
            subs.transfer_position(t.as_tuple(), sign_t(t, maker), sign_t(t, t.to_account == maker.address and maker or other), sender=stranger)


def test_transfer__paused__reverts(exchange, other, stranger, pauser, relay, one_eth_to_other):
    maker, t = one_eth_to_other
    exchange.pause(sender=pauser)
    with ape.reverts("exchange: paused"):
        relay(t, maker, other, stranger)


def test_transfer__stale_or_halted_mark__reverts(exchange, oracle, admin, other, stranger, relay, one_eth_to_other):
    maker, t = one_eth_to_other
    oracle.halt(ETH, sender=admin)
    with ape.reverts("exchange: halted"):
        relay(t, maker, other, stranger)


def test_transfer__vault_guarded_account__restricted(exchange, other, stranger, relay, one_eth_to_other):
    maker, t = one_eth_to_other
    exchange.set_trade_guard(100, 0, sender=other)  # what a vault sets
    with ape.reverts("exchange: restricted"):
        relay(t, maker, other, stranger)


def test_transfer__contract_accounts_agent__cannot_consent(
    exchange, fund, maker, vault, manager, create_transfer, stranger, relay
):
    # a vault's manager key is the vault's agent for orders, never for moving its positions
    fund(maker, 2_000 * USDC)
    t = create_transfer(vault.address, maker, ONE, PRICE)
    with ape.reverts("exchange: bad signature"):
        relay(t, manager, maker, stranger)


def test_transfer__target_close_only_or_capped__reverts(exchange, other, stranger, relay, one_eth_to_other):
    maker, t = one_eth_to_other
    exchange.set_position_cap(ETH, ONE // 2, sender=other)
    with ape.reverts("exchange: position cap"):
        relay(t, maker, other, stranger)
    exchange.set_close_only(True, sender=other)
    with ape.reverts("exchange: close only"):
        relay(t, maker, other, stranger)
