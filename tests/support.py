"""The test harness: one place for caches, servers, polling and response checks.

- Caches: :data:`CACHE_KINDS` and :func:`make_cache`, the one factory used by
  unit tests, in-process apps and the apps that real servers run.
- Redis: :class:`RedisServer`, a real ``redis-server`` on 127.0.0.1.
- Servers: :func:`start_server` runs :mod:`tests.apps.app` (or any target)
  under a real server in its own process group; :func:`serve_in_thread` runs
  an app object on a server thread of this process.
- Polling: :func:`wait_until`, :func:`wait_for`, :func:`wait_http`.
- Checks: :func:`assert_json_error`, :func:`check_headers`,
  :func:`parse_content_range`, :func:`uid_of`, :func:`read_item`.

Adding a backend: a builder and a test client in ``tests/apps/app.py``
(``BUILDERS``, ``CLIENTS``), its name in :data:`BACKENDS`, its server in
:data:`DEFAULT_SERVER` (with a command in :data:`SERVER_COMMANDS` if the
server is new) and in :data:`IN_PROCESS_SERVERS`. Every test that takes the
``backend`` fixture (directly or through ``app``, ``client``, ``live_server``)
then runs on it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import (
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

import requests

import dash_file_cache as dfc
from dash_file_cache.caches import CachedFileInfo

ROOT = Path(__file__).resolve().parent.parent

#: Every cache of the package; each contract and hostile-input test runs on all of them.
CACHE_KINDS = ["plain", "queue", "file", "redis"]
#: Caches that several processes share (a real server's workers see one another's items).
SHARED_KINDS = ["file", "redis"]
#: Web frameworks the test app can be built on (see :mod:`tests.apps.app`).
BACKENDS = ["flask", "fastapi", "quart"]

REDIS_SERVER = shutil.which("redis-server")

#: The content of the contract tests' item: 10240 bytes, every byte value 40 times.
DATA = bytes(range(256)) * 40
#: A payload of several 1 MiB chunks, for streaming and ranges on real servers.
PAYLOAD = os.urandom(5 * (1 << 20) + 12345)

T = TypeVar("T")


# -- polling ---------------------------------------------------------------------------


def _poll(predicate: Callable[[], T], timeout: float, step: float) -> Optional[T]:
    """Call ``predicate`` until it returns something truthy; return that, or ``None``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; return whether it was."""
    return _poll(predicate, timeout, step) is not None


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy, and return it.

    Raises:
        AssertionError: nothing truthy within ``timeout`` seconds.
    """
    value = _poll(predicate, timeout, 0.05)
    if value is None:
        raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
    return value


def wait_http(
    url: str,
    timeout: float = 60.0,
    proc: Optional[subprocess.Popen] = None,
    status: Optional[int] = None,
) -> None:
    """Wait until ``url`` answers (with ``status``, if given).

    Raises:
        RuntimeError: ``proc`` exited first.
        TimeoutError: no answer within ``timeout`` seconds.
    """

    def answered() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            code = requests.get(url, timeout=5).status_code
        except requests.RequestException:
            return False
        return status is None or code == status

    if not wait_until(answered, timeout, 0.1):
        raise TimeoutError(url)


# -- processes and ports -----------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_processes(procs: Sequence[subprocess.Popen]) -> None:
    """Terminate the given processes, killing those that do not stop in 15 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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


# -- Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` on 127.0.0.1, without persistence, in a temporary directory.

    It can be stopped and started again on the same port, empty (as after a
    crash of an unpersisted Redis).
    """

    def __init__(self) -> None:
        if REDIS_SERVER is None:
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

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            return self.ping()

        if not wait_until(up, timeout):
            raise TimeoutError(f"redis-server on port {self.port} did not answer")

    def ping(self) -> bool:
        """Whether the server answers, with a throw-away connection."""
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.RedisError:
            return False

    def flush(self) -> None:
        """Remove every key (a fresh database for the next test)."""
        import redis

        with redis.Redis(port=self.port) as client:
            client.flushall()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.proc is not None:
            stop_processes([self.proc])
            self.proc = None

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


_shared_redis: List[RedisServer] = []


def shared_redis() -> RedisServer:
    """The Redis of this test process: started on first use, stopped at exit.

    Raises:
        RuntimeError: ``redis-server`` is not installed.
    """
    if not _shared_redis:
        server = RedisServer()
        server.start()
        atexit.register(server.close)
        _shared_redis.append(server)
    return _shared_redis[0]


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, closed on exit."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


# -- caches ------------------------------------------------------------------------------------


