"""Clients that go away mid-download, on real servers on 127.0.0.1.

200 downloads of a 4 MiB item are cut at various points (before the first
byte, after the headers, mid-body; FIN or RST), on the threaded werkzeug
server (in this process, each cache and backend) and under gunicorn (``gthread``;
``CachePlain`` streams from memory, ``CacheFile`` goes through ``sendfile``,
``CacheRedis`` reads its chunks).
Afterwards the server holds no more file descriptors or threads than before,
its RSS has not grown beyond a generous bound, and the item is still served
whole.

One-time items: the first ``GET`` that will send bytes claims (removes) the
item, so a one-time download aborted after its headers leaves the item gone;
the next request gets 404.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import socket
import struct
import threading
from typing import Callable, List, Sequence, Tuple
from urllib.parse import urlsplit

import psutil
import pytest
import requests

import dash_file_cache as dfc
from tests.support.http import uid_of
from tests.support.polling import wait_until

MB = 1 << 20
PAYLOAD = os.urandom(4 * MB)
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
ABORTS = 200
#: Bytes of the response read before the client goes away (0: none, 1: part of the headers).
CUTS = [0, 1, 600, 64 * 1024, MB, 3 * MB]
#: RSS growth allowed over 200 aborts, once warmed up (a leak of one payload per abort
#: would be 800 MiB).
RSS_SLACK = 48 * MB
#: File descriptors allowed above the warmed-up count. A leak of one per abort would
#: show as 200; the slack absorbs the server threads still finishing (each holds its
#: socket and, for ``CacheFile``, its SQLite connection until it ends).
FD_SLACK = 16
WARM_UP = 60


def abort_download(
    url: str, cut: int, rst: bool, range_header: str = "", headers: Sequence[str] = ()
) -> int:
    """GET ``url`` on a raw socket, read ``cut`` bytes of the response, then drop the connection.

    With ``rst`` the socket closes with SO_LINGER 0 (a TCP reset, as a killed
    browser tab may do); otherwise with an ordinary FIN. ``headers`` are more
    ``Name: value`` lines. Returns the bytes read.
    """
    parts = urlsplit(url)
    target = f"{parts.path}?{parts.query}"
    extra = f"Range: {range_header}\r\n" if range_header else ""
    extra += "".join(f"{line}\r\n" for line in headers)
    request = f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    try:
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(request)
        received = 0
        for _ in range(100_000):
            if received >= cut:
                break
            chunk = sock.recv(min(256 * 1024, cut - received))
            if not chunk:
                break
            received += len(chunk)
        return received
    finally:
        sock.close()


def run_aborts(url: str, count: int, start: int = 0) -> None:
    """``count`` aborted downloads of ``url``, cycling through cut points, FIN/RST and ranges."""
    for i in range(start, start + count):
        cut = CUTS[i % len(CUTS)]
        rng = f"bytes={i * 997}-" if i % 5 == 4 else ""
        abort_download(url, cut, rst=i % 2 == 1, range_header=rng)


def full_digest(url: str) -> str:
    """SHA-256 of a complete download of ``url``."""
    digest = hashlib.sha256()
    with requests.get(url, stream=True, timeout=60) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(256 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def settle(measure: Callable[[], int], limit: int, timeout: float = 20.0) -> int:
    """Poll ``measure`` until it is at most ``limit`` (server threads finishing); return it.

    Collects garbage first: the werkzeug server leaves an ``epoll`` selector per
    aborted request in a reference cycle (its own, not this library's), which
    the collector closes.
    """
    value = [measure()]

    def done() -> bool:
        gc.collect()
        value[0] = measure()
        return value[0] <= limit

    wait_until(done, timeout=timeout, step=0.1)
    return value[0]


#: Threads of asyncio's default executor (Quart runs sync code there): a pool that
#: starts threads as concurrency asks, up to its bound, and keeps them.
POOL_PREFIX = "asyncio_"
POOL_BOUND = min(32, (os.cpu_count() or 1) + 4)


def request_threads() -> int:
    """This process's threads, less asyncio's default executor (see ``POOL_PREFIX``)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith(POOL_PREFIX))


