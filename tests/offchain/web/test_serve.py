"""offchain.web.server.serve: uvicorn in a thread on a socket bound before it starts."""

from __future__ import annotations

import errno
import os

import httpx
import pytest
from fastapi import FastAPI

from offchain.devnet import listen_socket, listener_pid
from offchain.web.server import serve


def app() -> FastAPI:
    a = FastAPI()

    @a.get("/ping")
    def ping() -> dict:
        return {"pong": True}

    return a


def test_serve__port_zero__answers_from_this_process_on_the_os_pick():
    with serve(app()) as url:
        port = int(url.rsplit(":", 1)[1])
        assert port != 0 and listener_pid(port) in (os.getpid(), None)
        assert httpx.get(url + "/ping", timeout=10).json() == {"pong": True}
    assert listener_pid(port) == 0  # closed with the server


def test_serve__port_taken__refused_at_once_not_served_by_the_other():
    squatter = listen_socket()
    try:
        with pytest.raises(OSError) as info:
            with serve(app(), squatter.getsockname()[1]):
                pass
        assert info.value.errno == errno.EADDRINUSE
    finally:
        squatter.close()
