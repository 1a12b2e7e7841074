"""Senders put headroom on the node's gas estimate (offchain.gas): a transaction sent with
the bare estimate can pass the estimate and still run out of gas when mined."""

import pytest

from offchain.artifacts import abi
from offchain.deploy import Web3Deployer
from offchain.gas import gas_limit
from tests.constants import USDC


pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def funded_lp(devnet):
    w3, keys, _, d = devnet
    admin, lp = Web3Deployer(w3, keys[0]), Web3Deployer(w3, keys[6])
    admin.transact("TestUSDC", d.usdc, "mint", lp.address, 100_000 * USDC)
    lp.transact("TestUSDC", d.usdc, "approve", d.pool, 100_000 * USDC)
    pool = w3.eth.contract(address=d.pool, abi=abi("LiquidityPool"))
    lp.send_call(pool.functions.deposit(10 * USDC))
    return w3, lp, pool


def test_gas_limit__headroom__estimate_plus_a_fifth_plus_50k():
    assert gas_limit(100_000) == 170_000
    assert gas_limit(0) == 50_000


def test_send__bare_estimate__runs_out_of_gas_and_says_so(funded_lp):
    w3, lp, pool = funded_lp
    call = pool.functions.deposit(10 * USDC)
    # estimated in the second of the pool's last sync, mined in the next one
    synced = w3.eth.get_block("latest")["timestamp"]
    w3.provider.make_request("evm_setNextBlockTimestamp", [synced])
    bare = w3.eth.estimate_gas({"from": lp.address, "to": pool.address, "data": call._encode_transaction_data()})
    w3.provider.make_request("evm_setNextBlockTimestamp", [synced + 1])
    with pytest.raises(RuntimeError, match=rf"gas used {bare} of {bare}; trace: .*out of gas"):
        lp.send_call(call, gas=bare)


def test_send_call__no_gas_given__estimate_with_headroom_settles(funded_lp):
    w3, lp, pool = funded_lp
    call = pool.functions.deposit(10 * USDC)
    # one block time for the estimate here and the one send_call makes
    w3.provider.make_request("evm_setNextBlockTimestamp", [w3.eth.get_block("latest")["timestamp"] + 5])
    estimate = w3.eth.estimate_gas({"from": lp.address, "to": pool.address, "data": call._encode_transaction_data()})
    before = pool.functions.balanceOf(lp.address).call()
    receipt = lp.send_call(call)
    assert receipt["status"] == 1
    assert w3.eth.get_transaction(receipt["transactionHash"])["gas"] == gas_limit(estimate)
    assert pool.functions.balanceOf(lp.address).call() > before
    assert pool.events.Deposit().process_receipt(receipt)[0]["args"]["assets"] == 10 * USDC
