"""Stage timing of WebSocket places (offchain/keeper/stages.py, MMX_STAGE_TIMES=1): each
place message's record carries every stage in the order the message passed them, and with
timing off nothing is kept and GET /stats/stages says so."""

import pytest
from fastapi.testclient import TestClient

from offchain.client.messages import place_request
from offchain.keeper import stages
from offchain.keeper.api import create_app

from .helpers import KEYS, OfflineKeeper, order, signed


@pytest.fixture
def timed():
    stages.records.clear()
    stages.enable()
    yield
    stages.enable(False)
    stages.records.clear()


def _place(ws, mid: int, i: int, is_buy: bool, nonce: int) -> dict:
    o, sig, tif = signed(i, order(i, is_buy, nonce=nonce))
    ws.send_json({"op": "place", "id": mid, "orders": [place_request(o, sig, tif)]})
    return ws.receive_json()


@pytest.mark.parametrize("recovery", [False, True], ids=["on-loop", "thread"])
def test_stage_times__ws_place__every_stage_in_order(tmp_path, timed, recovery):
    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db", recovery=recovery)
    with TestClient(create_app(keeper)) as client, client.websocket_connect("/ws") as ws:
        acks = [_place(ws, 10, 0, True, 1), _place(ws, 11, 1, False, 2)]
        assert [a["results"][0]["status"] for a in acks] == ["accepted", "accepted"]
        dump = client.get("/stats/stages").json()
    if keeper.gateway.recovery is not None:
        keeper.gateway.recovery.close()
    keeper.journal.close()
    assert [r["id"] for r in dump["records"]] == [10, 11]
    for rec in dump["records"]:
        assert [rec[s] for s in stages.STAGES] == sorted(rec[s] for s in stages.STAGES)
    # the second message was received after the first one's ack was sent (one at a time)
    assert dump["records"][1]["received"] >= dump["records"][0]["sent"]


def test_stage_times__off__nothing_kept_and_404(client):
    assert not stages.enabled
    with client.websocket_connect("/ws") as ws:
        assert _place(ws, 1, 0, True, 1)["op"] == "ack"
    assert len(stages.records) == 0
    assert client.get("/stats/stages").status_code == 404
