import ape

from .conftest import BTC, BTC_PRICE, ETH


def test_halt__guardian__halts(priced_oracle, guardian):
    tx = priced_oracle.halt(BTC, sender=guardian)
    assert priced_oracle.price_info(BTC)[2]
    assert tx.events == [
        priced_oracle.Halted(market=BTC, reason="guardian", price=BTC_PRICE, window_ref=BTC_PRICE, account=guardian)
    ]


def test_halt__market_without_price__halts(oracle, guardian):
    oracle.halt(ETH, sender=guardian)
    assert oracle.price_info(ETH) == (0, 0, True)


def test_halt__already_halted__reverts(priced_oracle, guardian):
    priced_oracle.halt(BTC, sender=guardian)
    with ape.reverts("oracle: halted"):
        priced_oracle.halt(BTC, sender=guardian)


def test_halt__not_guardian__reverts(priced_oracle, admin, reporter, stranger):
    for account in (admin, reporter, stranger):
        with ape.reverts("oracle: not guardian"):
            priced_oracle.halt(BTC, sender=account)


def test_resume__guardian__resumes_and_resets_window(chain, priced_oracle, guardian, reporter):
    priced_oracle.halt(BTC, sender=guardian)
    new = BTC_PRICE * 3
    priced_oracle.set_price(BTC, new, sender=reporter)
    tx = priced_oracle.resume(BTC, sender=guardian)
    assert priced_oracle.price_info(BTC)[2] is False
    state = priced_oracle.market_state(BTC)
    assert (state.window_ref, state.window_start) == (new, tx.timestamp)
    assert tx.events == [priced_oracle.Resumed(market=BTC, price=new, account=guardian)]


def test_resume__not_halted__reverts(priced_oracle, guardian):
    with ape.reverts("oracle: not halted"):
        priced_oracle.resume(BTC, sender=guardian)


def test_resume__not_guardian__reverts(priced_oracle, guardian, stranger):
    priced_oracle.halt(BTC, sender=guardian)
    with ape.reverts("oracle: not guardian"):
        priced_oracle.resume(BTC, sender=stranger)


def test_halt__keeps_price_and_timestamp(priced_oracle, guardian):
    before = priced_oracle.price_info(BTC)
    priced_oracle.halt(BTC, sender=guardian)
    assert priced_oracle.price_info(BTC) == (before[0], before[1], True)
