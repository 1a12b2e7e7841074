"""Keeper test fixtures: the journal's backends (each journal test runs on SQLite and on a
real PostgreSQL) and a started OfflineKeeper with teardown."""

from __future__ import annotations

import pytest

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