def make_cache(
    kind: str,
    directory: Optional[Path] = None,
    *,
    items: int = 8,
    size_limit: Optional[int] = None,
    redis_url: str = "",
    queue_obj: Any = None,
    by_reference: bool = False,
) -> dfc.CacheAbstract:
    """A cache of the given kind: the one factory of the suite.

    Args:
        kind: one of :data:`CACHE_KINDS`.
        directory: the directory of a ``CacheFile``.
        items: the item bound of ``CachePlain`` and ``CacheQueue``.
        size_limit: the byte bound of ``CacheFile`` and ``CacheRedis`` (``None``: unbounded).
        redis_url: the server of a ``CacheRedis`` (default: :func:`shared_redis`).
        queue_obj: the queue of a ``CacheQueue`` (default: a ``queue.Queue()``).
        by_reference: a ``CacheRedis`` keeps registered paths by reference
            (``copy_paths=False``) as the other caches always do.

    Raises:
        ValueError: an unknown ``kind``, or ``file`` without ``directory``.
    """
    if kind == "plain":
        return dfc.CachePlain(items)
    if kind == "queue":
        return dfc.CacheQueue(items, queue.Queue() if queue_obj is None else queue_obj)
    if kind == "file":
        if directory is None:
            raise ValueError("a 'file' cache needs directory")
        return dfc.CacheFile(directory, size_limit=size_limit)
    if kind == "redis":
        return dfc.CacheRedis(
            redis_url or shared_redis().url, size_limit=size_limit, copy_paths=not by_reference
        )
    raise ValueError(f"cache kind must be one of {CACHE_KINDS}, got {kind!r}")


def close_cache(cache: dfc.CacheAbstract) -> None:
    """Release the descriptors a test's cache holds: its index connection, its Redis pool.

    Left open, they last as long as anything refers to the cache (a framework's
    module-level cache of a route, a traceback), and a long run of the suite
    reached the 1024-descriptor limit.
    """
    if isinstance(cache, dfc.CacheFile):
        cache.close()
    elif isinstance(cache, dfc.CacheRedis):
        cache.client.connection_pool.disconnect()


def item_info(name: str = "f.bin", one_time: bool = False, created: float = 0.0) -> CachedFileInfo:
    """The metadata a cache stores with an item (for tests that call ``dump`` directly)."""
    return {
        "file_name": name,
        "content_type": "application/octet-stream",
        "one_time_service": one_time,
        "created": created or time.time(),
    }


def read_loaded(loader: Callable[[], Any]) -> bytes:
    """All bytes of what a cache's loader gives (a path or an open stream)."""
    data = loader()
    if isinstance(data, str):
        return Path(data).read_bytes()
    with data:
        return bytes(data.read())


def read_item(cache: dfc.CacheAbstract, uid: str) -> bytes:
    """The content of a cached item."""
    return read_loaded(cache.load(uid)[1])


def is_redis(cache: dfc.CacheAbstract) -> bool:
    """Whether ``cache`` is a ``CacheRedis`` (without importing ``redis`` for the others)."""
    return type(cache).__name__ == "CacheRedis"


def item_count(cache: Any) -> int:
    """How many items a cache holds (``CacheRedis`` has no ``len``: its index keys count)."""
    if is_redis(cache):
        return sum(1 for _ in cache.client.scan_iter(match=f"{cache.prefix}item:*"))
    return len(cache)


def copies_paths(cache: dfc.CacheAbstract) -> bool:
    """Whether the cache copies a registered path (so the address outlives the file)."""
    return bool(getattr(cache, "copy_paths", False))


# -- responses -----------------------------------------------------------------------------------


def uid_of(address: str) -> str:
    """The ``uid`` of an address (``.../cached-data?uid=...&...``)."""
    return address.split("uid=")[1].split("&")[0]


def body_of(response: Any) -> bytes:
    """The body of a test-client response (``.data``) or a ``requests`` one (``.content``)."""
    data = getattr(response, "data", None)
    return bytes(response.content if data is None else data)


def assert_json_error(response: Any, status: int) -> None:
    """``response`` is ``status`` with a JSON body ``{"error": "..."}``."""
    assert response.status_code == status, (response.status_code, body_of(response)[:200])
    assert response.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert isinstance(json.loads(body_of(response))["error"], str)


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


# -- real servers --------------------------------------------------------------------------------

#: The test app as real servers import it (configured by the environment, see tests/apps/app.py).
APP_TARGET = "tests.apps.app:create_app()"


