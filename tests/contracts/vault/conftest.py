"""Fixtures for the Vault tests: the vault folders' stack (VAULT_STACK), a position opener
and a Python model of the share arithmetic."""
import pytest

from tests.constants import BPS, USDC, VAULT_STACK

VIRTUAL_SHARES = 10**6
PRICE_SCALE = 10**18


class VaultModel:
    """Exact model of the vault's share and profit-share arithmetic."""

    def __init__(self, profit_share_bps, manager=None):
        self.psb = profit_share_bps
        self.manager = manager
        self.assets = 0
        self.supply = 0
        self.bal = {}
        self.hwm = {}

    def deposit(self, who, amount):
        shares = amount * (self.supply + VIRTUAL_SHARES) // (self.assets + 1)
        self.supply += shares
        self.assets += amount
        self.bal[who] = self.bal.get(who, 0) + shares
        self.hwm[who] = self.hwm.get(who, 0) + amount
        return shares

    def profit(self, amount):
        self.assets += amount

    def withdraw(self, who, shares):
        value = shares * (self.assets + 1) // (self.supply + VIRTUAL_SHARES)
        basis = self.hwm[who] * shares // self.bal[who]
        fee = 0 if value <= basis or who == self.manager else (value - basis) * self.psb // BPS
        self.hwm[who] -= basis
        self.bal[who] -= shares
        self.supply -= shares
        self.assets -= value
        return value - fee, fee


@pytest.fixture(scope="module")
def contract_stack():
    return VAULT_STACK


@pytest.fixture(scope="module")
def vault_model():
    return VaultModel


@pytest.fixture(scope="module")
def open_position(fund, exchange, taker, manager, trade):
    """The vault (maker, signed by its manager agent) trades `size` against `taker`."""

    def open_position(vault, size, is_buy=True, price=None, signer=None, maker_flags=0):
        fund(taker, 10_000_000 * USDC, spender=exchange)
        exchange.deposit(10_000_000 * USDC, sender=taker)
        kwargs = {} if price is None else {"price": price}
        return trade(vault, signer or manager, taker, taker, is_buy, size, maker_flags=maker_flags, **kwargs)

    return open_position


@pytest.fixture(scope="module")
def after_lockup(chain):
    def travel(seconds=86_400):
        chain.pending_timestamp += seconds + 1
        chain.mine()

    return travel

