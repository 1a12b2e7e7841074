"""The devnet's anvil answers from its own process, whatever took its port first."""

import os

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


def test_anvil__defaults__cancun_and_its_state_cache_removed_on_stop():
    node = Anvil(accounts=1).start()
    cache = node._cache_dir
    try:
        assert node.rpc("anvil_nodeInfo")["hardFork"] == "Cancun"
        assert cache is not None and os.path.isdir(cache)
    finally:
        node.stop()
    assert not os.path.exists(cache)  # not left in ~/.foundry/anvil/tmp, or anywhere


@pytest.mark.parametrize("history", [4, None])
def test_anvil__history__old_state_kept_only_without_a_limit(history):
    with Anvil(accounts=1, history=history) as node:
        for _ in range(12):
            node.rpc("evm_mine")
        account = node.rpc("eth_accounts")[0]
        assert int(node.rpc("eth_getBalance", [account, hex(10)]), 16) > 0  # within the last 4
        if history is None:
            assert int(node.rpc("eth_getBalance", [account, "0x1"]), 16) > 0
        else:
            with pytest.raises(RuntimeError, match="BlockOutOfRange"):
                node.rpc("eth_getBalance", [account, "0x1"])


def test_listen_socket__port_zero__bound_and_listening_by_this_process_until_closed():
    import errno
    import os
    import socket

    sock = devnet.listen_socket()
    port = sock.getsockname()[1]
    try:
        assert port != 0 and listener_pid(port) in (os.getpid(), None)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # listening already: a client before the server starts waits in the backlog
        with pytest.raises(OSError) as info:  # nobody else can take it meanwhile
            devnet.listen_socket(port=port).close()
        assert info.value.errno == errno.EADDRINUSE
    finally:
        sock.close()
    assert listener_pid(port) == 0
