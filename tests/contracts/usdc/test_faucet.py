import ape
import pytest
from hypothesis import given, settings, strategies as st
from tests.constants import USDC, ZERO



def test_faucet__mints_to_caller(usdc, alice):
    tx = usdc.faucet(500 * USDC, sender=alice)
    assert usdc.balanceOf(alice) == 500 * USDC
    assert usdc.totalSupply() == 500 * USDC
    assert tx.events == [
        usdc.Transfer(sender=ZERO, receiver=alice, value=500 * USDC),
        usdc.Faucet(receiver=alice, amount=500 * USDC),
    ]


def test_faucet__cap_exactly__ok(usdc, alice):
    usdc.faucet(usdc.FAUCET_MAX(), sender=alice)
    assert usdc.balanceOf(alice) == usdc.FAUCET_MAX()


def test_faucet__above_cap__reverts(usdc, alice):
    with ape.reverts("usdc: faucet cap"):
        usdc.faucet(usdc.FAUCET_MAX() + 1, sender=alice)


def test_faucet__zero__reverts(usdc, alice):
    with ape.reverts("usdc: zero amount"):
        usdc.faucet(0, sender=alice)


def test_faucet__closed__reverts(usdc, admin, alice):
    tx = usdc.set_faucet_open(False, sender=admin)
    assert tx.events == [usdc.FaucetOpenSet(is_open=False)]
    with ape.reverts("usdc: faucet closed"):
        usdc.faucet(1, sender=alice)
    usdc.set_faucet_open(True, sender=admin)
    usdc.faucet(1, sender=alice)
    assert usdc.balanceOf(alice) == 1


def test_set_faucet_open__not_owner__reverts(usdc, stranger):
    with ape.reverts("usdc: not owner"):
        usdc.set_faucet_open(False, sender=stranger)


def test_set_faucet_open__unchanged__reverts(usdc, admin):
    with ape.reverts("usdc: unchanged"):
        usdc.set_faucet_open(True, sender=admin)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(amounts=st.lists(st.integers(1, 1_000_000 * USDC), min_size=1, max_size=4))
def test_faucet__repeated_calls__balance_is_sum(chain, isolated, usdc, alice, amounts):
    with isolated():  # not chain.isolate(): it swallows assertion errors
        for amount in amounts:
            usdc.faucet(amount, sender=alice)
        assert usdc.balanceOf(alice) == sum(amounts)
