"""The real keeper as a subprocess (`python -m offchain.keeper`), configured by its
environment as an operator's would be: for the end-to-end tests and the benches, which must
run the keeper the way it runs in production (its own process, its own journal, killable).

- keeper_env: the MMX_* variables of one keeper (chain, journal, API port, deployment,
  operator key) plus settings given by name (`poll_interval=0.1` -> MMX_POLL_INTERVAL);
- spawn_keeper / wait_ready: start it / wait until it wrote its ready file (its API is up);
  a standby of a PostgreSQL journal writes it only once it leads, so the two are apart;
- start_keeper: both; stop_keeper: SIGTERM, then SIGKILL after a grace period.

Ports: pass port 0 and read the keeper's `url` (`KeeperPopen.url`, from its ready file)
once it is ready. The keeper binds its API socket itself, so with port 0 the OS picks a
free port at bind time. A port picked by free_port() and handed to the child is free only
until it is closed: another process (another xdist worker's keeper, any outgoing
connection's ephemeral port) can take it first, and then the keeper fails to bind or, worse,
a health check is answered by someone else's server. A restart gets a new port the same way.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from offchain.devnet import PROJECT_ROOT, project_env, reap


def keeper_env(rpc_url: str, db_url: str, port: int, deployment: Path | str, operator_key: str, *,
               crash: str | None = None, **settings: object) -> dict[str, str]:
    """The keeper's environment; `settings` by name without the MMX_ prefix
    (max_inflight=1 -> MMX_MAX_INFLIGHT="1"); `crash` = MMX_TEST_CRASH_POINT (name:seconds)."""
    env = project_env() | {
        "MMX_RPC_URL": rpc_url, "MMX_DB_URL": db_url, "MMX_API_PORT": str(port),
        "MMX_DEPLOYMENT": str(deployment), "MMX_OPERATOR_KEY": operator_key,
        "MMX_CONFIRMATIONS": "0", "MMX_LOG_LEVEL": "WARNING",
    } | {f"MMX_{name.upper()}": str(value) for name, value in settings.items()}
    env.pop("MMX_TEST_CRASH_POINT", None)  # never inherited from the caller's environment
    if crash:
        env["MMX_TEST_CRASH_POINT"] = crash
    return env


class KeeperPopen(subprocess.Popen):
    """A keeper subprocess; `url` is its API's base URL once `wait_ready` saw it up."""

    url: str = ""


def spawn_keeper(env: dict[str, str], workdir: Path, tag: str, *,
                 python_args: tuple[str, ...] = ()) -> tuple[KeeperPopen, Path]:
    """Start a keeper (not waited for); its log is workdir/keeper-{tag}.log. Returns the
    process and the ready file it writes once its API is up."""
    ready = workdir / f"ready-{tag}"
    log = open(workdir / f"keeper-{tag}.log", "wb")  # noqa: SIM115 - the child holds it open
    proc = KeeperPopen([sys.executable, *python_args, "-m", "offchain.keeper"], cwd=PROJECT_ROOT,
                       env=env | {"MMX_READY_FILE": str(ready)}, stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child has its own descriptor
    return proc, ready


def wait_ready(proc: subprocess.Popen, ready: Path, log_path: Path, timeout: float = 30.0) -> str:
    """Until the keeper wrote `ready` (its API's URL; the keeper writes it whole, by
    rename); the URL, also set as `proc.url`. If the keeper exits or the timeout passes
    first, kill it and raise with its log."""
    started = time.monotonic()
    while not ready.exists():
        code = proc.poll()
        waited = time.monotonic() - started
        if code is not None or waited > timeout:
            proc.kill()
            # Say which of the two it was: an empty log alone cannot tell a keeper that died
            # before its first line from one still importing when the wait ran out.
            how = f"exited with {code}" if code is not None else f"not ready after {waited:.0f} s"
            raise RuntimeError(f"keeper {how}; log:\n{log_path.read_text()}")
        time.sleep(0.02)
    url = ready.read_text().strip()
    if isinstance(proc, KeeperPopen):
        proc.url = url
    return url


def start_keeper(env: dict[str, str], workdir: Path, tag: str, *, timeout: float = 30.0,
                 python_args: tuple[str, ...] = ()) -> KeeperPopen:
    """spawn_keeper + wait_ready: the process once its API is up (its `url` set)."""
    proc, ready = spawn_keeper(env, workdir, tag, python_args=python_args)
    wait_ready(proc, ready, workdir / f"keeper-{tag}.log", timeout)
    return proc


def stop_keeper(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM (the keeper drains and closes its journal), SIGKILL if it has not exited
    after `timeout` s; its exit code."""
    if proc.poll() is None:
        proc.terminate()
    return reap(proc, timeout)
