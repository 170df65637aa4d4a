"""What only CacheRedis has, on a real redis-server: chunks, TTL and grace, Lua atomicity, OOM.

The HTTP contract and hostile input run on CacheRedis with every other cache
(``test_contract.py``, ``test_ranges_conditionals.py``, ``test_hostile_input.py``);
this module checks what is specific to Redis: construction and pickling, items
of several chunks and ranges across their boundaries, paths copied or kept,
expiry, the size bound, atomic claims and writes, and Redis going away.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator, cast

import pytest

import dash_file_cache as dfc
from dash_file_cache.caches import CachedFileInfo
from tests.apps.app import build_app, make_client
from tests.support.http import assert_json_error, uid_of
from tests.support.polling import wait_until
from tests.support.processes import ROOT
from tests.support.redis import REDIS_SERVER, RedisServer

if TYPE_CHECKING:
    from redis import Redis  # the module itself is imported below, or the tests skipped

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (Debian: apt-get install redis-server)",
)
redis = pytest.importorskip("redis", reason="the redis package is not installed")

MB = 1 << 20
DATA = bytes(range(256)) * 40  # 10240 bytes: one chunk
BIG = random.Random(7).randbytes(2 * MB + 12345)  # three chunks of 1 MB


@pytest.fixture
def redis_server(redis_session: RedisServer) -> RedisServer:
    """The session's Redis."""
    return redis_session


@pytest.fixture
def rclient(redis_server: RedisServer) -> Iterator[Redis]:
    client = redis.Redis(port=redis_server.port)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def cache(redis_server: RedisServer, rclient: Redis) -> dfc.CacheRedis:
    return dfc.CacheRedis(redis_server.url)


@pytest.fixture
def service(cache: dfc.CacheRedis) -> dfc.ServiceData:
    return dfc.ServiceData(cache)


def client_of(service: dfc.ServiceData) -> Any:
    """A test client of the test app serving ``service``."""
    return make_client(build_app(service))


@pytest.fixture
def client(service: dfc.ServiceData) -> Any:
    return client_of(service)


# -- construction ------------------------------------------------------------
def test_lazy_export_is_the_class() -> None:
    from dash_file_cache.caches.redis import CacheRedis

    assert dfc.CacheRedis is CacheRedis
    assert dfc.caches.CacheRedis is CacheRedis
    assert issubclass(CacheRedis, dfc.CacheAbstract)
    with pytest.raises(AttributeError):
        _ = dfc.caches.NoSuchCache  # type: ignore[attr-defined]


def test_import_without_redis_package() -> None:
    """The package imports without ``redis``; asking for CacheRedis says what to install."""
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "import dash_file_cache as dfc\n"
        "assert dfc.CachePlain and dfc.CacheFile\n"
        "try:\n"
        "    dfc.CacheRedis\n"
        "except ImportError as exc:\n"
        "    assert 'dash-file-cache[redis]' in str(exc), exc\n"
        "    print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"url_or_client": 42}, TypeError, "url_or_client"),
        ({"url_or_client": "http://127.0.0.1:1"}, ValueError, "url_or_client"),
        ({"prefix": 3}, TypeError, "prefix"),
        ({"prefix": ""}, ValueError, "prefix"),
        ({"ttl": 0}, ValueError, "ttl"),
        ({"ttl": 1.5}, TypeError, "ttl"),
        ({"size_limit": 0}, ValueError, "size_limit"),
        ({"size_limit": "1"}, TypeError, "size_limit"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": 513}, ValueError, "chunk_size"),
        ({"copy_paths": 1}, TypeError, "copy_paths"),
        ({"grace": -1}, ValueError, "grace"),
        ({"grace": 1.0}, TypeError, "grace"),
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": "5"}, TypeError, "timeout"),
    ],
)
def test_bad_arguments(kwargs: dict, exc: type, name: str) -> None:
    kwargs = {"url_or_client": "redis://127.0.0.1:1/0", **kwargs}
    with pytest.raises(exc, match=name):
        dfc.CacheRedis(**kwargs)


