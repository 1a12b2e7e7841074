"""Liquidation orders in the keeper (offline: real Engine, Core, journal and Gateway).

Invariant: a liquidation order (flag LIQUIDATION, no signature) enters the book only from
the runner (`Gateway.place_liquidation`); a client's order with the flag is refused with
"liquidation flag" and changes nothing. The runner's order is a reduce-only IOC against the
engine's (chain-synced) position, journaled like any place, so replay rebuilds it. When the
chain skips its fill for a liquidation reason, only the liquidation side is blamed: the
maker it met gets its size back."""

from __future__ import annotations

import pytest

from offchain.keeper.blame import blame
from offchain.keeper.core import Outbox
from offchain.keeper.gateway import LIQUIDATOR
from offchain.keeper.journal import WriteSet
from offchain.order import LIQUIDATION, REDUCE_ONLY, Order
from tests.constants import ONE

from ..keeper.helpers import ADDR, PRICE, OfflineKeeper, order, signed
from ..keeper.replay import replay

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)



def _liq(i: int, is_buy: bool, price: int, size: int, nonce: int = 1) -> Order:
    return Order(ADDR[i], 1, is_buy, price, size, nonce, 2**40, LIQUIDATION | REDUCE_ONLY)


def _set_position(k: OfflineKeeper, i: int, size: int) -> None:
    ws, out = WriteSet(), Outbox.new()
    k.core.account(ADDR[i]).positions[1] = [size, size * PRICE // ONE]
    k.core.set_position(k.core.next_seq(), 1, ADDR[i], 1, size, ws, out)
    k.journal.write(ws)


async def test_client_order__liquidation_flag__refused_nothing_journaled(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    k.start()
    _set_position(k, 0, ONE)
    seq = k.core.seq
    (a,) = await k.gateway.place_batch([signed(0, order(0, False, flags=LIQUIDATION | REDUCE_ONLY))])
    (b,) = await k.gateway.place_batch([signed(0, order(0, False, nonce=2, flags=LIQUIDATION))])
    await k.committer.stop()
    assert a == {"status": "rejected", "reason": "liquidation flag"} and b == a
    assert k.core.seq == seq and not k.core.orders
    assert [r.kind for r in k.journal.commands()] == ["position"]
    k.journal.close()


async def test_place_liquidation__reduce_only_ioc__fills_bid_journaled_replays(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")

    k.start()
    _set_position(k, 0, ONE)
    await k.gateway.place_batch([signed(1, order(1, True, PRICE - 10_000, size=3 * 10**17)),
                                 signed(2, order(2, True, PRICE - 20_000, size=ONE))])
    res = await k.gateway.place_liquidation(_liq(0, False, PRICE - 200_000, ONE))
    # flat now: a second one is refused by the engine's reduce-only check
    again = await k.gateway.place_liquidation(_liq(0, False, PRICE - 200_000, ONE, nonce=2))
    wrong_side = await k.gateway.place_liquidation(_liq(3, False, PRICE - 200_000, ONE))
    await k.committer.stop()
    assert res["status"] == "accepted" and len(res["fills"]) == 2
    fills = [k.core.fills[i] for i in res["fills"]]
    assert [(f.price, f.size, f.maker_account) for f in fills] == [(PRICE - 10_000, 3 * 10**17, ADDR[1]),
                                                                   (PRICE - 20_000, 7 * 10**17, ADDR[2])]
    signed_order = k.core.orders[bytes.fromhex(res["hash"][2:])]
    assert signed_order.signer == LIQUIDATOR and signed_order.tif == "IOC" and signed_order.status == "filled"
    assert again["status"] == "rejected" and again["reason"] == "reduce only"
    assert wrong_side["status"] == "rejected" and wrong_side["reason"] == "reduce only"  # no position at all
    assert k.core.engine.position(ADDR[0], 1) == 0
    replayed = replay(k.journal.url)
    assert [(f.price, f.size, f.taker_hash) for f in replayed.fills.values()] == \
        [(f.price, f.size, f.taker_hash) for f in k.core.fills.values()]
    assert replayed.orders[signed_order.hash].signer == LIQUIDATOR
    k.journal.close()


async def test_place_liquidation__not_a_liquidation_order__refused(tmp_path):
    k = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    k.start()
    _set_position(k, 0, ONE)
    plain = Order(ADDR[0], 1, False, PRICE, ONE, 1, 2**40, REDUCE_ONLY)
    off_lot = _liq(0, False, PRICE, ONE + 1)
    out = [await k.gateway.place_liquidation(o) for o in (plain, off_lot)]
    await k.committer.stop()
    for res in out:
        assert res["status"] == "rejected" and res["fills"] == []
    assert not k.core.orders
    k.journal.close()


class _NoChain:
    """blame() must not read the chain for a liquidation reason."""

    def __getattr__(self, name):
        raise AssertionError(f"chain read {name}")


async def test_blame__liquidation_reasons__only_the_liquidation_side():
    class S:
        def __init__(self, o):
            self.order = o

    maker = S(order(1, True))
    taker = S(_liq(0, False, PRICE, ONE))
    for reason in ("not liquidatable", "backstop", "cooldown", "step"):
        assert await blame(_NoChain(), reason, None, maker, taker, 10, {}, 1000) == ("taker",)
        assert await blame(_NoChain(), reason, None, taker, maker, 10, {}, 1000) == ("maker",)