def _gunicorn_command(target: str, port: int, options: Mapping[str, Any]) -> List[str]:
    cmd = [
        sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
        "-w", str(options["workers"]), "--threads", str(options["threads"]), "-k", "gthread",
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

    def __init__(self, url: str, proc: subprocess.Popen, log: Path) -> None:
        self.url = url
        self.proc = proc
        self.log = log

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
        """Graceful stop (SIGTERM), then SIGKILL of the group (workers a dead master left)."""
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
    keep_alive: Optional[int] = None,
    preload: bool = False,
    env: Optional[Mapping[str, str]] = None,
    log_dir: Optional[Path] = None,
    ready_path: str = "/stats",
    timeout: float = 60.0,
) -> Server:
    """Start ``target`` under a real ``server`` on a free 127.0.0.1 port; wait until it answers.

    The caller stops it (prefer :func:`running_server`). ``env`` is added to
    this process's environment; the log goes to ``log_dir`` (default: a
    temporary file).

    Raises:
        ValueError: an unknown ``server``.
        RuntimeError, TimeoutError: the server exited or did not answer ``ready_path``.
    """
    if server not in SERVER_COMMANDS:
        raise ValueError(f"server must be one of {sorted(SERVER_COMMANDS)}, got {server!r}")
    port = free_port()
    options = {"workers": workers, "threads": threads, "keep_alive": keep_alive, "preload": preload}
    cmd = SERVER_COMMANDS[server](target, port, options)
    folder = Path(log_dir) if log_dir is not None else Path(tempfile.mkdtemp(prefix="dfc-log-"))
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
    started = Server(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_http(started.url + ready_path, timeout=timeout, proc=proc, status=200)
    except BaseException:
        started.stop()
        print(started.log_text()[-3000:])
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


def raw_request(
    address: Tuple[str, int], request: bytes, read_limit: int = 1 << 30
) -> Tuple[int, bytes]:
    """Send raw bytes, read the answer to the end; return (status code or 0, all bytes)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        chunks: List[bytes] = []
        received = 0
        while received < read_limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    data = b"".join(chunks)
    head = data.split(b"\r\n", 1)[0].split()
    status = int(head[1]) if len(head) >= 2 and head[1].isdigit() else 0
    return status, data


# -- nginx in front ---------------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
DEPLOY = ROOT / "docs" / "deploy"
#: The values of the shipped site config that a deployment (and a test) adapts.
SITE_DEFAULTS = {
    "app": "127.0.0.1:8050",
    "listen": "listen 80;",
    "cache": "/var/cache/dash-file-cache/",
    "files": "/srv/dash-app/files/",
}

_NGINX_MAIN = """\
{user}daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""


def nginx_site(app: str, port: int, cache: Path, files: Path, extra: str = "") -> str:
    """The shipped site config (``docs/deploy/``), templated only for ports and paths.

    ``extra`` is added to the ``server`` block (a bench's static location).
    """
    site = (DEPLOY / "nginx-dash-file-cache.conf").read_text()
    values = {
        "app": app,
        "listen": f"listen 127.0.0.1:{port};",
        "cache": f"{cache}/",
        "files": f"{files}/",
    }
    snippet = str(DEPLOY / "dash-file-cache-offload.conf")
    for key, default in SITE_DEFAULTS.items():
        if default not in site:
            raise ValueError(f"the shipped nginx site no longer has {default!r}")
        site = site.replace(default, values[key])
    site = site.replace("snippets/dash-file-cache-offload.conf", snippet)
    if extra:
        site = site.rstrip().rstrip("}") + extra + "\n}\n"
    return site


class Nginx:
    """A real nginx (master + workers) on 127.0.0.1 with a given site, in its own group."""

    def __init__(self, site: str, port: int, workers: int = 1) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not installed")
        self.tmp = Path(tempfile.mkdtemp(prefix="dfc-nginx-"))
        (self.tmp / "site.conf").write_text(site)
        conf = self.tmp / "nginx.conf"
        # Workers of a root master run as nobody, who cannot read pytest's 0700 directories.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(_NGINX_MAIN.format(user=user, tmp=self.tmp, workers=workers))
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.tmp), "-c", str(conf), "-e", str(self.tmp / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_processes([self.proc])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def running_nginx(
    site: str, port: int, ready_path: str = "/stats", workers: int = 1
) -> Iterator[Nginx]:
    """nginx serving ``site`` on ``port``, once it answers ``ready_path``; stopped on exit."""
    started = Nginx(site, port, workers)
    try:
        try:
            wait_http(started.url + ready_path, timeout=20, proc=started.proc, status=200)
        except BaseException:
            print(started.error_log()[-3000:])
            raise
        yield started
    finally:
        started.stop()
