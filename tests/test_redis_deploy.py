"""CacheRedis deployed: several gunicorn workers, several servers, a Redis restart."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
import requests

from tests.redis_support import (
    RedisServer,
    needs_redis_server,
    redis_server_fixture,
    start_gunicorn,
    stop_processes,
)

pytestmark = [needs_redis_server, pytest.mark.slow]
pytest.importorskip("redis", reason="the redis package is not installed")

CLOSE = {"Connection": "close"}  # a new connection per request: any worker may take it


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    yield from redis_server_fixture()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[[str, int], str]]:
    """``start(redis_url, workers)`` -> base URL; every server is stopped at teardown."""
    procs: List[subprocess.Popen[bytes]] = []
    yield lambda url, workers: start_gunicorn(procs, url, workers, tmp_path)
    stop_processes(procs)


def register(base: str, body: bytes, one_time: bool = False) -> tuple[str, int]:
    """Register ``body`` on the server; return (address, registering worker pid)."""
    response = requests.post(
        base + "/register" + ("?one_time=1" if one_time else ""),
        data=body,
        headers=CLOSE,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.text, int(response.headers["X-Worker-Pid"])


def _status_of(url: str) -> int:
    return requests.get(url, headers=CLOSE, timeout=30).status_code


def test_four_workers_serve_each_others_items(redis_server: RedisServer, gunicorn) -> None:
    base = gunicorn(redis_server.url, 4)
    items = {}
    for i in range(24):
        body = os.urandom(1000 + i) * 100  # ~100 KB, distinct
        address, pid = register(base, body)
        items[address] = (body, pid)

    def fetch(address: str) -> tuple[str, int, int, bool]:
        response = requests.get(base + address, headers=CLOSE, timeout=30)
        pid = int(response.headers["X-Worker-Pid"])
        return address, response.status_code, pid, response.content == items[address][0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, list(items) * 3))
    assert all(status == 200 and same for _, status, _, same in results)
    serving = {pid for _, _, pid, _ in results}
    registering = {pid for _, pid in items.values()}
    assert len(serving) >= 2, f"only worker(s) {serving} served"
    # Items were served by a worker other than the one that registered them.
    crossed = [a for a, _, pid, _ in results if pid != items[a][1]]
    assert crossed
    assert len(serving | registering) >= 2

    # One-time items: of 8 concurrent GETs across workers exactly one succeeds.
    for _ in range(3):
        address, _ = register(base, b"secret" * 1000, one_time=True)
        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(_status_of, [base + address] * 8))
        assert statuses == [200] + [404] * 7


def test_two_servers_share_one_redis(redis_server: RedisServer, gunicorn) -> None:
    server_a = gunicorn(redis_server.url, 1)
    server_b = gunicorn(redis_server.url, 1)
    body = os.urandom(3 * (1 << 20) + 17)  # several chunks
    address, pid_a = register(server_a, body)
    response = requests.get(server_b + address, timeout=30)
    assert response.status_code == 200
    assert response.content == body
    assert int(response.headers["X-Worker-Pid"]) != pid_a
    ranged = requests.get(
        server_b + address, headers={"Range": "bytes=1048570-1048589"}, timeout=30
    )
    assert ranged.status_code == 206
    assert ranged.content == body[1048570:1048590]
    # ...and back: registered on B, served by A.
    address_b, _ = register(server_b, b"from B")
    assert requests.get(server_a + address_b, timeout=30).content == b"from B"


def test_redis_restarted_mid_run(redis_server: RedisServer, gunicorn) -> None:
    base = gunicorn(redis_server.url, 2)
    address, _ = register(base, b"before" * 100)
    assert requests.get(base + address, timeout=30).status_code == 200

    redis_server.stop()
    for _ in range(4):  # whichever worker answers
        down = requests.get(base + address, headers=CLOSE, timeout=30)
        assert down.status_code == 503
        assert down.headers["Content-Type"] == "application/json"
        assert "unavailable" in down.json()["error"]
    refused = requests.post(base + "/register", data=b"x", headers=CLOSE, timeout=30)
    assert refused.status_code == 503
    assert "Redis is unavailable" in refused.json()["error"]

    redis_server.start()  # same port, empty: old addresses are gone, new ones work
    for _ in range(4):
        gone = requests.get(base + address, headers=CLOSE, timeout=30)
        assert gone.status_code == 404
    new_address, _ = register(base, b"after" * 100)
    for _ in range(4):
        ok = requests.get(base + new_address, headers=CLOSE, timeout=30)
        assert ok.status_code == 200 and ok.content == b"after" * 100
