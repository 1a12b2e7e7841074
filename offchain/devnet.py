"""A real anvil devnet process on a free loopback port, for `make run` and e2e tests.

anvil comes from the project's node_modules (npm @foundry-rs/anvil, pinned in
package.json); nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEVNET_CHAIN_ID = 31337


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def listen_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; port 0: the OS picks a free one
    (read it with getsockname). Servers in this process take it as it is (uvicorn's
    `Server.serve(sockets=[sock])`), so no other process can take the port between picking
    and binding, as it can with a port from free_port() handed to a server to bind later."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on a fixed port: TIME_WAIT
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def listener_pid(port: int) -> int | None:
    """The pid whose socket listens on TCP `port` (Linux /proc), 0 if no process listens
    yet, None where /proc cannot tell (then callers cannot check ownership)."""
    try:
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        inodes.add(cols[9])
        if not inodes:
            return 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        return None  # listening, but its owner is not visible to us
    except OSError:
        return None


def listens_in_session(port: int, leader: int) -> bool:
    """The listener on `port` belongs to the session `leader` started (a child started with
    start_new_session: its pgid is its pid), or /proc cannot tell; False while nobody
    listens. A server's health check must ask only its own listener: the port it was given
    can have been taken by another process's server meanwhile."""
    owner = listener_pid(port)
    if owner is None:
        return True
    if owner == 0:
        return False
    try:
        return os.getpgid(owner) == leader
    except OSError:
        return False


def anvil_binary() -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found is None:
        raise FileNotFoundError("anvil not found: run `npm ci` (make does) to install it")
    return found


def anvil_private_keys(count: int, mnemonic: str = DEFAULT_MNEMONIC) -> list[str]:
    """The private keys anvil derives for its prefunded accounts (m/44'/60'/0'/0/i)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key.hex()
        for i in range(count)
    ]


@dataclass
class Anvil:
    """A running anvil. Use as a context manager, or call start()/stop()."""

    host: str = "127.0.0.1"
    port: int = 0
    accounts: int = 20
    block_time: float | None = None  # None: automine, a block per transaction
    # Cancun, not anvil's default Prague: Prague's EIP-2935 keeps every block hash in a
    # system contract's storage (up to 8,191 slots), and anvil rebuilds the whole state
    # root from scratch each block, so plain transfers got ~5x slower per block as the
    # chain grew. The contracts use nothing newer than Cancun (MCOPY, transient storage).
    hardfork: str = "cancun"
    # Past states kept for calls at an old block (eth_call with a block number). None:
    # anvil's default, 500 in memory, then each older state serialised to disk as JSON (up
    # to 3,600): a write per block that grows with the chain (every block hash is in it).
    # N: `--prune-history N`, the last N states in memory and nothing on disk; for runs
    # that never read old state (the benches), where it keeps anvil's rate flat.
    history: int | None = None
    chain_id: int = DEVNET_CHAIN_ID
    mnemonic: str = DEFAULT_MNEMONIC
    log_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _cache_dir: str | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "Anvil":
        # A port picked by free_port() is free only until it is closed: another process
        # (another xdist worker's node, or any outgoing connection's ephemeral port) can
        # take it before anvil binds. anvil then exits, or, worse, a node someone else
        # started answers our health check. So: answer only from a listener that is our
        # process, and pick another port when ours was taken.
        chosen = self.port == 0
        for attempt in range(3 if chosen else 1):
            if chosen:
                self.port = free_port(self.host)
            if self._launch(timeout):
                return self
        code = self._process.returncode
        self.stop()  # removes the state cache
        raise RuntimeError(f"anvil exited with code {code} (port {self.port})")

    def _launch(self, timeout: float) -> bool:
        """Start anvil on self.port; True once it answers, False if it exited (port taken)."""
        # anvil's state cache defaults to ~/.foundry/anvil/tmp and outlives a terminated
        # anvil (hundreds of MB a long run); ours is removed in stop()
        self._cache_dir = self._cache_dir or tempfile.mkdtemp(prefix="mmx-anvil-")
        args = [
            anvil_binary(),
            "--host", self.host,
            "--port", str(self.port),
            "--accounts", str(self.accounts),
            "--chain-id", str(self.chain_id),
            "--mnemonic", self.mnemonic,
            "--balance", "1000000",
            "--gas-limit", "300000000",
            "--code-size-limit", "100000",
            "--hardfork", self.hardfork,
            "--cache-path", self._cache_dir,
            "--silent",
        ]
        if self.history is not None:
            args += ["--prune-history", str(self.history)]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        args += self.extra_args
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self._process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self._listening():
                try:
                    if self.rpc("eth_chainId") is not None:
                        return True
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"anvil did not answer on {self.url} within {timeout}s")

    def _listening(self) -> bool:
        """The port's listener is ours: our process or one of its session (the npm `anvil`
        is a node wrapper that runs the native binary as a child), or /proc cannot tell."""
        return listens_in_session(self.port, self._process.pid)

    def rpc(self, method: str, params: list | None = None):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            reply = json.loads(response.read())
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def private_keys(self) -> list[str]:
        return anvil_private_keys(self.accounts, self.mnemonic)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            reap(process, 5)
        cache, self._cache_dir = self._cache_dir, None
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)

    def __enter__(self) -> "Anvil":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def reap(process: subprocess.Popen, timeout: float) -> int:
    """Wait up to `timeout` s for a process that was told to stop (a signal, a closed
    stdin), then SIGKILL it; its exit code."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def project_env() -> dict[str, str]:
    """The environment a child process of the project needs (venv and anvil on PATH)."""
    env = dict(os.environ)
    extra = [str(PROJECT_ROOT / ".venv" / "bin"), str(PROJECT_ROOT / "node_modules" / ".bin")]
    env["PATH"] = os.pathsep.join(extra + [env.get("PATH", "")])
    return env
