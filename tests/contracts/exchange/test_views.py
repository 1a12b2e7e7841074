"""Views: hash_order == offchain.order.order_hash (hypothesis), domain, equity, margin."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.order import Domain, Order, order_hash
from tests.constants import ETH, ETH_PRICE, ONE, USDC

uint256 = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(account=addresses, market=uint256, is_buy=st.booleans(), price=uint256, size=uint256, nonce=uint256, expiry=uint256, flags=uint256)
def test_hash_order__equals_python_order_hash(exchange, chain, account, market, is_buy, price, size, nonce, expiry, flags):
    order = Order(account, market, is_buy, price, size, nonce, expiry, flags)
    assert exchange.hash_order(order.as_tuple()) == order_hash(order, Domain(chain.chain_id, exchange.address))


def test_domain_separator__matches_python(exchange, chain):
    assert exchange.domain_separator() == Domain(chain.chain_id, exchange.address).separator


def test_views__fresh_account__zeroes(exchange, stranger):
    assert exchange.collateral(stranger) == 0
    assert exchange.equity(stranger) == 0
    assert exchange.margin_requirement(stranger, True) == 0
    assert exchange.free_collateral(stranger) == 0
    assert exchange.position(stranger, ETH) == (0, 0)
    assert exchange.min_nonce(stranger) == 0
    assert exchange.fees_accrued() == 0


def test_views__equity_and_margin_at_mark(exchange, fund, maker, taker, create_order, create_fill, operator, oracle, admin):
    fund(maker, 10_000 * USDC)
    fund(taker, 10_000 * USDC)
    exchange.settle([create_fill(create_order(maker, False), create_order(taker, True))], sender=operator)
    oracle.set_price(ETH, 2_100 * USDC, sender=admin)
    coll = 10_000 * USDC - 1 * USDC
    assert exchange.collateral(taker) == coll
    assert exchange.equity(taker) == coll + 100 * USDC
    assert exchange.margin_requirement(taker, True) == 210 * USDC
    assert exchange.margin_requirement(taker, False) == 105 * USDC
    assert exchange.free_collateral(taker) == coll + 100 * USDC - 210 * USDC
    assert exchange.equity(maker) == 10_000 * USDC + 400_000 - 100 * USDC


def test_views__roles_and_addresses(exchange, usdc, oracle, rebate, treasury, operator, pauser, admin):
    assert exchange.usdc() == usdc.address
    assert exchange.oracle() == oracle.address
    assert exchange.rebate_engine() == rebate.address
    assert exchange.treasury() == treasury.address
    assert exchange.hasRole(exchange.OPERATOR_ROLE(), operator)
    assert exchange.hasRole(exchange.PAUSER_ROLE(), pauser)
    assert exchange.hasRole(exchange.DEFAULT_ADMIN_ROLE(), admin)
    assert exchange.liquidation_penalty_bps() == 100


def test_exchange__code_size_under_eip170(exchange, chain):
    assert len(chain.provider.get_code(exchange.address)) <= 24_576
