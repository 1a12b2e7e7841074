"""Single-fill (ONE_FILL) orders at the keeper (docs/keeper.md, "Single-fill orders"): taken
only when the chain will settle them in one fill of their whole size; a refusal changes
no state (no journal row, the book untouched)."""

import pytest

from offchain.keeper.journal import Journal
from offchain.order import ONE_FILL, POST_ONLY, REDUCE_ONLY

from .helpers import ADDR, PRICE, order, signed

pytestmark = pytest.mark.anyio

SIZE = 10**17


async def _rest(k, i=0, size=2 * SIZE, is_buy=False, price=PRICE, nonce=1):
    (r,) = await k.gateway.place_batch([signed(i, order(i, is_buy, price=price, size=size, nonce=nonce))])
    assert r["status"] == "accepted" and r["fills"] == 0
    return r


async def test_place__one_fill_taker_covered_by_the_head__one_whole_fill(offline_keeper):
    k = offline_keeper()
    await _rest(k)
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=7, flags=ONE_FILL), tif="IOC")])
    assert r["status"] == "accepted" and r["fills"] == 1
    assert [(f.size, f.taker_hash) for f in k.fills] == [(SIZE, bytes.fromhex(r["hash"][2:]))]
    assert (ADDR[1], 7) in k.core.one_fill_nonces


@pytest.mark.parametrize("tif,flags", [("GTC", ONE_FILL), ("FOK", ONE_FILL | POST_ONLY)])
async def test_place__one_fill_that_could_rest__rejected(offline_keeper, tif, flags):
    k = offline_keeper()
    await _rest(k)
    commands = len(list(k.journal.commands()))
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, flags=flags), tif=tif)])
    assert r == {"status": "rejected", "reason": "one fill"}
    assert len(list(k.journal.commands())) == commands and k.fills == []


async def test_place__one_fill_larger_than_the_head__rejected_not_split(offline_keeper):
    # two resting asks would fill it in two parts, which the chain refuses ("one fill")
    k = offline_keeper()
    await _rest(k, 0, SIZE)
    await _rest(k, 2, SIZE)
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=2 * SIZE, flags=ONE_FILL), tif="FOK")])
    assert r == {"status": "rejected", "reason": "one fill"}
    assert k.fills == [] and k.core.engine.depth(1)[1] == [(PRICE, 2 * SIZE)]


async def test_place__one_fill_not_crossing_or_own_head__rejected(offline_keeper):
    k = offline_keeper()
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, flags=ONE_FILL), tif="IOC")])
    assert r["reason"] == "one fill"  # empty book
    await _rest(k, 0, price=PRICE + 10_000)
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=2, flags=ONE_FILL), tif="IOC")])
    assert r["reason"] == "one fill"  # does not cross
    await _rest(k, 1, price=PRICE, nonce=3)
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=4, price=PRICE, flags=ONE_FILL),
                                               tif="IOC")])
    assert r["reason"] == "one fill"  # the head is its own order
    assert k.fills == []


async def test_place__one_fill_nonce_reused__rejected_nonce_used(offline_keeper):
    k = offline_keeper()
    await _rest(k, size=4 * SIZE)
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=9, flags=ONE_FILL), tif="IOC")])
    assert r["fills"] == 1
    # another single-fill order with the same nonce: the chain would skip it "nonce used"
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=2 * SIZE, nonce=9, flags=ONE_FILL), tif="IOC")])
    assert r == {"status": "rejected", "reason": "nonce used"}
    # an ordinary order with that nonce is unaffected
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=9), tif="IOC")])
    assert r["status"] == "accepted" and len(k.fills) == 2


async def test_journal__one_fill_nonces__rebuilt_after_restart(offline_keeper, tmp_path):
    url = f"sqlite:///{tmp_path}/one_fill.db"
    k = offline_keeper(url)
    await _rest(k)
    await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=11, flags=ONE_FILL), tif="IOC")])
    await k.stop()
    assert Journal(url).one_fill_nonces() == {(ADDR[1], 11)}


async def test_place__reduce_only_one_fill_beyond_the_position__rejected_not_clipped(offline_keeper):
    # the engine clips a reduce-only order to the position; a clipped single-fill order
    # would be skipped on chain ("one fill"), so the keeper refuses it whole
    k = offline_keeper()
    await _rest(k, 0, size=SIZE, is_buy=True)  # account 1 sells into it: short 0.1
    (r,) = await k.gateway.place_batch([signed(1, order(1, False, size=SIZE, nonce=2), tif="IOC")])
    assert r["fills"] == 1 and k.core.engine.position(ADDR[1], 1) == -SIZE
    await _rest(k, 2, size=4 * SIZE, nonce=3)
    commands = len(list(k.journal.commands()))
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=2 * SIZE, nonce=4, flags=ONE_FILL | REDUCE_ONLY),
                                               tif="IOC")])
    assert r == {"status": "rejected", "reason": "one fill"}
    assert len(list(k.journal.commands())) == commands and len(k.fills) == 1
    (r,) = await k.gateway.place_batch([signed(1, order(1, True, size=SIZE, nonce=5, flags=ONE_FILL | REDUCE_ONLY),
                                               tif="IOC")])
    assert r["status"] == "accepted" and r["fills"] == 1 and k.fills[-1].size == SIZE
