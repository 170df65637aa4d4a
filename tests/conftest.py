"""Fixtures of the matrix: every cache kind x every backend, in process and on real servers.

The helpers live in :mod:`tests.support`; ``free_port``, ``wait_http`` and
``stop_processes`` are importable from here too.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.fd_guard import (  # noqa: F401 (hooks: the descriptor guard of the run)
    pytest_runtest_setup,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
)
from tests.support.caches import CACHE_KINDS, DATA, PAYLOAD, close_cache, make_cache
from tests.support.polling import wait_http
from tests.support.processes import ROOT, free_port, stop_processes
from tests.support.redis import REDIS_SERVER, RedisServer, shared_redis
from tests.support.servers import (
    BACKENDS,
    DEFAULT_SERVER,
    Server,
    app_env,
    serve_in_thread,
    start_server,
)

__all__ = ["CACHE_KINDS", "ROOT", "free_port", "make_cache", "stop_processes", "wait_http"]


#: Tests that run one at a time, on one xdist worker (``--dist loadgroup``), by group:
#: ``browser``: one Chromium at a time (dash.testing's servers also take ports in one
#: sequence per process); ``heavy``: timing- or load-sensitive tests, kept apart from one another.
SERIAL_GROUPS = {
    "heavy": (
        "tests/test_backends.py::test_event_loop_never_blocks",
        "tests/test_concurrency.py::",
        "tests/test_nginx_slow_clients.py::",
        "tests/test_soak.py::",
        "tests/test_bench_smoke.py::",
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Put each test of a serial group in its ``xdist_group`` (no effect without xdist)."""
    browser_dir = ROOT / "tests" / "browser"
    for item in items:
        if item.get_closest_marker("browser") or browser_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("browser"))
            continue
        for group, prefixes in SERIAL_GROUPS.items():
            if item.nodeid.startswith(prefixes):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope="session")
def redis_session() -> RedisServer:
    """The session's ``redis-server`` (``tests.support.shared_redis``; tests flush it first)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    pytest.importorskip("redis", reason="the redis package is not installed")
    return shared_redis()


@pytest.fixture(params=CACHE_KINDS)
def cache_kind(request: pytest.FixtureRequest) -> str:
    """Each cache kind in turn."""
    return str(request.param)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each web framework in turn."""
    return str(request.param)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, cache_kind: str) -> str:
    """The URL of the (flushed) session Redis when the cache kind is ``redis``, else ``""``."""
    if cache_kind != "redis":
        return ""
    server: RedisServer = request.getfixturevalue("redis_session")
    server.flush()
    return server.url


@pytest.fixture
def new_cache(
    cache_kind: str, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., dfc.CacheAbstract]]:
    """``new_cache(**options)``: a cache of this test's kind (see ``tests.support.make_cache``).

    The caches made are closed at teardown (see ``tests.support.close_cache``).
    """
    made: List[dfc.CacheAbstract] = []

    def new(**options: Any) -> dfc.CacheAbstract:
        made.append(make_cache(cache_kind, tmp_path / "cache", redis_url=redis_url, **options))
        return made[-1]

    yield new
    for cache in made:
        close_cache(cache)


@pytest.fixture
def cache(new_cache: Callable[..., dfc.CacheAbstract]) -> dfc.CacheAbstract:
    """A small cache of each kind."""
    return new_cache()


@pytest.fixture
def service(cache: dfc.CacheAbstract) -> dfc.ServiceData:
    """A ServiceData on each cache kind in turn."""
    return dfc.ServiceData(cache)


@pytest.fixture
def app(service: dfc.ServiceData, backend: str) -> Any:
    """The test app (``tests/apps/app.py``) of each backend, serving ``service``."""
    return build_app(service, backend)


@pytest.fixture
def client(app: Any, backend: str) -> Any:
    """A test client of ``app``."""
    return make_client(app, backend)


@pytest.fixture
def live_server(app: Any, backend: str) -> Iterator[str]:
    """``app`` on a real server thread of this process on 127.0.0.1; yields its base URL."""
    with serve_in_thread(app, backend) as url:
        yield url


@pytest.fixture
def start_app_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Server]]:
    """``start(cache="file", backend="flask", limit=None, directory=None, **server_options)``.

    Starts the test app under a real server (``tests.support.start_server``
    options: ``server`` (default: the backend's, ``DEFAULT_SERVER``),
    ``workers``, ``threads``, ``keep_alive``, ``preload``, ``env``); a
    ``redis`` cache uses the session Redis. Every server is stopped at teardown.
    """
    servers: List[Server] = []

    def start(
        cache: str = "file",
        backend: str = "flask",
        limit: int | None = None,
        directory: Path | None = None,
        redis_url: str = "",
        **options: Any,
    ) -> Server:
        if cache == "redis" and not redis_url:
            redis_url = request.getfixturevalue("redis_session").url
        env = app_env(cache, backend, directory or tmp_path / "cache", limit, redis_url)
        env.update(options.pop("env", {}))
        options.setdefault("server", DEFAULT_SERVER[backend])
        servers.append(start_server(env=env, log_dir=tmp_path, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    """A file holding ``DATA``."""
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


@pytest.fixture(params=["memory", "path"])
def address(request: pytest.FixtureRequest, service: dfc.ServiceData, data_path: Path) -> str:
    """``DATA`` registered as ``data.bin``, from memory and by path in turn."""
    source = io.BytesIO(DATA) if request.param == "memory" else data_path
    return service.register(source, file_name="data.bin", mime_type="application/octet-stream")


@pytest.fixture(params=["memory", "path"])
def payload_address(
    request: pytest.FixtureRequest, service: dfc.ServiceData, tmp_path: Path
) -> str:
    """``PAYLOAD`` (several chunks) registered from memory and by path in turn."""
    if request.param == "memory":
        return service.register(io.BytesIO(PAYLOAD), file_name="p.bin")
    path = tmp_path / "p.bin"
    path.write_bytes(PAYLOAD)
    return service.register(path)


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """A 1 GiB sparse file with markers at known offsets."""
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(1 << 30)
        for offset in (0, 1 << 29, (1 << 30) - (1 << 20)):
            f.seek(offset)
            f.write(hashlib.sha256(str(offset).encode()).digest() * 1000)
    return path