def test_decoding_client_refused(redis_server: RedisServer) -> None:
    client = redis.Redis(port=redis_server.port, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        dfc.CacheRedis(client)


def test_from_client(redis_server: RedisServer, rclient: Redis) -> None:
    cache = dfc.CacheRedis(rclient, prefix="other:")
    service = dfc.ServiceData(cache)
    address = service.register(b"abc")
    assert client_of(service).get(address).data == b"abc"
    assert rclient.keys("other:item:*")
    with pytest.raises(TypeError, match="URL"):
        pickle.dumps(cache)


def test_pickle_shares_items(cache: dfc.CacheRedis, service: dfc.ServiceData) -> None:
    clone = pickle.loads(pickle.dumps(service))
    address = clone.register(io.BytesIO(DATA))
    assert cache.is_in(uid_of(address))
    assert clone.cache.ttl == cache.ttl and clone.cache.prefix == cache.prefix


# -- several chunks -----------------------------------------------------------------
@pytest.mark.parametrize("content", [BIG, bytes(2 * MB)], ids=["3-chunks", "2-whole-chunks"])
def test_several_chunks_get_and_head(client, service: dfc.ServiceData, content: bytes) -> None:
    address = service.register(
        io.BytesIO(content), file_name="data.bin", mime_type="application/octet-stream"
    )
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Length"] == str(len(content))
    assert response.headers["Content-Disposition"] == "inline; filename=data.bin"
    assert response.headers["Accept-Ranges"] == "bytes"
    head = client.head(address)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(content))
    assert head.headers["ETag"] == response.headers["ETag"]
    again = client.get(address, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=0-99", 0, 100),
        ("bytes=1048575-1048576", MB - 1, MB + 1),  # across a chunk boundary
        ("bytes=1000-2098000", 1000, 2098001),  # three chunks, partial at both ends
        ("bytes=2097152-", 2 * MB, len(BIG)),  # exactly the last chunk
        ("bytes=-10", len(BIG) - 10, len(BIG)),
        ("bytes=-99999999", 0, len(BIG)),
    ],
)
def test_ranges_across_chunks(
    client, service: dfc.ServiceData, header: str, start: int, stop: int
) -> None:
    address = service.register(io.BytesIO(BIG))
    response = client.get(address, headers={"Range": header})
    assert response.status_code == 206
    assert response.data == BIG[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(BIG)}"


def test_range_cost_does_not_depend_on_offset(
    client, service: dfc.ServiceData, rclient: Redis
) -> None:
    """The last byte of a 6-chunk item costs as many Redis reads as the first."""
    content = os.urandom(6 * MB)
    address = service.register(io.BytesIO(content))

    def reads_for(header: str) -> tuple[bytes, int]:
        def total() -> int:
            stats = rclient.info("commandstats")
            return sum(stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("get", "getrange"))

        before = total()
        data = client.get(address, headers={"Range": header}).data
        return data, total() - before - 1  # minus the item's metadata GET

    first, first_reads = reads_for("bytes=0-0")
    last, last_reads = reads_for("bytes=-1")
    middle, middle_reads = reads_for("bytes=3145728-3145827")
    assert (first, last, middle) == (content[:1], content[-1:], content[3 * MB : 3 * MB + 100])
    assert first_reads == last_reads == middle_reads == 1


