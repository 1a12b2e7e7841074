"""The keeper subprocess helpers say why a keeper never became ready."""

import subprocess
import sys

import pytest

from offchain.keeper.process import wait_ready


def test_wait_ready__child_exits_first__error_names_exit_code_and_log(tmp_path):
    log = tmp_path / "keeper.log"
    log.write_text("boom: address in use\n")
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    with pytest.raises(RuntimeError, match=r"keeper exited with 3; log:\nboom: address in use"):
        wait_ready(proc, tmp_path / "ready", log, timeout=30)


def test_wait_ready__child_still_running_at_timeout__error_says_not_ready_and_kills_it(tmp_path):
    log = tmp_path / "keeper.log"
    log.write_text("")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(RuntimeError, match=r"keeper not ready after \d+ s; log:\n$"):
        wait_ready(proc, tmp_path / "ready", log, timeout=0.2)
    assert proc.wait(timeout=30) != 0


def test_wait_ready__ready_file_written__returns_with_child_running(tmp_path):
    ready = tmp_path / "ready"
    ready.write_text("")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        wait_ready(proc, ready, tmp_path / "keeper.log", timeout=30)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
