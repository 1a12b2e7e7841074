"""offchain.devdb.PostgresServer: a real throwaway server, and its cleanup."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from offchain import devdb
from offchain.devnet import PROJECT_ROOT, project_env


def test_postgres_bin_dir__none_found__clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MMX_PG_BIN", str(tmp_path))
    monkeypatch.setattr(devdb.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(devdb.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get install postgresql-15"):
        devdb.postgres_bin_dir()


def test_server__loopback_not_root_socket_in_its_dir(postgres):
    import psycopg

    with psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.user, dbname=postgres.database) as c:
        assert c.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert c.execute("SHOW unix_socket_directories").fetchone()[0] == str(postgres.socket_dir)
        assert c.execute("SHOW fsync").fetchone()[0] == "off"  # fast=True: a test server
    pid = int((postgres.root / "data" / "postmaster.pid").read_text().split()[0])
    assert os.stat(f"/proc/{pid}").st_uid != 0  # PostgreSQL refuses root: it runs as `postgres`
    assert postgres.url.startswith(f"postgresql+psycopg://mmx@127.0.0.1:{postgres.port}/")


def test_server__owner_killed__watchdog_stops_it_and_removes_its_dir():
    code = ("from offchain.devdb import PostgresServer\nimport time\npg = PostgresServer().start()\n"
            "print(pg._process.pid, pg.root, flush=True)\ntime.sleep(60)")
    owner = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=project_env(),
                             stdout=subprocess.PIPE, text=True)
    try:
        pid, root = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() or Path(root).exists():
        assert time.monotonic() < deadline, "server or its dir left behind"
        time.sleep(0.05)


def test_server__picked_port_taken_by_another_server__starts_on_another_and_answers_itself(monkeypatch, postgres):
    """The session's server squats the port this one picks first: this one must neither
    hand out the squatter's databases nor give up, but start on another port it owns."""
    import psycopg

    from offchain.devnet import listens_in_session

    picks = iter([postgres.port])
    real = devdb.free_port
    monkeypatch.setattr(devdb, "free_port", lambda host="127.0.0.1": next(picks, None) or real(host))
    with devdb.PostgresServer() as pg:
        assert pg.port != postgres.port and listens_in_session(pg.port, pg._process.pid)
        pg.create_database("mine")
        with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres") as c:
            names = {r[0] for r in c.execute("SELECT datname FROM pg_database")}
        assert "mine" in names
    with psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.user, dbname="postgres") as c:
        assert "mine" not in {r[0] for r in c.execute("SELECT datname FROM pg_database")}
