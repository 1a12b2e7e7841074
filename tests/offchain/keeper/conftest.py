"""The journal's backends: each journal test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def journal_url(request, tmp_path):
    """A fresh journal URL: a SQLite file, or an empty database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/j.db"
    return request.getfixturevalue("postgres_url")
