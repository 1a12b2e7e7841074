import ape

from .conftest import BTC, BTC_PRICE, ETH

MAX_PRICE = 2**88 - 1


def test_set_price__first_price__stored(oracle, reporter):
    tx = oracle.set_price(BTC, BTC_PRICE, sender=reporter)
    assert oracle.price_info(BTC) == (BTC_PRICE, tx.timestamp, False)
    assert tx.events == [oracle.PriceUpdated(market=BTC, price=BTC_PRICE, updated_at=tx.timestamp)]
    state = oracle.market_state(BTC)
    assert state.window_ref == BTC_PRICE
    assert state.window_start == tx.timestamp


def test_set_price__first_price__any_size(oracle, reporter):
    oracle.set_price(BTC, BTC_PRICE, sender=reporter)
    tx = oracle.set_price(ETH, 1, sender=reporter)  # no previous price: no move check
    assert oracle.price_info(ETH)[0] == 1
    assert tx.events == [oracle.PriceUpdated(market=ETH, price=1, updated_at=tx.timestamp)]


def test_set_price__move_within_limit__stored(priced_oracle, reporter):
    new = BTC_PRICE * 109 // 100  # +9% < 10%
    tx = priced_oracle.set_price(BTC, new, sender=reporter)
    assert priced_oracle.price_info(BTC) == (new, tx.timestamp, False)
    assert tx.events == [priced_oracle.PriceUpdated(market=BTC, price=new, updated_at=tx.timestamp)]


def test_set_price__move_exactly_limit__stored(priced_oracle, reporter):
    down = BTC_PRICE * 90 // 100  # -10% exactly
    priced_oracle.set_price(BTC, down, sender=reporter)
    assert priced_oracle.price_info(BTC)[0] == down


def test_set_price__move_too_large__reverts(priced_oracle, reporter):
    with ape.reverts("oracle: move too large"):
        priced_oracle.set_price(BTC, BTC_PRICE * 110 // 100 + 1, sender=reporter)
    with ape.reverts("oracle: move too large"):
        priced_oracle.set_price(BTC, BTC_PRICE * 90 // 100 - 1, sender=reporter)


def test_set_price__zero__reverts(oracle, reporter):
    with ape.reverts("oracle: zero price"):
        oracle.set_price(BTC, 0, sender=reporter)


def test_set_price__too_large__reverts(oracle, reporter):
    oracle.set_price(BTC, MAX_PRICE, sender=reporter)
    assert oracle.price_info(BTC)[0] == MAX_PRICE
    with ape.reverts("oracle: price too large"):
        oracle.set_price(ETH, MAX_PRICE + 1, sender=reporter)


def test_set_price__not_reporter__reverts(oracle, stranger, guardian, admin):
    for account in (stranger, guardian, admin):
        with ape.reverts("oracle: not reporter"):
            oracle.set_price(BTC, BTC_PRICE, sender=account)


def test_set_price__revoked_reporter__reverts(oracle, admin, reporter):
    oracle.revokeRole(oracle.REPORTER_ROLE(), reporter, sender=admin)
    with ape.reverts("oracle: not reporter"):
        oracle.set_price(BTC, BTC_PRICE, sender=reporter)


def test_set_price__markets_independent(priced_oracle, reporter):
    priced_oracle.set_price(ETH, 3_000 * 10**6, sender=reporter)
    assert priced_oracle.price_info(BTC)[0] == BTC_PRICE
    assert priced_oracle.price_info(ETH)[0] == 3_000 * 10**6


def test_set_price__gas__bounded(priced_oracle, reporter):
    tx = priced_oracle.set_price(BTC, BTC_PRICE + 1, sender=reporter)
    print(f"gas_oracle_update: {tx.gas_used}")
    assert tx.gas_used < 36_000
