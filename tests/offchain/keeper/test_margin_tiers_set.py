"""MarginTiersSet at run time: the keeper follows a changed tier table from the point in the
sequence where it saw it (journaled `margin_tiers_set`), without a restart.

Invariant kept: after a `margin_tiers_set` command admission's margin pre-check uses the new
table (what the chain's settle checks from that block), the market's other rules and the book
are unchanged, and the journal replays the change at the same point."""

import time

import pytest

from offchain.risk.margin import TierTable

from .helpers import MARKET, OfflineKeeper, order, signed
from .replay import replay
from .test_order_kinds import snapshot

pytestmark = pytest.mark.anyio  # async tests run on anyio (tests/conftest.py)

ROWS = [(0, 1_000, 500), (10**12, 5_000, 2_500)]


async def tiers_set(k: OfflineKeeper, market: int, rows) -> None:
    seq = k.core.next_seq()
    await k.gateway.run_command(
        lambda ws, out: k.core.margin_tiers_set(seq, int(time.time() * 1000), market, rows, ws, out))


async def test_margin_tiers_set__table_followed_journaled_and_replayed(tmp_path, offline_keeper):
    k = offline_keeper()
    assert k.core.markets[1].tiers is None
    (resting,) = await k.gateway.place_batch([signed(0, order(0, True, nonce=1))])
    await tiers_set(k, 1, ROWS)
    assert k.core.markets[1].tiers == TierTable.of(ROWS) == k.gateway.ctx.markets[1].tiers
    assert k.core.markets[1].band_bps == MARKET.band_bps and k.core.markets[1].tick == MARKET.tick
    assert k.core.orders[bytes.fromhex(resting["hash"][2:])].status == "open"  # the book stays
    await tiers_set(k, 99, ROWS)  # a market the keeper does not know: nothing changes
    assert 99 not in k.core.markets
    state, tiers = snapshot(k.core), k.core.markets[1].tiers
    kinds = [r.kind for r in k.journal.commands()]
    await k.stop()
    assert kinds.count("margin_tiers_set") == 2
    core = replay(f"sqlite:///{tmp_path}/j.db")
    assert snapshot(core) == state and core.markets[1].tiers == tiers


async def test_margin_tiers_set__empty_table__back_to_the_flat_margins(tmp_path, offline_keeper):
    k = offline_keeper()
    await tiers_set(k, 1, ROWS)
    await tiers_set(k, 1, [])
    assert k.core.markets[1].tiers is None
    await k.stop()
    assert replay(f"sqlite:///{tmp_path}/j.db").markets[1].tiers is None
