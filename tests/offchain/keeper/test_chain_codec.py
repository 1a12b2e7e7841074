import time

from web3 import Web3

from offchain.artifacts import abi
from offchain.keeper.chain import encode_settle, event_topics
from offchain.order import sign_order

from .helpers import DOMAIN, KEYS, order


def test_encode_settle__same_bytes_as_web3_encoder():
    fills = []
    for n in range(5):
        m, t = order(0, True, nonce=n, flags=n % 2), order(1, False, nonce=n + 100)
        fills.append((m, sign_order(m, DOMAIN, KEYS[0]), t, sign_order(t, DOMAIN, KEYS[1]), 10**15 * (n + 1)))
    ex = Web3().eth.contract(address="0x5FbDB2315678afecb367f032d93F642f64180aa3", abi=abi("Exchange"))
    reference = ex.functions.settle(
        [(m.as_tuple(), ms.as_tuple(), t.as_tuple(), ts.as_tuple(), size) for m, ms, t, ts, size in fills]
    )._encode_transaction_data()
    assert "0x" + encode_settle(fills).hex() == reference


def test_event_topics__fill_events_present():
    topics = event_topics(abi("Exchange"))
    assert topics["FillSettled"] == "0x" + Web3.keccak(
        text="FillSettled(bytes32,bytes32,uint256,address,address,bool,uint256,uint256,uint256,uint256,int256,int256)").hex().removeprefix("0x")
    assert "FillSkipped" in topics and "OrderCancelled" in topics
