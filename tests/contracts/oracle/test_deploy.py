import ape
import pytest

from .conftest import BREAKER_BPS, BREAKER_WINDOW, MAX_AGE, MAX_MOVE_BPS


def test_deploy__config_and_roles(create_oracle, admin, reporter, guardian):
    oracle = create_oracle()
    assert oracle.max_move_bps() == MAX_MOVE_BPS
    assert oracle.max_age() == MAX_AGE
    assert oracle.breaker_bps() == BREAKER_BPS
    assert oracle.breaker_window() == BREAKER_WINDOW
    assert oracle.hasRole(oracle.DEFAULT_ADMIN_ROLE(), admin)
    assert oracle.hasRole(oracle.REPORTER_ROLE(), reporter)
    assert oracle.hasRole(oracle.GUARDIAN_ROLE(), guardian)
    assert not oracle.hasRole(oracle.REPORTER_ROLE(), admin)
    assert not oracle.hasRole(oracle.GUARDIAN_ROLE(), admin)


def test_deploy__events(create_oracle):
    oracle = create_oracle(grant=False)
    events = oracle.creation_metadata.receipt.events
    assert events.filter(oracle.MaxMoveSet) == [oracle.MaxMoveSet(max_move_bps=MAX_MOVE_BPS)]
    assert events.filter(oracle.MaxAgeSet) == [oracle.MaxAgeSet(max_age=MAX_AGE)]
    assert events.filter(oracle.BreakerSet) == [
        oracle.BreakerSet(breaker_bps=BREAKER_BPS, breaker_window=BREAKER_WINDOW)
    ]


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(max_move_bps=0), "oracle: bad max move"),
        (dict(max_move_bps=5_001), "oracle: bad max move"),
        (dict(max_age=0), "oracle: bad max age"),
        (dict(max_age=86_401), "oracle: bad max age"),
        (dict(breaker_bps=0), "oracle: bad breaker bps"),
        (dict(breaker_window=0), "oracle: bad breaker window"),
        (dict(breaker_window=86_401), "oracle: bad breaker window"),
    ],
)
def test_deploy__bad_config__reverts(create_oracle, kwargs, reason):
    with ape.reverts(reason):
        create_oracle(grant=False, **kwargs)


def test_price_info__unknown_market__zero(oracle):
    assert oracle.price_info(12345) == (0, 0, False)
