"""Test support for CacheRedis: a real ``redis-server`` on loopback, and a served app.

- :class:`RedisServer` starts ``redis-server`` on a free 127.0.0.1 port with
  persistence off, in a temporary directory, and can stop and restart it on
  the same port (the data is lost, as after a crash of an unpersisted Redis).
- :func:`create_app` is the app that gunicorn runs in the deployment tests
  (``tests.redis_support:create_app()``); it reads ``DFC_REDIS_URL``.
- :func:`start_gunicorn` starts it and stops it with the test.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, List, Optional

import flask
import pytest
import requests

import dash_file_cache as dfc
from tests.conftest import ROOT, free_port, stop_processes

__all__ = [
    "REDIS_SERVER",
    "RedisServer",
    "create_app",
    "needs_redis_server",
    "redis_server_fixture",
    "start_gunicorn",
    "stop_processes",
    "wait_ready",
]

REDIS_SERVER = shutil.which("redis-server")

#: Mark for tests that need a ``redis-server`` binary.
needs_redis_server = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (Debian: apt-get install redis-server)",
)


class RedisServer:
    """A ``redis-server`` on 127.0.0.1, without persistence, in a temporary directory."""

    def __init__(self) -> None:
        if REDIS_SERVER is None:  # pragma: no cover - guarded by needs_redis_server
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="dfc-redis-")
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers ``PING``."""
        assert REDIS_SERVER is not None
        cmd = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.dir,
            "--protected-mode", "no", "--loglevel", "warning",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            if self.ping():
                return
            time.sleep(0.05)
        raise TimeoutError(f"redis-server on port {self.port} did not answer")

    def ping(self) -> bool:
        """Whether the server answers, with a throw-away connection."""
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.RedisError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        """Start again on the same port, empty."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_server_fixture() -> Iterator[RedisServer]:
    """Body of the ``redis_server`` fixtures: a started server, closed afterwards."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


# -- the app served by gunicorn -----------------------------------------------
def create_app() -> flask.Flask:
    """A Flask app on ``CacheRedis(DFC_REDIS_URL)``.

    Every response carries ``X-Worker-Pid`` (which gunicorn worker answered).
    ``POST /register?one_time=1`` registers the request body and answers with
    the address; ``GET /pid`` answers the pid. A Redis that is down gives 503
    JSON on both the service's address and ``/register``.
    """
    app = flask.Flask("redis-deploy-test")
    cache = dfc.CacheRedis(os.environ["DFC_REDIS_URL"], prefix="dfc-test:")
    service = dfc.ServiceData(cache)
    service.serve(app)

    @app.after_request
    def add_pid(response: flask.Response) -> flask.Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    @app.errorhandler(dfc.CacheUnavailableError)
    def unavailable(exc: dfc.CacheUnavailableError) -> tuple[dict[str, str], int]:
        return {"error": str(exc)}, 503

    @app.post("/register")
    def register() -> str:
        return service.register(
            io.BytesIO(flask.request.get_data()),
            file_name="data.bin",
            mime_type="application/octet-stream",
            one_time_service=flask.request.args.get("one_time") == "1",
        )

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


def start_gunicorn(
    procs: List[subprocess.Popen[bytes]], redis_url: str, workers: int, log_dir: Path
) -> str:
    """Start ``create_app()`` under gunicorn on a free port; return its base URL.

    The process is appended to ``procs``; the caller stops it.
    """
    port = free_port()
    env = dict(os.environ, DFC_REDIS_URL=redis_url)
    cmd = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
        "-w", str(workers), "--log-level", "warning", "--graceful-timeout", "5",
        "tests.redis_support:create_app()",
    ]  # fmt: skip
    with open(log_dir / f"gunicorn-{port}.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/pid", proc)
    return url


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 200 (workers booting slowly on a busy machine are waited for).

    Raises:
        RuntimeError: the server process exited.
        TimeoutError: no answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)
