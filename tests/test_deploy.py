"""Deployed: several gunicorn workers and several servers on one shared cache, a Redis restart.

The shared caches (``CacheFile``, ``CacheRedis``) let any worker of any server
serve what another registered.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, Tuple

import pytest
import requests

from tests.support.caches import SHARED_KINDS
from tests.support.redis import REDIS_SERVER, RedisServer, redis_server
from tests.support.servers import Server

pytestmark = pytest.mark.slow

CLOSE = {"Connection": "close"}  # a new connection per request: any worker may take it


def register(server: Server, body: bytes, one_time: bool = False) -> Tuple[str, int]:
    """Register ``body``; return (address, registering worker pid)."""
    response = server.register_response(body, one_time=one_time, headers=CLOSE)
    return response.text, int(response.headers["X-Worker-Pid"])


def _status_of(url: str) -> int:
    return requests.get(url, headers=CLOSE, timeout=30).status_code


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_four_workers_serve_each_others_items(kind: str, start_app_server) -> None:
    """Items registered by one worker are served by the others; one-time items once.

    The app is imported before the workers fork (``--preload``), as many deployments do.
    """
    server = start_app_server(kind, workers=4, keep_alive=0, preload=True)
    items: Dict[str, Tuple[bytes, int]] = {}
    for i in range(24):
        body = os.urandom(1000 + i) * 100  # ~100 KB, distinct
        address, pid = register(server, body)
        items[address] = (body, pid)

    def fetch(address: str) -> Tuple[str, int, int, bool]:
        response = requests.get(server.url + address, headers=CLOSE, timeout=30)
        pid = int(response.headers["X-Worker-Pid"])
        return address, response.status_code, pid, response.content == items[address][0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, list(items) * 3))
    assert all(status == 200 and same for _, status, _, same in results)
    serving = {pid for _, _, pid, _ in results}
    assert len(serving) >= 2, f"only worker(s) {serving} served"
    crossed = [a for a, _, pid, _ in results if pid != items[a][1]]
    assert crossed  # served by a worker other than the one that registered

    # One-time items: of 8 concurrent GETs across workers exactly one succeeds.
    for _ in range(3):
        address, _ = register(server, b"secret" * 1000, one_time=True)
        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(_status_of, [server.url + address] * 8))
        assert statuses == [200] + [404] * 7


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_two_servers_share_one_cache(kind: str, start_app_server, tmp_path: Path) -> None:
    """Registered on gunicorn, served whole and ranged by werkzeug (another server), and back."""
    server_a = start_app_server(kind, directory=tmp_path / "shared")
    server_b = start_app_server(kind, directory=tmp_path / "shared", server="werkzeug")
    body = os.urandom(3 * (1 << 20) + 17)  # several chunks
    address, pid_a = register(server_a, body)
    response = requests.get(server_b.url + address, timeout=30)
    assert response.status_code == 200
    assert response.content == body
    assert int(response.headers["X-Worker-Pid"]) != pid_a
    ranged = requests.get(
        server_b.url + address, headers={"Range": "bytes=1048570-1048589"}, timeout=30
    )
    assert ranged.status_code == 206
    assert ranged.content == body[1048570:1048590]
    address_b, _ = register(server_b, b"from B")
    assert requests.get(server_a.url + address_b, timeout=30).content == b"from B"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test alone (it is stopped and started again)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    pytest.importorskip("redis", reason="the redis package is not installed")
    with redis_server() as server:
        yield server


def test_redis_restarted_mid_run(own_redis: RedisServer, start_app_server: Callable) -> None:
    """503 JSON while Redis is down; after its restart old addresses 404 and new ones work."""
    server = start_app_server("redis", workers=2, redis_url=own_redis.url)
    address, _ = register(server, b"before" * 100)
    assert requests.get(server.url + address, timeout=30).status_code == 200

    own_redis.stop()
    for _ in range(4):  # whichever worker answers
        down = requests.get(server.url + address, headers=CLOSE, timeout=30)
        assert down.status_code == 503
        assert down.headers["Content-Type"] == "application/json"
        assert "unavailable" in down.json()["error"]
    refused = requests.post(server.url + "/register", data=b"x", headers=CLOSE, timeout=30)
    assert refused.status_code == 503
    assert "Redis is unavailable" in refused.json()["error"]

    own_redis.start()  # same port, empty: old addresses are gone, new ones work
    for _ in range(4):
        gone = requests.get(server.url + address, headers=CLOSE, timeout=30)
        assert gone.status_code == 404
    new_address, _ = register(server, b"after" * 100)
    for _ in range(4):
        ok = requests.get(server.url + new_address, headers=CLOSE, timeout=30)
        assert ok.status_code == 200 and ok.content == b"after" * 100
