"""Signed cancel by client id, and the replay floors of it and of cancel-all.

Invariant kept: a CancelByClientId cancels only the signing account's orders named by
their signed client ids; a captured message cannot be replayed (its timestamp must be above
the account's previous one, also after a restart: the floor is journaled), so it cannot
cancel an order placed later under one of its ids."""

import json
import time

import pytest

from offchain.intent import Intent
from offchain.keeper.admission import Rejection
from offchain.keeper.core import Core, market_config
from offchain.matching import Engine
from offchain.wire import CANCEL_CID_TYPE, Cancel, CancelByClientId, WireError

from .helpers import ADDR, DOMAIN, KEYS, MARKET, PRICE, order, order_of
from .replay import replay
from .test_amend import place
from .test_order_kinds import TICK

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)


def message(i: int, ids, ts: int | None = None, key: str | None = None):
    m = CancelByClientId(ADDR[i], tuple(ids), ts or int(time.time() * 1000))
    return m, m.sign(DOMAIN, key or KEYS[i])


async def test_cancel_by_client_id__cancels_named_orders_only(offline_keeper):
    k = offline_keeper()
    a = await place(k, 0, order(0, True, nonce=1), Intent(client_id="a"))
    await place(k, 0, order(0, True, price=PRICE - TICK, nonce=2), Intent(client_id="b"))
    c = await place(k, 1, order(1, True, price=PRICE - 2 * TICK, nonce=1), Intent(client_id="a"))
    result = await k.gateway.cancel_by_client_id(*message(0, ["a", "zz"]))
    assert result == {"status": "ok", "cancelled": [a["hash"]], "unknown": ["zz"]}
    # the cancelled one finished: out of the live state, its status journaled
    statuses = {o.intent.client_id + o.order.account[-4:]: o.status for o in k.core.orders.values()}
    assert statuses == {"b" + ADDR[0][-4:]: "open", "a" + ADDR[1][-4:]: "open"}
    assert order_of(k, bytes.fromhex(a["hash"][2:])).status == "cancelled"
    assert order_of(k, bytes.fromhex(c["hash"][2:])).status == "open"
    (row,) = [r for r in k.journal.commands() if r.kind == "cancel"]
    assert json.loads(row.body)["cids"] == ["a", "zz"]
    await k.stop()


async def test_cancel_by_client_id__replayed_or_stale_or_forged__refused(tmp_path, offline_keeper):
    k = offline_keeper()
    now = int(time.time() * 1000)
    other = await place(k, 0, order(0, True, price=PRICE - 7 * TICK, nonce=9))
    first = message(0, ["x"], now)
    assert (await k.gateway.cancel_by_client_id(*first)) == {"status": "ok", "cancelled": [],
                                                             "unknown": ["x"]}  # nothing named "x" yet
    assert order_of(k, bytes.fromhex(other["hash"][2:])).status == "open"  # unknown ids cancel nothing
    await place(k, 0, order(0, True, nonce=1), Intent(client_id="x"))  # placed later under that id
    for args, reason in ((first, "replayed cancel"), (message(0, ["x"], now - 1), "replayed cancel"),
                         (message(0, ["x"], now - 120_000), "stale timestamp"),
                         (message(0, ["x"], now + 1, key=KEYS[1]), "bad signature")):
        with pytest.raises(Rejection) as exc:
            await k.gateway.cancel_by_client_id(*args)
        assert exc.value.reason == reason
    assert k.core.by_client_id(ADDR[0], "x").status == "open"
    await k.stop()
    # after a restart (replay of the journal) the floor holds
    core = replay(f"sqlite:///{tmp_path}/j.db")
    assert core.cid_cancel_ts[ADDR[0]] == now
    restored = Core(Engine([market_config(MARKET)]), {1: MARKET})
    restored.restore(core.snapshot())
    assert restored.cid_cancel_ts[ADDR[0]] == now


async def test_cancel_all__timestamp_floor_survives_replay(tmp_path, offline_keeper):
    k = offline_keeper()
    await place(k, 0, order(0, True, nonce=1))
    now = int(time.time() * 1000)
    m = Cancel(ADDR[0], 0, (), now)
    assert len((await k.gateway.cancel(m, m.sign(DOMAIN, KEYS[0])))["cancelled"]) == 1
    await k.stop()
    core = replay(f"sqlite:///{tmp_path}/j.db")
    assert core.accounts[ADDR[0]].last_cancel_all == now


def test_cancel_by_client_id__digest_equals_eth_account_typed_data():
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak

    m = CancelByClientId(ADDR[0], ("a", "tp-2"), 1234)
    typed = {
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                   {"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "CancelByClientId": [{"name": "account", "type": "address"},
                                       {"name": "client_ids", "type": "string[]"},
                                       {"name": "timestamp", "type": "uint256"}]},
        "primaryType": "CancelByClientId",
        "domain": {"name": "MMX Exchange", "version": "1", "chainId": DOMAIN.chain_id,
                   "verifyingContract": DOMAIN.exchange},
        "message": {"account": ADDR[0], "client_ids": ["a", "tp-2"], "timestamp": 1234},
    }
    signable = encode_typed_data(full_message=typed)
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == m.digest(DOMAIN)
    assert CANCEL_CID_TYPE.startswith("CancelByClientId(")


@pytest.mark.parametrize("patch,reason", [
    ({"client_ids": []}, "client_ids must be a non-empty list"),
    ({"client_ids": ["ok", " bad"]}, r"client_ids\[1\] must be 1-64"),
    ({"colour": 1}, "unknown field"),
])
def test_cancel_by_client_id__bad_body__wire_error(patch, reason):
    m, sig = message(0, ["a"])
    with pytest.raises(WireError, match=reason):
        CancelByClientId.from_json({**m.to_json(sig), **patch})
