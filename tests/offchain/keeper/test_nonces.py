"""One nonce manager per sending key: settle batches and runner txs (vault upkeep, claims)
interleave without handing one nonce out twice."""

from __future__ import annotations

import pytest

from offchain.keeper.chain import Chain, NonceManager, RpcError
from offchain.keeper.config import Contracts
from offchain.keeper.keys import Key
from offchain.order import address_of

from .helpers import EXCHANGE, KEYS, run


class FakeRpc:
    """eth_getTransactionCount('pending') = how many of our txs the node holds."""

    def __init__(self, pending=10):
        self.pending = pending
        self.sent: list = []

    async def call(self, method, params=None):
        if method == "eth_getTransactionCount":
            return hex(self.pending)
        raise AssertionError(method)


@pytest.mark.anyio
async def test_nonces__resync_while_others_allocated__never_hands_out_a_nonce_twice():
    rpc = FakeRpc(pending=10)
    nm = NonceManager(rpc, "0x" + "11" * 20)

    settle_a = await nm.allocate()      # 10: signed and journaling, not broadcast yet
    upkeep = await nm.allocate()        # 11: its send fails
    nm.release(upkeep)
    await nm.sync()                     # the node holds none of them yet: pending = 10
    settle_b = await nm.allocate()      # the free 11 again, not 10
    after = await nm.allocate()
    assert (settle_a, upkeep, settle_b, after) == (10, 11, 11, 12)


@pytest.mark.anyio
async def test_nonces__released_nonce_used_on_chain__dropped_at_sync():
    rpc = FakeRpc(pending=5)
    nm = NonceManager(rpc, "0x" + "11" * 20)

    n = await nm.allocate()
    nm.release(n)
    rpc.pending = 7  # something else took 5 and 6 (another process with the key)
    await nm.sync()
    result = await nm.allocate()
    assert result == 7


def test_nonces__operator_paths_share_one_manager():
    operator, reporter = Key(address_of(KEYS[0]), KEYS[0]), Key(address_of(KEYS[1]), KEYS[1])
    chain = Chain("http://127.0.0.1:1", Contracts(exchange=EXCHANGE), operator)
    assert chain.nonces_for(operator) is chain.nonces and chain.reporter_nonces is chain.nonces
    chain2 = Chain("http://127.0.0.1:1", Contracts(exchange=EXCHANGE), operator, reporter)
    assert chain2.nonces_for(reporter) is chain2.reporter_nonces is not chain2.nonces
    with pytest.raises(ValueError):
        chain2.nonces_for(Key(address_of(KEYS[2]), KEYS[2]))
    run(chain.close())
    run(chain2.close())


@pytest.mark.anyio
async def test_nonces__transact_send_rejected__nonce_reused_by_next_tx():
    operator = Key(address_of(KEYS[0]), KEYS[0])
    chain = Chain("http://127.0.0.1:1", Contracts(exchange=EXCHANGE), operator)
    chain.chain_id, chain.gas_price = 31337, 1
    rpc = FakeRpc(pending=3)
    chain.nonces.rpc = rpc
    sent: list[int] = []

    async def send_raw(raw):
        sent.append(raw)
        raise RpcError("eth_sendRawTransaction", {"message": "insufficient funds"})

    async def unknown(_tx_hash):
        return True

    chain.send_raw = send_raw
    chain.tx_unknown = unknown

    class Target:
        address = EXCHANGE

        class functions:
            @staticmethod
            def cancel_all_below(n):
                class F:
                    @staticmethod
                    def _encode_transaction_data():
                        return "0x12345678"
                return F

    with pytest.raises(RpcError):
        await chain.transact(operator, Target, "cancel_all_below", 1)
    result = await chain.nonces.allocate()
    assert result == 3 and len(sent) == 1
    await chain.close()
