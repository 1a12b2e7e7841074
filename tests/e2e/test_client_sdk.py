"""The sync SDK against a keeper on anvil: place, batch, cancel, cancel-all, stream, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from offchain.client import KeeperClient, KeeperError
from offchain.keeper.service import Keeper

from .keeper_helpers import key, keeper_config

pytestmark = pytest.mark.e2e
PRICE = 2_000 * 10**6


@pytest.fixture(scope="module")
def keeper_url(session_stack, tmp_path_factory):
    stack = session_stack
    loop = asyncio.new_event_loop()
    cfg = keeper_config(stack, tmp_path_factory.mktemp("sdk") / "k.db")
    keeper = Keeper(cfg, operator=key(stack.operator_key))
    loop.run_until_complete(keeper.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield keeper.url
    asyncio.run_coroutine_threadsafe(keeper.stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_sdk__place_cancel_and_cancel_all(stack, keeper_url):
    with KeeperClient(keeper_url, stack.trader_keys[0]) as kc:
        acks = kc.place_batch([kc.order(1, True, PRICE - 100_000_000 - i * 10_000, 10**16) for i in range(3)])
        assert all(a["status"] == "accepted" for a in acks)
        assert kc.cancel([acks[0]["hash"]])["cancelled"] == [acks[0]["hash"]]
        assert len(kc.open_orders()) == 2
        assert sorted(kc.cancel_all()["cancelled"]) == sorted(a["hash"] for a in acks[1:])
        assert kc.open_orders() == []
        assert kc.order_status(acks[0]["hash"])["status"] == "cancelled"


def test_sdk__bad_order__keeper_error_400(stack, keeper_url):
    with KeeperClient(keeper_url, stack.trader_keys[0]) as kc:
        with pytest.raises(KeeperError) as info:
            kc.place(kc.order(1, True, PRICE + 1, 10**16))
        assert info.value.status == 400 and info.value.detail == "price off tick"


def test_sdk__agent_key_not_approved__rejected(stack, keeper_url):
    with KeeperClient(keeper_url, stack.trader_keys[5], account=stack.deployment.admin) as kc:
        with pytest.raises(KeeperError, match="bad signature|not an agent"):
            kc.place(kc.order(1, True, PRICE, 10**16))


def test_sdk__stream_fills__sees_match_and_settlement(stack, keeper_url):
    with KeeperClient(keeper_url, stack.trader_keys[1]) as a, KeeperClient(keeper_url, stack.trader_keys[2]) as b:
        events = []
        subscribed = threading.Event()

        def settled(e: dict) -> bool:
            return e["type"] == "fill_state" and e["fill"]["state"] == "settled"

        def read() -> None:
            # ends on the settled state, not on an idle gap: settlement (a batch, an anvil
            # round trip) may take longer than any fixed quiet period on a loaded machine
            stream = a.stream_fills(timeout=120, ready=subscribed)
            for e in stream:
                events.append(e)
                if settled(e):
                    break
            stream.close()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert subscribed.wait(60)  # confirmed by the keeper (after the challenge and auth)
        a.place(a.order(1, False, PRICE + 30_000_000, 10**16))
        b.place(b.order(1, True, PRICE + 30_000_000, 10**16), tif="IOC")
        reader.join(180)
        assert not reader.is_alive(), events
        types = [e["type"] for e in events]
        assert "fill" in types and any(settled(e) for e in events)
