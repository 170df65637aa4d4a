"""Helpers shared by the ``tests/test_reliability_*.py`` modules.

Starting :mod:`tests.apps.reliability_app` under gunicorn, reading its
``/stats``, bounded polling, and the checks every response must pass.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

import requests

from ..conftest import ROOT, free_port, wait_http

APP = "tests.apps.reliability_app:app"


class Server:
    """A gunicorn server running the reliability app, in its own process group."""

    def __init__(self, url: str, proc: subprocess.Popen) -> None:
        self.url = url
        self.proc = proc

    def stats(self, gc: bool = False) -> Dict[str, Any]:
        """``/stats`` of whichever worker answers."""
        response = requests.get(self.url + "/stats", params={"gc": "1" if gc else "0"}, timeout=10)
        response.raise_for_status()
        result: Dict[str, Any] = response.json()
        return result

    def register(self, body: bytes, one_time: bool = False) -> str:
        """Register ``body`` through ``POST /register``; return the full URL of the item."""
        response = requests.post(
            self.url + "/register",
            data=body,
            params={"one_time": "1" if one_time else "0"},
            timeout=30,
        )
        response.raise_for_status()
        return self.url + response.text

    def kill(self) -> None:
        """SIGKILL the master and its workers (no graceful shutdown at all)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        # Workers left behind by a master that died are killed with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def gunicorn(
    cache: str,
    workers: int = 1,
    threads: int = 4,
    cache_dir: Optional[Path] = None,
    limit: Optional[int] = None,
) -> Iterator[Server]:
    """Run the reliability app under gunicorn (``gthread`` workers) on 127.0.0.1."""
    server = start_gunicorn(cache, workers, threads, cache_dir, limit)
    try:
        yield server
    finally:
        server.stop()


def start_gunicorn(
    cache: str,
    workers: int = 1,
    threads: int = 4,
    cache_dir: Optional[Path] = None,
    limit: Optional[int] = None,
) -> Server:
    """Start the app; the caller must ``stop()`` it (prefer :func:`gunicorn`)."""
    port = free_port()
    env = dict(os.environ, DFC_REL_CACHE=cache)
    if cache_dir is not None:
        env["DFC_REL_DIR"] = str(cache_dir)
    if limit is not None:
        env["DFC_REL_LIMIT"] = str(limit)
    cmd = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
        "-w", str(workers), "--threads", str(threads), "-k", "gthread",
        "--graceful-timeout", "5", "--log-level", "warning", APP,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/stats", proc=proc)
    except BaseException:
        Server(url, proc).stop()
        raise
    return Server(url, proc)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def check_headers(headers: Mapping[str, str]) -> None:
    """Every header name and value is latin-1 encodable and has no CR, LF or NUL."""
    for name, value in headers.items():
        for text in (name, value):
            text.encode("latin-1")
            assert not any(c in text for c in "\r\n\x00"), (name, value)


def parse_content_range(value: str) -> Tuple[int, int, int]:
    """``bytes a-b/n`` -> ``(a, b + 1, n)``."""
    unit, _, rest = value.partition(" ")
    assert unit == "bytes", value
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    return int(first), int(last) + 1, int(total)
