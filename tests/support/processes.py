"""Processes and ports: the repository root, free ports, stopping and running interpreters."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Sequence

import psutil

#: The repository root (servers and interpreters the tests start run from here).
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> List[psutil.Process]:
    """Every living process ``pid`` started, and those they started (none if it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop_tree(processes: Sequence[psutil.Process], grace: float = 5.0) -> None:
    """Let ``processes`` end within ``grace`` seconds, then SIGTERM and finally SIGKILL them."""
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(sig)
        _, alive = psutil.wait_procs(alive, timeout=grace)
        if not alive:
            return


def stop_processes(procs: Sequence[subprocess.Popen], timeout: float = 15.0) -> None:
    """Stop the given processes and every process they started, whatever became of them.

    Each is sent SIGTERM (SIGKILL if it does not end in ``timeout`` seconds);
    the processes they had started (workers, a ``multiprocess`` Manager, a
    background job), orphaned or not, end by themselves within a few seconds
    or are terminated, then killed.
    """
    tree = [child for proc in procs for child in descendants(proc.pid)]
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    stop_tree(tree)


def listener_dirs(processes: Sequence[psutil.Process]) -> List[Path]:
    """The ``pymp-*`` folders of the ``multiprocess`` listeners (Managers) of ``processes``.

    A process killed by a signal cannot remove its folder; a test that kills
    one takes these first and removes them with :func:`remove_dirs`. The
    folder of this process (a forked Manager shares it) is never listed.
    """
    own = {str(path) for path in _own_temp_dirs()}
    found = set()
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for conn in process.net_connections(kind="unix"):
                path = Path(conn.laddr) if isinstance(conn.laddr, str) and conn.laddr else None
                if (
                    path is not None
                    and path.parent.name.startswith("pymp-")
                    and str(path.parent) not in own
                ):
                    found.add(path.parent)
    return sorted(found)


def _own_temp_dirs() -> List[Path]:
    """This process's ``multiprocess``/``multiprocessing`` temporary folders, if made."""
    found = []
    for name in ("multiprocess.process", "multiprocessing.process"):
        module = sys.modules.get(name)
        config = getattr(getattr(module, "_current_process", None), "_config", {})
        if config.get("tempdir"):
            found.append(Path(config["tempdir"]))
    return found


def remove_dirs(paths: Sequence[Path]) -> None:
    """Remove the given folders (those already gone are fine)."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def run_python(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter from the repository root; fail on error."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
