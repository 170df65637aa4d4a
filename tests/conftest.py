"""Shared fixtures: services on each cache, Flask clients, real servers on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import flask
import pytest
import requests
from werkzeug.serving import make_server

import dash_file_cache as dfc

ROOT = Path(__file__).resolve().parent.parent
CACHE_KINDS = ["plain", "queue", "file"]


def make_cache(kind: str, tmp_path: Path) -> dfc.CacheAbstract:
    """A small cache of the given kind."""
    if kind == "plain":
        return dfc.CachePlain(8)
    if kind == "queue":
        return dfc.CacheQueue(8, queue.Queue())
    if kind == "file":
        return dfc.CacheFile(tmp_path / "cache")
    raise ValueError(kind)


@pytest.fixture(params=CACHE_KINDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> dfc.ServiceData:
    """A ServiceData on each cache kind in turn."""
    return dfc.ServiceData(make_cache(request.param, tmp_path))


@pytest.fixture
def app(service: dfc.ServiceData) -> flask.Flask:
    app = flask.Flask("test")
    service.serve(app)
    return app


@pytest.fixture
def client(app: flask.Flask) -> flask.testing.FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(app: flask.Flask) -> Iterator[str]:
    """The app on a real threaded werkzeug server on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` answers (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise TimeoutError(url)


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """Terminate the given processes, killing those that do not stop in 15 s."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start ``tests/apps/gunicorn_app.py`` under gunicorn; returns its base URL.

    Call it as ``start(workers=1, threads=4)``; every server is stopped at teardown.
    """
    procs: list[subprocess.Popen] = []

    def start(workers: int = 1, threads: int = 4, cache_dir: Path | None = None) -> str:
        port = free_port()
        env = dict(os.environ, DFC_CACHE_DIR=str(cache_dir or tmp_path / "gcache"))
        cmd = [
            sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
            "-w", str(workers), "--threads", str(threads), "--log-level", "warning",
            "tests.apps.gunicorn_app:app",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/pids", proc=proc)
        return url

    yield start
    stop_processes(procs)
