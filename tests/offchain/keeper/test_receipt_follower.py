"""offchain.keeper.chain.ReceiptFollower: receipts by block, polling that backs off while
no block comes and resets when one comes or a new tx is expected."""

import asyncio

from offchain.keeper.chain import ReceiptFollower


class FakeRpc:
    """A node whose head moves only when the test mines; counts eth_blockNumber polls."""

    def __init__(self) -> None:
        self.head = 10
        self.blocks: dict[int, list[dict]] = {}
        self.polls = 0

    def mine(self, *tx_hashes: str) -> None:
        self.head += 1
        self.blocks[self.head] = [{"transactionHash": h, "status": "0x1"} for h in tx_hashes]

    async def call(self, method, params=None):
        assert method == "eth_blockNumber"
        self.polls += 1
        return hex(self.head)

    async def batch(self, calls):
        return [self.blocks.get(int(params[0], 16), []) for _, params in calls]


def test_follower__no_new_block__polls_back_off_to_max_poll():
    async def scenario():
        rpc = FakeRpc()
        follower = ReceiptFollower(rpc, poll=0.005, max_poll=0.05)
        follower.expect("0xaa")
        await asyncio.sleep(0.5)
        polls = rpc.polls
        rpc.mine("0xAA")
        receipt = await follower.wait("0xaa", timeout=1.0)
        return polls, receipt

    polls, receipt = asyncio.run(scenario())
    # at a fixed 5 ms that would be ~100 polls; backing off: 5, 10, 20, 40, then 50 ms
    assert polls <= 15
    assert receipt == {"transactionHash": "0xAA", "status": "0x1"}


def test_follower__new_tx_expected__polls_again_at_once():
    async def scenario():
        rpc = FakeRpc()
        follower = ReceiptFollower(rpc, poll=0.005, max_poll=10.0)
        follower.expect("0x01")
        await asyncio.sleep(0.3)  # backed off far beyond the test's wait below
        rpc.mine("0x02")
        follower.expect("0x02")  # the kick: polled now, not after the backed-off delay
        # within the timeout (below wait's 2 s per-tx fallback) only the kicked poll finds it
        return await follower.wait("0x02", timeout=1.5)

    receipt = asyncio.run(scenario())
    assert receipt == {"transactionHash": "0x02", "status": "0x1"}
