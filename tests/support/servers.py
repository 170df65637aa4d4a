"""Real servers: the test app under gunicorn, werkzeug, uvicorn, granian or hypercorn.

:func:`start_server` runs :mod:`tests.apps.app` (or any target) under a real
server in its own process group; :func:`serve_in_thread` runs an app object on
a server thread of this process.

Adding a backend: a builder and a test client in ``tests/apps/app.py``
(``BUILDERS``, ``CLIENTS``), its name in :data:`BACKENDS`, its server in
:data:`DEFAULT_SERVER` (with a command in :data:`SERVER_COMMANDS` if the
server is new) and in :data:`IN_PROCESS_SERVERS`. Every test that takes the
``backend`` fixture (directly or through ``app``, ``client``, ``live_server``)
then runs on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Mapping, Optional

import requests

from tests.support.polling import wait_http, wait_until
from tests.support.processes import ROOT, descendants, free_port, stop_tree

#: Web frameworks the test app can be built on (see :mod:`tests.apps.app`).
BACKENDS = ["flask", "fastapi", "quart"]


APP_TARGET = "tests.apps.app:create_app()"


def _gunicorn_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    cmd = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
        "-w", str(options["workers"]), "--threads", str(options["threads"]),
        "-k", options["worker_class"],
        "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    if options["keep_alive"] is not None:
        cmd += ["--keep-alive", str(options["keep_alive"])]
    if options["preload"]:
        cmd.append("--preload")
    return [*cmd, target]


def _werkzeug_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    if options["workers"] != 1:
        raise ValueError("werkzeug runs one process: workers must be 1")
    return [sys.executable, "-m", "tests.apps.werkzeug_serve", target, str(port)]


def _factory(target: str) -> str:
    """``module:factory()`` -> ``module:factory`` (for servers with a ``--factory`` flag)."""
    if not target.endswith("()"):
        raise ValueError(f"expected a factory target 'module:name()', got {target!r}")
    return target[:-2]


def _uvicorn_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    if options["preload"]:
        raise ValueError("uvicorn has no --preload")
    cmd = [
        sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(options["workers"]), "--log-level", "warning",
    ]  # fmt: skip
    if options["keep_alive"] is not None:
        cmd += ["--timeout-keep-alive", str(options["keep_alive"])]
    return [*cmd, "--factory", _factory(target)]


def _granian_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    if options["preload"]:
        raise ValueError("granian has no --preload")
    cmd = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(options["workers"]), "--log-level", "warning",
    ]  # fmt: skip
    if options["keep_alive"] == 0:
        cmd.append("--no-http1-keep-alive")
    return [*cmd, "--factory", _factory(target)]


def _hypercorn_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    if options["preload"]:
        raise ValueError("hypercorn has no --preload")
    cmd = [
        sys.executable, "-m", "hypercorn", "-b", f"127.0.0.1:{port}",
        "-w", str(options["workers"]), "--graceful-timeout", "5",
    ]  # fmt: skip
    if options["keep_alive"] is not None:
        cmd += ["--keep-alive", str(options["keep_alive"])]
    return [*cmd, target]


#: How each server is started: ``command(target, port, options) -> argv``.
SERVER_COMMANDS: Dict[str, Callable[[str, int, Mapping[str, Any]], List[str]]] = {
    "gunicorn": _gunicorn_command,
    "werkzeug": _werkzeug_command,
    "uvicorn": _uvicorn_command,
    "granian": _granian_command,
    "hypercorn": _hypercorn_command,
}

#: The server each backend runs on unless a test asks for another.
DEFAULT_SERVER = {"flask": "gunicorn", "fastapi": "uvicorn", "quart": "hypercorn"}
#: Every real server of each backend (tests of the serving path run on each).
BACKEND_SERVERS = {
    "flask": ["gunicorn"],
    "fastapi": ["uvicorn", "granian"],
    "quart": ["hypercorn"],
}


class Server:
    """A real server process (in its own process group) running the test app."""

    def __init__(
        self, url: str, proc: subprocess.Popen, log: Path, own_dir: Optional[Path] = None
    ) -> None:
        self.url = url
        self.proc = proc
        self.log = log
        #: A folder made for the log, removed by :meth:`stop`.
        self.own_dir = own_dir

    def stats(self, gc: bool = False) -> Dict[str, Any]:
        """``/stats`` of whichever worker answers (pid, fds, RSS, threads, items...)."""
        response = requests.get(self.url + "/stats", params={"gc": "1" if gc else "0"}, timeout=10)
        response.raise_for_status()
        result: Dict[str, Any] = response.json()
        return result

    def register(
        self, body: bytes = b"", one_time: bool = False, path: str = "", name: str = "",
        headers: Optional[Mapping[str, str]] = None,
    ) -> str:  # fmt: skip
        """Register ``body`` (or the server-side ``path``); return the full URL of the item."""
        return self.url + self.register_response(body, one_time, path, name, headers).text

    def register_response(
        self, body: bytes = b"", one_time: bool = False, path: str = "", name: str = "",
        headers: Optional[Mapping[str, str]] = None,
    ) -> requests.Response:  # fmt: skip
        """``POST /register``; the response (its ``X-Worker-Pid`` says which worker)."""
        params = {"one_time": "1" if one_time else "0", "path": path, "name": name}
        response = requests.post(
            self.url + "/register", data=body, params=params, headers=headers, timeout=60
        )
        response.raise_for_status()
        return response

    def kill(self) -> None:
        """SIGKILL the whole process group (no graceful shutdown at all)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(15)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then SIGKILL of the group (workers a dead master left).

        Processes that left the group (``setsid``) are stopped through the
        process tree; the log's own folder, if one was made, is removed.
        """
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        stop_tree(tree)
        if self.own_dir is not None:
            shutil.rmtree(self.own_dir, ignore_errors=True)

    def log_text(self) -> str:
        """What the server wrote to its log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def app_env(
    cache: str,
    backend: str = "flask",
    directory: Optional[Path] = None,
    limit: Optional[int] = None,
    redis_url: str = "",
    offload: str = "",
    offload_locations: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    """The environment that configures :mod:`tests.apps.app` in a server process."""
    env = {"DFC_APP_BACKEND": backend, "DFC_APP_CACHE": cache}
    if offload:
        env["DFC_APP_OFFLOAD"] = offload
        env["DFC_APP_OFFLOAD_LOCATIONS"] = json.dumps(dict(offload_locations or {}))
    if directory is not None:
        env["DFC_APP_DIR"] = str(directory)
    if limit is not None:
        env["DFC_APP_LIMIT"] = str(limit)
    if redis_url:
        env["DFC_APP_REDIS_URL"] = redis_url
    return env


def start_server(
    target: str = APP_TARGET,
    *,
    server: str = "gunicorn",
    workers: int = 1,
    threads: int = 4,
    worker_class: str = "gthread",
    keep_alive: Optional[int] = None,
    preload: bool = False,
    env: Optional[Mapping[str, str]] = None,
    log_dir: Optional[Path] = None,
    ready_path: str = "/stats",
    timeout: float = 60.0,
    port: Optional[int] = None,
) -> Server:
    """Start ``target`` under a real ``server`` on 127.0.0.1; wait until it answers.

    The caller stops it (prefer :func:`running_server`). ``worker_class`` is
    gunicorn's ``-k`` (other servers ignore it). ``env`` is added to
    this process's environment; the log goes to ``log_dir`` (default: a
    temporary file). ``port``: default a free one; a given one lets a test
    start a server again where a stopped one was.

    Raises:
        ValueError: an unknown ``server``.
        RuntimeError, TimeoutError: the server exited or did not answer ``ready_path``.
    """
    if server not in SERVER_COMMANDS:
        raise ValueError(f"server must be one of {sorted(SERVER_COMMANDS)}, got {server!r}")
    port = free_port() if port is None else port
    options = {
        "workers": workers,
        "threads": threads,
        "worker_class": worker_class,
        "keep_alive": keep_alive,
        "preload": preload,
    }
    cmd = SERVER_COMMANDS[server](target, port, options)
    own_dir = None if log_dir is not None else Path(tempfile.mkdtemp(prefix="dfc-log-"))
    folder = Path(log_dir) if log_dir is not None else own_dir
    assert folder is not None
    log = folder / f"{server}-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = Server(f"http://127.0.0.1:{port}", proc, log, own_dir)
    try:
        wait_http(started.url + ready_path, timeout=timeout, proc=proc, status=200)
    except BaseException:
        log_tail = started.log_text()[-3000:]
        started.stop()
        print(log_tail)
        raise
    return started


@contextlib.contextmanager
def running_server(target: str = APP_TARGET, **kwargs: Any) -> Iterator[Server]:
    """:func:`start_server` as a context manager: stopped on exit."""
    started = start_server(target, **kwargs)
    try:
        yield started
    finally:
        started.stop()


@contextlib.contextmanager
def _werkzeug_thread(app: Any) -> Iterator[str]:
    """A WSGI ``app`` on werkzeug's threaded server, on a thread of this process."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def _uvicorn_thread(app: Any) -> Iterator[str]:
    """An ASGI ``app`` on uvicorn, on a thread of this process (its own event loop)."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        if not wait_until(lambda: server.started, 30):
            raise TimeoutError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


#: ``backend -> (app) -> context manager yielding the base URL`` of a server in this process.
IN_PROCESS_SERVERS: Dict[str, Callable[[Any], ContextManager[str]]] = {
    "flask": _werkzeug_thread,
    "fastapi": _uvicorn_thread,
    "quart": _uvicorn_thread,
}


def serve_in_thread(app: Any, backend: str = "flask") -> ContextManager[str]:
    """``app`` (built for ``backend``) on a real server in this process; yields its base URL.

    Raises:
        ValueError: no in-process server for ``backend``.
    """
    if backend not in IN_PROCESS_SERVERS:
        raise ValueError(f"no in-process server for backend {backend!r}")
    return IN_PROCESS_SERVERS[backend](app)
