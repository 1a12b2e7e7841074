import ape
import pytest


def test_set_max_move_bps__admin__updates(oracle, admin):
    tx = oracle.set_max_move_bps(250, sender=admin)
    assert oracle.max_move_bps() == 250
    assert tx.events == [oracle.MaxMoveSet(max_move_bps=250)]
    # the other fields of the packed config are untouched
    assert (oracle.max_age(), oracle.breaker_bps(), oracle.breaker_window()) == (60, 1_500, 300)


def test_set_max_age__admin__updates(oracle, admin):
    tx = oracle.set_max_age(3_600, sender=admin)
    assert oracle.max_age() == 3_600
    assert tx.events == [oracle.MaxAgeSet(max_age=3_600)]
    assert (oracle.max_move_bps(), oracle.breaker_bps(), oracle.breaker_window()) == (1_000, 1_500, 300)


def test_set_breaker__admin__updates(oracle, admin):
    tx = oracle.set_breaker(2_000, 600, sender=admin)
    assert (oracle.breaker_bps(), oracle.breaker_window()) == (2_000, 600)
    assert tx.events == [oracle.BreakerSet(breaker_bps=2_000, breaker_window=600)]
    assert (oracle.max_move_bps(), oracle.max_age()) == (1_000, 60)


def test_config__bounds__accepted(oracle, admin):
    oracle.set_max_move_bps(oracle.MIN_MOVE_BPS(), sender=admin)
    oracle.set_max_move_bps(oracle.MAX_MOVE_BPS(), sender=admin)
    oracle.set_max_age(oracle.MAX_MAX_AGE(), sender=admin)
    oracle.set_breaker(oracle.MAX_MOVE_BPS(), oracle.MAX_BREAKER_WINDOW(), sender=admin)
    assert oracle.max_move_bps() == 5_000
    assert oracle.max_age() == 86_400
    assert oracle.breaker_window() == 86_400


@pytest.mark.parametrize(
    "call, args, reason",
    [
        ("set_max_move_bps", (0,), "oracle: bad max move"),
        ("set_max_move_bps", (5_001,), "oracle: bad max move"),
        ("set_max_age", (0,), "oracle: bad max age"),
        ("set_max_age", (86_401,), "oracle: bad max age"),
        ("set_breaker", (0, 300), "oracle: bad breaker bps"),
        ("set_breaker", (5_001, 300), "oracle: bad breaker bps"),
        ("set_breaker", (1_500, 0), "oracle: bad breaker window"),
        ("set_breaker", (1_500, 86_401), "oracle: bad breaker window"),
    ],
)
def test_config__out_of_bounds__reverts(oracle, admin, call, args, reason):
    with ape.reverts(reason):
        getattr(oracle, call)(*args, sender=admin)


@pytest.mark.parametrize("call, args", [("set_max_move_bps", (100,)), ("set_max_age", (10,)), ("set_breaker", (100, 10))])
def test_config__not_admin__reverts(oracle, reporter, guardian, call, args):
    for account in (reporter, guardian):
        with ape.reverts("oracle: not admin"):
            getattr(oracle, call)(*args, sender=account)