def pool_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(POOL_PREFIX))


# -- a server in this process (werkzeug for Flask): each cache and backend -----------


def test_aborted_downloads_live_server(
    live_server: str, service: dfc.ServiceData, backend: str
) -> None:
    """200 aborts on a server in this process leak no fd, thread or memory."""
    url = live_server + service.register(io.BytesIO(PAYLOAD), file_name="p.bin")
    me = psutil.Process()
    run_aborts(url, WARM_UP)  # warm up: imports, buffers, threads, connections
    assert full_digest(url) == DIGEST
    base_threads = request_threads()
    gc.collect()
    base_fds = me.num_fds()
    base_rss = me.memory_info().rss
    run_aborts(url, ABORTS, start=WARM_UP)
    fds = settle(me.num_fds, base_fds + FD_SLACK)
    assert fds <= base_fds + FD_SLACK, f"{fds - base_fds} file descriptors leaked"
    assert wait_until(lambda: request_threads() <= base_threads + 1, timeout=20), (
        f"threads {base_threads} -> {request_threads()}"
    )
    assert pool_threads() <= POOL_BOUND
    growth = me.memory_info().rss - base_rss
    name = type(service.cache).__name__
    print(f"{backend}/{name}: fds {base_fds} -> {fds}, RSS {growth / MB:+.1f} MiB")
    assert growth < RSS_SLACK, f"RSS grew by {growth / MB:.1f} MiB over {ABORTS} aborts"
    assert full_digest(url) == DIGEST  # still servable, whole


def test_aborted_one_time_download_is_gone(live_server: str, service: dfc.ServiceData) -> None:
    """A one-time download aborted after its headers has claimed the item: later GETs 404."""
    for cut, rst in [(600, False), (64 * 1024, True), (MB, False)]:
        address = service.register(io.BytesIO(PAYLOAD), one_time_service=True)
        uid = uid_of(address)
        assert abort_download(live_server + address, cut, rst) > 0
        assert not service.cache.is_in(uid)
        again = requests.get(live_server + address, timeout=10)
        assert again.status_code == 404
        assert again.json()["error"]


# -- gunicorn -------------------------------------------------------------------------


def _gunicorn_worker_totals(stats: dict) -> Tuple[int, int, int]:
    return stats["fds"], stats["rss"], stats["threads"]


@pytest.mark.parametrize("kind", ["plain", "file", "redis"])
def test_aborted_downloads_gunicorn(kind: str, backend: str, start_app_server) -> None:
    """200 aborts leak no fd or memory in the worker.

    Under each backend's real server: gunicorn (1 worker, 4 threads) for
    Flask, uvicorn for FastAPI, hypercorn for Quart.
    """
    server = start_app_server(kind, backend, workers=1, threads=4)
    url = server.register(PAYLOAD)
    run_aborts(url, WARM_UP)
    assert full_digest(url) == DIGEST
    base_fds, base_rss, _ = _gunicorn_worker_totals(server.stats(gc=True))
    run_aborts(url, ABORTS, start=WARM_UP)

    samples: List[dict] = []

    def fds_back() -> bool:
        samples.append(server.stats(gc=True))
        return bool(samples[-1]["fds"] <= base_fds + FD_SLACK)

    assert wait_until(fds_back, timeout=20, step=0.2), (
        f"worker fds {base_fds} -> {samples[-1]['fds']} after {ABORTS} aborts"
    )
    growth = samples[-1]["rss"] - base_rss
    print(f"{backend}/{kind}: fds {base_fds} -> {samples[-1]['fds']}, RSS {growth / MB:+.1f} MiB")
    assert growth < RSS_SLACK, f"worker RSS grew by {growth / MB:.1f} MiB"
    assert full_digest(url) == DIGEST
    one_time = server.register(PAYLOAD, one_time=True)
    assert abort_download(one_time, 64 * 1024, rst=True) > 0
    assert requests.get(one_time, timeout=10).status_code == 404
