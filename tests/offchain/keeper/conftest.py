"""Keeper test fixtures: the journal's backends (each journal test runs on SQLite and on a
real PostgreSQL), a started OfflineKeeper with teardown, and the API over an offline keeper."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from .helpers import OfflineKeeper

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def journal_url(request, tmp_path):
    """A fresh journal URL: a SQLite file, or an empty database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/j.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def offline_keeper(tmp_path):
    """offline_keeper(url=None, **kw) -> a started OfflineKeeper (journal: a SQLite file in
    tmp_path unless `url`). Every keeper it started is stopped at teardown, also when the
    test failed; a test may still stop one itself (to replay its journal)."""
    started: list[OfflineKeeper] = []

    def start(url: str | None = None, **kw) -> OfflineKeeper:
        keeper = OfflineKeeper(url or f"sqlite:///{tmp_path}/j.db", **kw)
        keeper.start()
        started.append(keeper)
        return keeper

    yield start
    for keeper in started:
        if not keeper.stopped:
            await keeper.stop()


@pytest.fixture
def client(tmp_path):
    """The keeper API (create_app) over an OfflineKeeper, as a TestClient; `client.keeper`
    is the keeper. A module with other keeper settings defines its own `client`."""
    from offchain.keeper.api import create_app

    keeper = OfflineKeeper(f"sqlite:///{tmp_path}/j.db")
    with TestClient(create_app(keeper)) as c:
        c.keeper = keeper
        yield c
    keeper.journal.close()
