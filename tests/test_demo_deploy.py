"""usage:server under gunicorn leaves no shared folder behind, even after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from .conftest import ROOT, free_port, stop_processes, wait_http


def start_demo(workers: int = 2) -> subprocess.Popen:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DFC_DEMO_DIR"}
    cmd = [
        sys.executable, "-m", "gunicorn", "-w", str(workers), "--keep-alive", "0",
        "--log-level", "warning", "-b", f"127.0.0.1:{port}", "usage:server",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    wait_http(f"http://127.0.0.1:{port}/", timeout=60, proc=proc)
    return proc


def folders(master: int) -> list:
    return list(Path(tempfile.gettempdir()).glob(f"dfc-demo-shared-p{master}-*"))


def test_sigkill_leaves_the_folder_and_the_next_start_reaps_it():
    killed = start_demo()
    (folder,) = folders(killed.pid)
    everyone = [psutil.Process(killed.pid), *psutil.Process(killed.pid).children(recursive=True)]
    os.killpg(killed.pid, signal.SIGKILL)  # master and workers: nothing can clean up
    killed.wait(10)
    psutil.wait_procs(everyone, timeout=10)
    assert folder.is_dir()

    again = start_demo()
    try:
        assert not folder.exists()  # reaped: its master is dead
        (own,) = folders(again.pid)
        assert own.is_dir()
    finally:
        stop_processes([again])
    assert not own.exists()  # SIGTERM: the last worker out removed it
