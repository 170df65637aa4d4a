"""Descriptors the library opens close when their request or thread ends, not by the collector.

The checks run with the garbage collector off: a file left to the collector
(a handle in a reference cycle, a generator never started, an iterable whose
``close`` the server skipped) stays open and is counted. Only descriptors on
the cache's own files and the served path are counted (``/proc/self/fd``),
so the servers' own cyclic garbage (werkzeug leaves an ``epoll`` selector in
a cycle when a client resets) does not blur the result.
"""

from __future__ import annotations

import gc
import io
import os
import threading
import weakref
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.support.caches import make_cache
from tests.support.http import uid_of
from tests.support.polling import wait_until
from tests.support.servers import serve_in_thread
from tests.test_aborts import abort_download

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc/self/fd"
)

MB = 1 << 20
PAYLOAD = os.urandom(2 * MB)
#: Server threads still finishing may hold a descriptor or two for a moment.
SLACK = 2
#: Descriptors of one SQLite connection to the index: cache.db, its -wal and -shm.
PER_CONNECTION = 3
#: The largest server thread pool here: AnyIO's default limiter (Starlette); Quart's
#: asyncio executor has min(32, CPUs + 4), werkzeug a short-lived thread per request.
POOL_THREADS = 40
#: Requests of each stage.
REPEAT = 12


def descriptors_under(*roots: Path) -> List[str]:
    """The targets of this process's descriptors that lie under ``roots``."""
    prefixes = tuple(str(root) for root in roots)
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
        if target.startswith(prefixes):
            found.append(target)
    return found


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The collector off for the test (collected once before)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_cache_file_connections_close_with_their_threads(tmp_path: Path, no_gc: None) -> None:
    """100 threads each load an item: their SQLite connections close as they end.

    Left to the collector, each dead thread's connection kept ``cache.db``
    open (werkzeug's server starts a thread per request).
    """
    cache = dfc.CacheFile(tmp_path / "cache")
    uid = uid_of(dfc.ServiceData(cache).register(io.BytesIO(b"x" * 1000)))

    def load() -> None:
        _, loader = cache.load(uid)
        stream = loader()
        assert not isinstance(stream, str)
        stream.close()

    load()
    base = len(descriptors_under(tmp_path))
    for _ in range(100):
        thread = threading.Thread(target=load)
        thread.start()
        thread.join()
    held = descriptors_under(tmp_path)
    assert len(held) <= base + SLACK, f"{len(held) - base} descriptors left: {sorted(set(held))}"


#: (label, request headers or method, bytes read before the client goes away, reset).
STAGES = [
    ("complete", "", 1 << 30, False),
    ("before-first-byte-rst", "", 0, True),
    ("before-first-byte-fin", "", 0, False),
    ("in-headers", "", 1, True),
    ("after-headers", "", 600, False),
    ("mid-body-fin", "", MB, False),
    ("mid-body-rst", "", MB, True),
    ("range-mid-body", "Range: bytes=1000-", 64 * 1024, True),
    ("unsatisfiable-range", "Range: bytes=999999999-", 1 << 30, False),
    ("not-modified", "If-None-Match: {etag}", 1 << 30, False),
    ("head", "HEAD", 1 << 30, False),
]


def _request(url: str, how: str, etag: str, cut: int, rst: bool) -> None:
    """Send one request of a stage on a raw socket and go away after ``cut`` bytes."""
    if how == "HEAD":
        response = requests.head(url, timeout=10)
        assert response.status_code == 200
        return
    # Connection: close, so that reading to the end does not wait on a kept-alive connection.
    headers = ["Connection: close"] + ([how.format(etag=etag)] if how else [])
    abort_download(url, cut, rst, headers=headers)


def _split(held: List[str]) -> Tuple[List[str], List[str]]:
    """(content descriptors, ``cache.db`` index descriptors) of ``held``."""
    index = [target for target in held if os.path.basename(target).startswith("cache.db")]
    return [target for target in held if target not in index], index


@pytest.mark.parametrize("kind", ["file", "plain", "queue"])
def test_every_stage_closes_its_descriptors(
    kind: str, backend: str, tmp_path: Path, no_gc: None
) -> None:
    """Each way a request can end, 12 times, on each adapter: no descriptor on the item stays.

    ``file``: the content handle diskcache opened, and the index connection of
    each server thread; ``plain``/``queue``: a path item opened from disk.
    SQLite keeps (and reuses) the descriptor of a connection it closes while
    another connection of the process holds a lock on ``cache.db``, and a
    thread pool keeps its threads' connections: so after each pass the index
    descriptors may not outnumber the connections of the threads alive.
    """
    cache = make_cache(kind, tmp_path / "cache")
    service = dfc.ServiceData(cache)
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    item = io.BytesIO(PAYLOAD) if kind == "file" else str(source)
    address = service.register(item, file_name="p.bin")
    app = build_app(service, backend)
    with serve_in_thread(app, backend) as base_url:
        url = base_url + address
        first = requests.get(url, timeout=30)
        assert first.content == PAYLOAD
        etag = first.headers["ETag"]
        assert wait_until(lambda: not _split(descriptors_under(tmp_path))[0], timeout=10)
        index = []
        for _ in range(2):
            for label, how, cut, rst in STAGES:
                for _ in range(REPEAT):
                    _request(url, how, etag, cut, rst)

                def closed() -> bool:
                    return not _split(descriptors_under(tmp_path))[0]

                assert wait_until(closed, timeout=10), (
                    f"{label}: content left open: {_split(descriptors_under(tmp_path))[0]}"
                )
            index.append(len(_split(descriptors_under(tmp_path))[1]))
        # A pool thread keeps its connection (the pool grows with the load, up to
        # its bound); a connection per request (216 over the passes) exceeds that.
        bound = PER_CONNECTION * (POOL_THREADS + SLACK)
        assert max(index) <= bound, f"index descriptors per pass: {index}, bound {bound}"
        assert requests.get(url, timeout=30).content == PAYLOAD


def test_test_apps_let_their_cache_go(backend: str, tmp_path: Path) -> None:
    """Once a test drops its app, client and service, the cache (and its open index) is freed.

    FastAPI keeps what it learned of a route function in module-level caches;
    a route closing over the service kept every test's cache alive, with its
    ``cache.db`` open, to the end of the run.
    """
    cache = dfc.CacheFile(tmp_path / "cache")
    service = dfc.ServiceData(cache)
    client = make_client(build_app(service, backend), backend)
    address = service.register(io.BytesIO(b"abc"))
    assert client.get(address).data == b"abc"
    assert client.post("/register", data=b"xyz").status_code == 200
    assert client.get("/stats").status_code == 200
    freed = weakref.ref(cache)
    del cache, service, client
    # A server thread of the client may still hold its last request for a moment.
    assert wait_until(lambda: gc.collect() >= 0 and freed() is None, timeout=10), freed()
    # A pool thread's connection cannot be closed from this thread: a later collection does.
    assert wait_until(lambda: gc.collect() >= 0 and not descriptors_under(tmp_path), timeout=10)
