import ape
import pytest
from tests.constants import ONE

GRID, QUOTE, DELTA, CUSTOM = 1, 2, 3, 4


def cfg(kind=0, market=1, levels=0, lower=0, upper=0, spacing=0, size=0, spread=0, hedge=0, custom=b""):
    return (kind, market, levels, lower, upper, spacing, size, spread, hedge, custom)


@pytest.mark.parametrize(
    "config",
    [
        cfg(GRID, levels=10, spacing=25, size=ONE),
        cfg(GRID, levels=20, lower=1_800 * 10**6, upper=2_200 * 10**6, size=ONE // 10),
        cfg(QUOTE, levels=3, spread=10, size=2 * ONE),
        cfg(DELTA, hedge=5 * ONE),
        cfg(CUSTOM, custom=b"\x01twap:300"),
        cfg(),
    ],
)
def test_set_strategy__manager__stored_and_event(vault, manager, config):
    receipt = vault.set_strategy(config, sender=manager)
    s = vault.strategy()
    assert (s.kind, s.market, s.levels, s.lower_price, s.upper_price, s.spacing_bps, s.size_per_level,
            s.spread_bps, s.hedge_threshold, bytes(s.custom)) == config
    assert receipt.events.filter(vault.StrategyChanged) == [
        vault.StrategyChanged(
            manager=manager.address, kind=config[0], market=config[1], levels=config[2], lower_price=config[3],
            upper_price=config[4], spacing_bps=config[5], size_per_level=config[6], spread_bps=config[7],
            hedge_threshold=config[8], custom=config[9],
        )
    ]


@pytest.mark.parametrize(
    "config, reason",
    [
        (cfg(GRID, levels=0, spacing=25, size=ONE), "vault: levels"),
        (cfg(GRID, levels=201, spacing=25, size=ONE), "vault: levels"),
        (cfg(GRID, levels=5, spacing=25, size=0), "vault: size"),
        (cfg(GRID, levels=5, spacing=0, size=ONE), "vault: spacing"),
        (cfg(GRID, levels=5, lower=2, upper=1, size=ONE), "vault: range"),
        (cfg(QUOTE, levels=1, spread=0, size=ONE), "vault: spread"),
        (cfg(QUOTE, levels=1, spread=10, size=0), "vault: size"),
        (cfg(DELTA, hedge=0), "vault: hedge threshold"),
        (cfg(5), "vault: kind"),
    ],
)
def test_set_strategy__invalid__reverts(vault, manager, config, reason):
    with ape.reverts(reason):
        vault.set_strategy(config, sender=manager)


def test_set_strategy__not_manager__reverts(vault, owner, stranger):
    for who in (owner, stranger):
        with ape.reverts("vault: not manager"):
            vault.set_strategy(cfg(), sender=who)