def test_path_copied_by_default(client, service, cache, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(BIG)
    address = service.register(path, mime_type="application/octet-stream")
    path.unlink()  # copied: the address does not need the file any more
    assert client.get(address).data == BIG
    assert cache.stored_bytes() == len(BIG)


def test_path_kept_by_reference(redis_server, rclient, tmp_path: Path) -> None:
    service = dfc.ServiceData(dfc.CacheRedis(redis_server.url, copy_paths=False))
    client = client_of(service)
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    address = service.register(path, mime_type="application/octet-stream")
    assert isinstance(service.cache, dfc.CacheRedis)
    assert service.cache.stored_bytes() == 0
    assert client.get(address, headers={"Range": "bytes=10-19"}).data == DATA[10:20]
    path.unlink()
    assert_json_error(client.get(address), 404)


# -- one-time service ----------------------------------------------------------
def test_one_time_streams_during_grace(client, service: dfc.ServiceData) -> None:
    address = service.register(io.BytesIO(BIG), one_time_service=True)
    assert client.head(address).status_code == 200  # HEAD does not claim
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == BIG  # streamed after the claim: content kept for the grace
    assert_json_error(client.get(address), 404)


def test_remove_is_atomic_across_threads(cache: dfc.CacheRedis, service) -> None:
    for _ in range(5):
        uid = uid_of(service.register(io.BytesIO(DATA), one_time_service=True))
        clones = [pickle.loads(pickle.dumps(cache)) for _ in range(8)]  # separate pools
        results: list[bool] = []
        barrier = threading.Barrier(len(clones))
        threads = [threading.Thread(target=_claim, args=(c, uid, barrier, results)) for c in clones]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(results) == [False] * 7 + [True]
        assert not cache.is_in(uid)


def _claim(
    cache: dfc.CacheRedis, uid: str, barrier: threading.Barrier, results: list[bool]
) -> None:
    barrier.wait()
    results.append(cache.remove(uid))


def test_grace_zero_deletes_content(redis_server, rclient) -> None:
    cache = dfc.CacheRedis(redis_server.url, grace=0)
    service = dfc.ServiceData(cache)
    uid = uid_of(service.register(io.BytesIO(BIG)))
    assert rclient.keys("dfc:chunk:*")
    assert cache.remove(uid) is True
    assert cache.remove(uid) is False
    assert rclient.keys("dfc:chunk:*") == []
    assert cache.stored_bytes() == 0


def test_removed_content_stays_for_grace(cache, service, rclient) -> None:
    uid = uid_of(service.register(io.BytesIO(BIG)))
    _, loader = cache.load(uid)
    stream = loader()
    assert cache.remove(uid)
    ttls = [rclient.pttl(k) for k in rclient.keys("dfc:chunk:*")]
    assert ttls and all(0 < t <= cache.grace * 1000 for t in ttls)
    assert stream.read() == BIG  # a response already streaming finishes
    stream.close()


# -- expiry and size bound -----------------------------------------------------------
def expired(client, address: str) -> bool:
    """Whether ``address`` answers 404. Content that expires between the item's record and
    its chunks ends the stream with ``FileNotFoundError`` (the test client raises it; a
    server cuts the connection): not expired yet, as seen from here."""
    try:
        return client.get(address).status_code == 404
    except FileNotFoundError:
        return False


def test_ttl_expiry(redis_server, rclient) -> None:
    cache = dfc.CacheRedis(redis_server.url, ttl=1, grace=0)
    service = dfc.ServiceData(cache)
    client = client_of(service)
    address = service.register(io.BytesIO(BIG))
    assert client.get(address).status_code == 200
    assert 0 < rclient.pttl(f"dfc:item:{uid_of(address)}") <= 1000
    # Expired within its second (a condition, not a fixed sleep: Redis expires lazily too).
    assert wait_until(lambda: expired(client, address), timeout=5, step=0.1)
    assert_json_error(client.get(address), 404)
    assert rclient.keys("dfc:chunk:*") == []  # content expired with it (grace 0)
    # The next write prunes the expired item's accounting.
    service.register(io.BytesIO(DATA))
    assert cache.stored_bytes() == len(DATA)


def test_size_limit_evicts_oldest(redis_server, rclient) -> None:
    cache = dfc.CacheRedis(redis_server.url, size_limit=25_000, grace=0)
    service = dfc.ServiceData(cache)
    uids = []
    for i in range(4):
        uids.append(uid_of(service.register(io.BytesIO(bytes([i]) * 10_000))))
        time.sleep(0.002)  # distinct registration times
        assert cache.stored_bytes() <= 25_000
    assert [cache.is_in(u) for u in uids] == [False, False, True, True]
    assert cache.stored_bytes() == 20_000
    # Chunks of evicted items are gone too (grace 0).
    assert len(rclient.keys("dfc:chunk:*")) == 2


def test_item_larger_than_size_limit(redis_server, rclient) -> None:
    cache = dfc.CacheRedis(redis_server.url, size_limit=MB)
    service = dfc.ServiceData(cache)
    kept = uid_of(service.register(io.BytesIO(DATA)))
    with pytest.raises(OSError, match="size_limit") as info:
        service.register(io.BytesIO(BIG))
    assert info.value.errno == errno.EFBIG
    assert cache.is_in(kept)  # a refused item evicts nothing
    chunks = rclient.keys("dfc:chunk:*")
    assert len(chunks) == 1 and chunks[0].startswith(f"dfc:chunk:{kept}:".encode())


def test_redis_out_of_memory(cache: dfc.CacheRedis, service, rclient) -> None:
    """Redis at maxmemory (noeviction): OSError ENOSPC, and nothing left behind."""
    used = int(rclient.info("memory")["used_memory"])
    rclient.config_set("maxmemory-policy", "noeviction")
    rclient.config_set("maxmemory", used + MB)
    try:
        with pytest.raises(OSError, match="out of memory") as info:
            service.register(io.BytesIO(os.urandom(4 * MB)))
        assert info.value.errno == errno.ENOSPC
        assert not isinstance(info.value, dfc.CacheUnavailableError)
    finally:
        rclient.config_set("maxmemory", 0)
    assert rclient.keys("dfc:*") == []


# -- atomic writes ---------------------------------------------------------------
class _Failing(io.RawIOBase):
    """A stream that gives ``good`` bytes and then fails."""

    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            raise OSError(errno.EIO, "source broke")
        n = min(len(buffer), self._left)
        buffer[:n] = b"x" * n
        self._left -= n
        return n


def test_failed_write_leaves_nothing(cache: dfc.CacheRedis, rclient) -> None:
    info: CachedFileInfo = {
        "file_name": "x",
        "content_type": "a/b",
        "one_time_service": False,
        "created": 0.0,
    }
    with pytest.raises(OSError, match="source broke"):
        # a raw binary file; typeshed's RawIOBase is not an IO[bytes]
        cache.dump("k" * 32, info, cast(IO[bytes], _Failing(int(2.5 * MB))))
    assert not cache.is_in("k" * 32)
    assert rclient.keys("dfc:*") == []


def test_writer_killed_mid_register(redis_server, cache: dfc.CacheRedis, rclient) -> None:
    """A process dying between chunks leaves only unpublished chunks, which expire."""
    code = (
        "import io, os, sys\n"
        "import dash_file_cache as dfc\n"
        "class Dying(io.RawIOBase):\n"
        "    n = 0\n"
        "    def readable(self): return True\n"
        "    def readinto(self, b):\n"
        "        if self.n >= 2: os._exit(3)\n"
        "        self.n += 1\n"
        "        b[:] = b'y' * len(b)\n"
        "        return len(b)\n"
        "cache = dfc.CacheRedis(sys.argv[1])\n"
        "info = {'file_name': 'x', 'content_type': 'a/b', 'one_time_service': False,\n"
        "        'created': 0.0}\n"
        "cache.dump('d' * 32, info, io.BufferedReader(Dying(), 1 << 20))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, redis_server.url], cwd=ROOT, timeout=60, capture_output=True
    )
    assert proc.returncode == 3, proc.stderr
    assert not cache.is_in("d" * 32)
    with pytest.raises(FileNotFoundError):
        cache.load("d" * 32)
    orphans = rclient.keys("dfc:chunk:*")
    assert orphans  # written before the crash...
    assert all(0 < rclient.pttl(k) <= (cache.ttl + cache.grace) * 1000 for k in orphans)
    assert cache.stored_bytes() == 0  # ...but never accounted nor served


def test_replace_same_key(cache: dfc.CacheRedis) -> None:
    info: CachedFileInfo = {
        "file_name": "x",
        "content_type": "a/b",
        "one_time_service": False,
        "created": 1.0,
    }
    cache.dump("r" * 32, info, io.BytesIO(BIG))
    cache.dump("r" * 32, {**info, "created": 2.0}, io.BytesIO(DATA))
    got, loader = cache.load("r" * 32)
    assert got["created"] == 2.0
    content = loader()
    assert isinstance(content, io.RawIOBase)  # a stream of the chunks, not a path
    with content as stream:
        assert stream.read() == DATA
    assert cache.stored_bytes() == len(DATA)


# -- the stream ------------------------------------------------------------------
def test_stream_matches_bytesio(cache: dfc.CacheRedis) -> None:
    info: CachedFileInfo = {
        "file_name": "x",
        "content_type": "a/b",
        "one_time_service": False,
        "created": 0.0,
    }
    cache.dump("s" * 32, info, io.BytesIO(BIG))
    _, loader = cache.load("s" * 32)
    stream = loader()
    assert isinstance(stream, io.RawIOBase)  # a stream of the chunks, not a path
    model = io.BytesIO(BIG)
    rng = random.Random(11)
    assert stream.readable() and stream.seekable() and not stream.writable()
    assert stream.seek(0, io.SEEK_END) == len(BIG)
    for _ in range(300):
        where = rng.choice([0, MB - 1, MB, 2 * MB, len(BIG) - 1, rng.randrange(len(BIG) + 10)])
        assert stream.seek(where) == model.seek(where)
        n = rng.choice([0, 1, 100, MB, 3 * MB, -1])
        assert stream.read(n) == model.read(n)
        assert stream.tell() == model.tell()
    stream.seek(5)
    buffer = bytearray(10)
    assert stream.readinto(buffer) == 10 and bytes(buffer) == BIG[5:15]
    with pytest.raises(ValueError):
        stream.seek(-1)
    stream.close()
    with pytest.raises(ValueError):
        stream.read(1)


def test_vanished_content(cache: dfc.CacheRedis, rclient) -> None:
    info: CachedFileInfo = {
        "file_name": "x",
        "content_type": "a/b",
        "one_time_service": False,
        "created": 0.0,
    }
    cache.dump("v" * 32, info, io.BytesIO(BIG))
    _, loader = cache.load("v" * 32)
    stream = loader()
    assert isinstance(stream, io.RawIOBase)  # a stream of the chunks, not a path
    for key in rclient.keys("dfc:chunk:*"):
        rclient.delete(key)
    with pytest.raises(FileNotFoundError):
        stream.read(10)
    with pytest.raises(FileNotFoundError):
        loader()


# -- Redis down --------------------------------------------------------------------
def test_redis_down_then_back(tmp_path: Path) -> None:
    """503 JSON and CacheUnavailableError while Redis is down; recovery once it is back."""
    server = RedisServer()
    server.start()
    try:
        service = dfc.ServiceData(dfc.CacheRedis(server.url, timeout=2.0))
        client = client_of(service)
        before = service.register(io.BytesIO(DATA))
        assert client.get(before).data == DATA

        server.stop()
        started = time.monotonic()
        assert_json_error(client.get(before), 503)
        assert "unavailable" in json.loads(client.get(before).data)["error"]
        with pytest.raises(dfc.CacheUnavailableError, match="Redis is unavailable"):
            service.register(io.BytesIO(DATA))
        with pytest.raises(dfc.CacheUnavailableError):
            service.cache.is_in(uid_of(before))
        assert time.monotonic() - started < 5  # refused connections fail fast

        server.start()  # same port, empty (no persistence)
        assert_json_error(client.get(before), 404)
        after = service.register(io.BytesIO(BIG))  # the script is loaded again
        assert client.get(after, headers={"Range": "bytes=-5"}).data == BIG[-5:]
    finally:
        server.close()


def test_prepare_does_not_fail_when_redis_is_down(caplog) -> None:
    service = dfc.ServiceData(dfc.CacheRedis("redis://127.0.0.1:1/0", timeout=1.0))
    client = client_of(service)  # serve() runs: the app still starts
    assert "Redis does not answer" in caplog.text
    assert_json_error(client.get("/cached-data?uid=" + "a" * 32), 503)


def test_clear_only_touches_its_prefix(cache: dfc.CacheRedis, service, rclient) -> None:
    rclient.set("someone-else", b"keep")
    for content in (DATA, BIG):
        service.register(io.BytesIO(content))
    assert cache.clear() == 2
    assert rclient.keys("*") == [b"someone-else"]
    assert cache.stored_bytes() == 0
