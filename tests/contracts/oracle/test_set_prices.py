import ape

from .conftest import BTC, BTC_PRICE, ETH

SOL = 3


def test_set_prices__all_valid__stored(oracle, reporter):
    args = ([BTC, ETH, SOL], [BTC_PRICE, 3_000 * 10**6, 150 * 10**6])
    assert oracle.set_prices.call(*args, sender=reporter) == 3
    tx = oracle.set_prices(*args, sender=reporter)
    assert oracle.price_info(BTC) == (BTC_PRICE, tx.timestamp, False)
    assert oracle.price_info(ETH)[0] == 3_000 * 10**6
    assert oracle.price_info(SOL)[0] == 150 * 10**6
    assert tx.events == [
        oracle.PriceUpdated(market=BTC, price=BTC_PRICE, updated_at=tx.timestamp),
        oracle.PriceUpdated(market=ETH, price=3_000 * 10**6, updated_at=tx.timestamp),
        oracle.PriceUpdated(market=SOL, price=150 * 10**6, updated_at=tx.timestamp),
    ]


def test_set_prices__bad_entries__skipped_with_event(priced_oracle, reporter):
    too_far = BTC_PRICE * 2
    args = ([BTC, ETH, SOL, SOL], [too_far, 0, 2**88, 150 * 10**6])
    assert priced_oracle.set_prices.call(*args, sender=reporter) == 1
    tx = priced_oracle.set_prices(*args, sender=reporter)
    assert priced_oracle.price_info(BTC)[0] == BTC_PRICE
    assert priced_oracle.price_info(ETH)[0] == 0
    assert priced_oracle.price_info(SOL)[0] == 150 * 10**6
    assert tx.events == [
        priced_oracle.PriceRejected(market=BTC, price=too_far, reason="move too large"),
        priced_oracle.PriceRejected(market=ETH, price=0, reason="zero price"),
        priced_oracle.PriceRejected(market=SOL, price=2**88, reason="price too large"),
        priced_oracle.PriceUpdated(market=SOL, price=150 * 10**6, updated_at=tx.timestamp),
    ]


def test_set_prices__same_market_twice__sees_first(oracle, reporter):
    assert oracle.set_prices.call([BTC, BTC], [BTC_PRICE, BTC_PRICE * 2], sender=reporter) == 1
    oracle.set_prices([BTC, BTC], [BTC_PRICE, BTC_PRICE * 2], sender=reporter)
    assert oracle.price_info(BTC)[0] == BTC_PRICE


def test_set_prices__length_mismatch__reverts(oracle, reporter):
    with ape.reverts("oracle: length mismatch"):
        oracle.set_prices([BTC, ETH], [BTC_PRICE], sender=reporter)


def test_set_prices__not_reporter__reverts(oracle, stranger):
    with ape.reverts("oracle: not reporter"):
        oracle.set_prices([BTC], [BTC_PRICE], sender=stranger)


def test_set_prices__breaker__halts_one_market(priced_oracle, reporter):
    p1 = BTC_PRICE * 109 // 100
    priced_oracle.set_price(BTC, p1, sender=reporter)
    p2 = p1 * 109 // 100
    tx = priced_oracle.set_prices([BTC, ETH], [p2, 3_000 * 10**6], sender=reporter)
    assert priced_oracle.price_info(BTC)[2]
    assert not priced_oracle.price_info(ETH)[2]
    assert tx.events.filter(priced_oracle.Halted) == [
        priced_oracle.Halted(market=BTC, reason="breaker", price=p2, window_ref=BTC_PRICE, account=reporter)
    ]
