"""The devnet's anvil answers from its own process, whatever took its port first."""

import pytest

from offchain import devnet
from offchain.devnet import Anvil, listener_pid


def owned_by(node: Anvil) -> bool:
    import os

    return os.getpgid(listener_pid(node.port)) == node._process.pid


def test_anvil_start__picked_port_taken_meanwhile__starts_on_another_and_answers_itself(monkeypatch):
    with Anvil(accounts=1) as squatter:  # a node someone else started, on the port we will pick
        picks = iter([squatter.port])
        real = devnet.free_port
        monkeypatch.setattr(devnet, "free_port", lambda host="127.0.0.1": next(picks, None) or real(host))
        node = Anvil(accounts=1).start()
        try:
            assert node.port != squatter.port and owned_by(node)
            assert node.rpc("eth_accounts") and node.rpc("eth_blockNumber") == "0x0"
        finally:
            node.stop()
        assert owned_by(squatter)  # the other node is untouched


def test_anvil_start__asked_for_a_taken_port__refused_not_answered_by_the_other_node():
    with Anvil(accounts=1) as squatter:
        with pytest.raises(RuntimeError, match=f"anvil exited .*port {squatter.port}"):
            Anvil(accounts=1, port=squatter.port).start(timeout=30)


def test_listener_pid__nobody_listens__zero():
    assert listener_pid(devnet.free_port()) == 0
