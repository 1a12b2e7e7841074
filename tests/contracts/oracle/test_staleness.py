from .conftest import BTC, BTC_PRICE, MAX_AGE


def test_is_fresh__within_max_age__true(chain, priced_oracle):
    updated_at = priced_oracle.price_info(BTC)[1]
    chain.mine(timestamp=updated_at + MAX_AGE)
    assert priced_oracle.is_fresh(BTC)


def test_is_fresh__older_than_max_age__false(chain, priced_oracle):
    updated_at = priced_oracle.price_info(BTC)[1]
    chain.mine(timestamp=updated_at + MAX_AGE + 1)
    assert not priced_oracle.is_fresh(BTC)
    # The price itself is still reported; the reader decides.
    assert priced_oracle.price_info(BTC) == (BTC_PRICE, updated_at, False)


def test_is_fresh__halted__false(priced_oracle, guardian):
    priced_oracle.halt(BTC, sender=guardian)
    assert not priced_oracle.is_fresh(BTC)


def test_is_fresh__no_price__false(oracle):
    assert not oracle.is_fresh(BTC)


def test_max_age__follows_admin(oracle, admin):
    oracle.set_max_age(120, sender=admin)
    assert oracle.max_age() == 120
