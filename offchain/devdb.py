"""A throwaway PostgreSQL server on a free loopback port, for tests and local runs.

The twin of `offchain.devnet.Anvil`: `PostgresServer` is a context manager that runs
initdb into a fresh temp dir, starts `postgres` on 127.0.0.1 with its unix socket inside
that dir, and on exit stops it and removes the dir.

    with PostgresServer() as pg:
        journal = Journal(pg.url)                 # postgresql+psycopg://mmx@127.0.0.1:PORT/mmx
        url = pg.create_database("case_1")        # a fresh, empty database on the same server
        url = pg.create_schema("case_2")          # cheaper: a fresh schema in pg.database

The server binaries come from the machine (Debian's postgresql-15: /usr/lib/postgresql/
15/bin); MMX_PG_BIN overrides the directory. PostgreSQL refuses to run as root, so as root
initdb and postgres run as the `postgres` system user (MMX_PG_USER overrides), with the
data dir owned by it. Authentication is `trust`, on loopback only.

`fast=True` (the default) is for tests: initdb --no-sync, fsync=off, full_page_writes=off. A crash of the *machine* can lose or corrupt such a cluster; a crash
of the keeper process cannot lose a committed transaction. Pass fast=False to measure with
the real durability settings.

Cleanup: stop() does a fast shutdown (SIGINT) and removes the dir. A watchdog process
holds the read end of a pipe from this process: when this process dies without stop() (a
SIGKILLed test run), the pipe closes and the watchdog stops the server and removes the dir.
(PR_SET_PDEATHSIG does not survive the exec of `postgres` here, hence the pipe.)
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .devnet import free_port, listens_in_session, reap

_WATCHDOG = """
import os, shutil, signal, sys, time
pid, root = int(sys.argv[1]), sys.argv[2]
sys.stdin.buffer.read()  # EOF: the owner closed the pipe (stop()) or died
def ours():
    try:
        return root.encode() in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False
if ours():
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    while ours() and time.monotonic() < deadline:
        time.sleep(0.05)
    if ours():
        os.killpg(pid, signal.SIGKILL)
shutil.rmtree(root, ignore_errors=True)
"""


def postgres_bin_dir() -> Path:
    """The directory holding initdb and postgres; a clear error when there is none."""
    candidates = []
    if os.environ.get("MMX_PG_BIN"):
        candidates.append(os.environ["MMX_PG_BIN"])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "postgres").exists():
            return Path(directory)
    raise FileNotFoundError(
        "PostgreSQL server binaries (initdb, postgres) not found in "
        f"{candidates or ['/usr/lib/postgresql/*/bin', 'PATH']}: install Debian's postgresql-15 "
        "(`apt-get install postgresql-15`) or set MMX_PG_BIN to the directory that has them"
    )


def _version_key(path: str) -> tuple:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit())


def _drop_to(uid: int | None, gid: int | None):
    """preexec_fn: become uid/gid (when given)."""
    if uid is None:
        return None

    def preexec() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return preexec


@dataclass
class PostgresServer:
    """A running throwaway PostgreSQL. Use as a context manager, or call start()/stop()."""

    host: str = "127.0.0.1"
    port: int = 0
    user: str = "mmx"
    database: str = "mmx"
    fast: bool = True
    os_user: str | None = None  # None: `postgres` when running as root, else the current user
    extra_settings: dict[str, str] = field(default_factory=dict)
    root: Path | None = field(default=None, init=False)
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _watchdog: subprocess.Popen | None = field(default=None, init=False, repr=False)

    # -- addresses ---------------------------------------------------------------------------
    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's default database (created at start)."""
        return self.url_for(self.database)

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "sock"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    # -- life cycle --------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "PostgresServer":
        bindir = postgres_bin_dir()
        uid = gid = None
        os_user = self.os_user or ("postgres" if os.geteuid() == 0 else None)
        if os_user is not None and os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(os_user)
            except KeyError:
                raise RuntimeError(
                    f"running as root, and PostgreSQL refuses to: the system user {os_user!r} "
                    "to run it as does not exist (Debian's postgresql package creates `postgres`)"
                ) from None
            uid, gid = entry.pw_uid, entry.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="mmx-pg-"))
        try:
            data = self.root / "data"
            for d in (data, self.socket_dir):
                d.mkdir(mode=0o700)
            if uid is not None:
                for d in (self.root, data, self.socket_dir):
                    os.chown(d, uid, gid)
            self.log_path.touch()
            if uid is not None:
                os.chown(self.log_path, uid, gid)
            self._initdb(bindir, data, uid, gid)
            self._serve(bindir, data, uid, gid, timeout)
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(self._process.pid), str(self.root)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            self._create(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self, bindir: Path, data: Path, uid, gid) -> None:
        args = [str(bindir / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust",
                "--encoding=UTF8", "--locale=C"]
        if self.fast:
            args.append("--no-sync")
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              preexec_fn=_drop_to(uid, gid), cwd=self.root, env=_clean_env())
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout.decode(errors='replace')}")

    def _serve(self, bindir: Path, data: Path, uid, gid, timeout: float) -> None:
        settings = {"listen_addresses": self.host, "unix_socket_directories": str(self.socket_dir),
                    "max_connections": "50", "shared_buffers": "32MB", "logging_collector": "off"}
        if self.fast:
            settings |= {"fsync": "off", "full_page_writes": "off"}
        settings |= self.extra_settings
        for attempt in range(3):  # the free port can be taken between free_port() and bind
            if self.port == 0 or attempt:
                self.port = free_port(self.host)
            args = [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port)]
            for key, value in settings.items():
                args += ["-c", f"{key}={value}"]
            log = open(self.log_path, "ab")
            try:
                self._process = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root,
                    env=_clean_env(), start_new_session=True, preexec_fn=_drop_to(uid, gid))
            finally:
                log.close()
            if self._wait_ready(timeout):
                return
            self._halt()
            if "could not bind" not in self.log_tail() and "already in use" not in self.log_tail():
                break
        raise RuntimeError(f"postgres did not start on {self.host}:{self.port}:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if not listens_in_session(self.port, self._process.pid):
                # not (yet) our postmaster on that port: another server there would answer
                # the probe below, and this one would hand out its databases
                time.sleep(0.05)
                continue
            try:
                with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                                     connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def _create(self, database: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))

    def create_database(self, name: str) -> str:
        """Create an empty database on this server; its SQLAlchemy URL."""
        self._create(name)
        return self.url_for(name)

    def create_schema(self, name: str) -> str:
        """Create an empty schema in the default database; a URL whose connections use it
        (search_path through libpq `options`). ~1 ms against ~0.1-0.5 s for a database."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname=self.database,
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return f"{self.url}?options=-csearch_path%3D{name}"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except (OSError, AssertionError):
            return ""

    def _halt(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # fast shutdown: roll back clients, checkpoint, exit
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()

    def stop(self) -> None:
        self._halt()
        root, self.root = self.root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:  # the server is gone: the watchdog finds nothing to do
            watchdog.stdin.close()
            reap(watchdog, 5)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _clean_env() -> dict[str, str]:
    """The environment for initdb/postgres: no PG* variables of the caller's, C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env
