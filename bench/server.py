"""Start the benchmark app under gunicorn and sample process memory."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Type

import psutil
import requests

__all__ = ["ROOT", "GunicornServer", "RssSampler", "machine_info", "result_head"]

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GunicornServer:
    """``bench.apps:server`` under gunicorn (gthread) on 127.0.0.1, as a context manager.

    Arguments:
        workers: gunicorn worker processes.
        threads: threads per worker (gthread worker class).
        cache_dir: directory for the app's ``CacheFile``.
        start_timeout: seconds to wait for the server to answer.
        app: the WSGI app as ``module:variable`` (a variant, for experiments).
    """

    def __init__(
        self,
        workers: int,
        threads: int,
        cache_dir: Path,
        start_timeout: float = 60.0,
        app: str = "bench.apps:server",
    ) -> None:
        self.app = app
        self.workers = workers
        self.threads = threads
        self.cache_dir = cache_dir
        self.start_timeout = start_timeout
        self.port = 0
        self.url = ""
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def command(self) -> List[str]:
        """The gunicorn command line."""
        return [
            sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{self.port}",
            "-w", str(self.workers), "--threads", str(self.threads), "-k", "gthread",
            "--timeout", "300", "--log-level", "warning", self.app,
        ]  # fmt: skip

    def __enter__(self) -> GunicornServer:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, BENCH_CACHE_DIR=str(self.cache_dir))
        self._proc = subprocess.Popen(self.command(), cwd=ROOT, env=env)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self._proc.returncode}")
            try:
                requests.get(self.url + "/bench/pid", timeout=2).raise_for_status()
                return self
            except requests.RequestException:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError("gunicorn did not answer") from None
                time.sleep(0.1)

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the server (its master stops its workers); kill it if it hangs."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

    def info(self) -> Dict[str, Any]:
        """``/bench/pid``: the worker's pid and whether ``CachedDownload`` exists."""
        resp = requests.get(self.url + "/bench/pid", timeout=10)
        resp.raise_for_status()
        return dict(resp.json())

    def register(self, path: Path, cache: str = "file", as_: str = "path") -> Dict[str, Any]:
        """Register ``path`` in the server's ``cache`` service; returns address and seconds."""
        resp = requests.post(
            self.url + "/bench/register",
            params={"path": str(path), "cache": cache, "as": as_},
            timeout=300,
        )
        resp.raise_for_status()
        return dict(resp.json())


def _rss_of(pids: List[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total


class RssSampler:
    """Sample the summed RSS of some processes in a thread, as a context manager.

    Arguments:
        pids: the processes, or a function returning them (called per sample,
            for process sets that change, such as a browser's renderers).
        interval: seconds between samples.
    """

    def __init__(self, pids: Callable[[], List[int]] | List[int], interval: float = 0.005):
        self._pids = pids if callable(pids) else (lambda: list(pids))  # type: ignore[misc]
        self.interval = interval
        self.idle = 0
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        """RSS now, in bytes."""
        return _rss_of(self._pids())

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.current()
            self.peak = max(self.peak, rss)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.idle = self.current()
        self.peak = self.idle
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.peak = max(self.peak, self.current())

    @property
    def growth(self) -> int:
        """Peak minus the RSS when sampling started, in bytes."""
        return self.peak - self.idle


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fobj:
            for line in fobj:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> Dict[str, Any]:
    """Where the benchmark ran: CPU, RAM, versions, load."""
    versions: Dict[str, Optional[str]] = {}
    for package in ("gunicorn", "flask", "werkzeug", "dash", "dash-file-cache", "selenium"):
        try:
            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / (1 << 30), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def result_head(**fields: Any) -> Dict[str, Any]:
    """The start of a bench's results: the date (UTC), :func:`machine_info`, then ``fields``."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **fields,
    }
