"""Writers: ``register(writer)``, ``ServiceData.open`` and ``CacheAbstract.open_item``.

Every cache kind (CachePlain, CacheQueue, CacheFile, CacheRedis on a real
``redis-server``), text and binary writers, MIME inference, failures that must
leave nothing behind, child processes, and bytes served by a real server.
"""

from __future__ import annotations

import errno
import io
import os
import random
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple, cast

import flask
import multiprocess
import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache.caches.abstract import CacheAbstract, CachedFileInfo, read_all
from tests.support.redis import RedisServer

MB = 1 << 20
BIG = random.Random(14).randbytes(3 * MB + 4321)  # several Redis chunks of 1 MB


class Boom(Exception):
    """Raised by failing writers."""


@pytest.fixture
def redis_server(redis_session: RedisServer) -> RedisServer:
    """The session's Redis, flushed."""
    redis_session.flush()
    return redis_session


def _redis_keys(server: RedisServer) -> List[bytes]:
    import redis

    client = redis.Redis(port=server.port)
    try:
        return sorted(cast(List[bytes], client.keys("*")))  # no decode_responses: bytes
    finally:
        client.close()


# `cache` and `service` (every cache kind, Redis flushed) come from tests/conftest.py.


@pytest.fixture
def client(service: dfc.ServiceData) -> flask.testing.FlaskClient:
    """A Flask test client of ``service`` (these tests are about caches, not frameworks)."""
    app = flask.Flask("writers")
    service.serve(app)
    return app.test_client()


def _leftovers(cache: dfc.CacheAbstract, request: pytest.FixtureRequest) -> List[str]:
    """What the cache holds besides its index: content files, or keys under its prefix."""
    if isinstance(cache, dfc.CacheFile):
        found = []
        for root, _dirs, files in os.walk(cache.cache_dir):
            found += [os.path.join(root, f) for f in files if not f.startswith("cache.db")]
        return found
    if isinstance(cache, (dfc.CachePlain, dfc.CacheQueue)):
        return [str(len(cache))] if len(cache) else []
    server: RedisServer = request.getfixturevalue("redis_session")
    prefix = cache.prefix.encode()  # type: ignore[attr-defined]
    # `bytes`/`index`/`sizes` bookkeeping keys hold no item.
    return [
        k.decode()
        for k in _redis_keys(server)
        if k.startswith(prefix) and (b":item:" in k or b":chunk:" in k)
    ]


# -- register(writer) on every cache -----------------------------------------------


def test_text_writer(service: dfc.ServiceData, client: flask.testing.FlaskClient) -> None:
    def writer(f: Any) -> None:
        f.write("a,b\n")
        f.writelines([f"{i},é{i}\n" for i in range(1000)])

    address = service.register(writer, file_name="data.csv")
    response = client.get(address)
    assert response.status_code == 200
    expected = ("a,b\n" + "".join(f"{i},é{i}\n" for i in range(1000))).encode("utf-8")
    assert response.data == expected
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename=data.csv" in response.headers["Content-Disposition"]


def test_binary_writer_many_chunks(
    service: dfc.ServiceData, client: flask.testing.FlaskClient
) -> None:
    def writer(f: Any) -> None:
        view = memoryview(BIG)
        for start in range(0, len(BIG), 100_000):  # unaligned with the 1 MB chunks
            f.write(view[start : start + 100_000])

    address = service.register(writer, file_name="blob.bin")
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == BIG
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_mixed_text_and_bytes(service: dfc.ServiceData, client: flask.testing.FlaskClient) -> None:
    def writer(f: Any) -> None:
        assert f.write("héllo ") == 6  # characters, as text files count
        assert f.write(b"\x00\xff") == 2
        assert f.write(bytearray(b" end")) == 4
        assert f.tell() == len("héllo ".encode()) + 6

    response = client.get(service.register(writer, file_name="mixed.txt"))
    assert response.data == "héllo ".encode() + b"\x00\xff end"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_binary_text_type_gets_no_charset(
    service: dfc.ServiceData, client: flask.testing.FlaskClient
) -> None:
    """Bytes written: the encoding is the writer's business, so no charset is claimed."""
    response = client.get(service.register(lambda f: f.write(b"a;b\n"), file_name="x.csv"))
    assert response.headers["Content-Type"] == "text/csv"


def test_empty_writer(service: dfc.ServiceData, client: flask.testing.FlaskClient) -> None:
    response = client.get(service.register(lambda f: None, file_name="empty.txt"))
    assert response.status_code == 200
    assert response.data == b""


def test_writer_may_close_its_file(
    service: dfc.ServiceData, client: flask.testing.FlaskClient
) -> None:
    def writer(f: Any) -> None:
        f.write(b"done")
        f.close()
        assert f.closed
        with pytest.raises(ValueError, match="closed"):
            f.write(b"more")

    assert client.get(service.register(writer, file_name="c.bin")).data == b"done"


def test_one_time_and_download(service: dfc.ServiceData, client: flask.testing.FlaskClient) -> None:
    address = service.register(
        lambda f: f.write("x"), file_name="o.txt", one_time_service=True, download=True
    )
    assert address.endswith("&download=true")
    first = client.get(address)
    assert first.status_code == 200
    assert first.headers["Content-Disposition"].startswith("attachment")
    assert client.get(address).status_code == 404


# -- MIME types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("plot.png", "image/png"),
        ("data.json", "application/json"),
        ("data.parquet", "application/vnd.apache.parquet"),
        ("data.unknown-ext", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_mime_inferred_from_file_name(file_name: str, expected: str) -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    app = flask.Flask("mime")
    service.serve(app)
    response = app.test_client().get(service.register(lambda f: f.write(b"\x89"), file_name))
    assert response.headers["Content-Type"] == expected


def test_explicit_types_win_over_inference() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    app = flask.Flask("mime")
    service.serve(app)
    client = app.test_client()
    # An explicit mime_type, even one equal to the default, is used as given.
    for mime in ("image/jpeg", "text/plain"):
        address = service.register(lambda f: f.write(b"x"), file_name="a.csv", mime_type=mime)
        assert client.get(address).headers["Content-Type"] == mime
    address = service.register(
        lambda f: f.write("x"), file_name="a.csv", content_type="text/csv; charset=latin-1"
    )
    assert client.get(address).headers["Content-Type"] == "text/csv; charset=latin-1"
    with service.open(file_name="a.csv", mime_type="text/tab-separated-values") as out:
        out.write("x")
    assert client.get(out.address).headers["Content-Type"] == (
        "text/tab-separated-values; charset=utf-8"
    )


def test_ordinary_sources_keep_the_documented_default() -> None:
    """Not a writer: ``mime_type`` still defaults to image/jpeg, whatever the name."""
    import inspect

    service = dfc.ServiceData(dfc.CachePlain(4))
    assert inspect.signature(service.register).parameters["mime_type"].default == "image/jpeg"
    app = flask.Flask("mime")
    service.serve(app)
    address = service.register(io.BytesIO(b"x"), file_name="data.csv")
    assert app.test_client().get(address).headers["Content-Type"] == "image/jpeg"


def test_bad_arguments_raise_before_the_writer_runs() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    called: List[int] = []
    with pytest.raises(ValueError, match="content_type"):
        service.register(lambda f: called.append(1), content_type="text/plain\r\nX: y")
    with pytest.raises(TypeError, match="file_name"):
        service.register(lambda f: called.append(1), file_name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file_name"):
        service.open(file_name=b"x.csv")  # type: ignore[arg-type]
    assert called == [] and len(service.cache) == 0  # type: ignore[arg-type]


# -- failures leave nothing behind -------------------------------------------------


def test_failing_writer_leaves_nothing(
    service: dfc.ServiceData,
    cache: dfc.CacheAbstract,
    client: flask.testing.FlaskClient,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    seen: Dict[str, Any] = {}

    def writer(f: Any) -> None:
        f.write(BIG)  # several chunks reach Redis, the content file gets 3 MiB
        seen["address"] = f.address
        raise Boom("midway")

    with pytest.raises(Boom, match="midway"):
        service.register(writer, file_name="bad.bin")
    assert _leftovers(cache, request) == []
    assert list(spool_dir.iterdir()) == []
    assert client.get(seen["address"]).status_code == 404


def test_failing_block_leaves_nothing(
    service: dfc.ServiceData,
    cache: dfc.CacheAbstract,
    client: flask.testing.FlaskClient,
    request: pytest.FixtureRequest,
) -> None:
    with pytest.raises(Boom):
        with service.open(file_name="big.csv") as out:
            for _ in range(3):
                out.write(BIG)
            address = out.address
            raise Boom
    assert _leftovers(cache, request) == []
    assert client.get(address).status_code == 404
    with pytest.raises(RuntimeError, match="Nothing was registered"):
        _ = out.address


def test_writer_failing_after_success_keeps_the_others(
    service: dfc.ServiceData, client: flask.testing.FlaskClient
) -> None:
    good = service.register(lambda f: f.write(b"good"), file_name="g.bin")
    with pytest.raises(Boom):
        service.register(lambda f: (f.write(b"bad"), (_ for _ in ()).throw(Boom())))
    assert client.get(good).data == b"good"


def test_writer_wrong_type_written(
    service: dfc.ServiceData, cache: dfc.CacheAbstract, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(TypeError, match="str or a bytes-like"):
        service.register(lambda f: f.write(42), file_name="n.txt")
    assert _leftovers(cache, request) == []


# -- the context-manager form --------------------------------------------------


def test_open_address_servable_only_after_exit(
    service: dfc.ServiceData, client: flask.testing.FlaskClient
) -> None:
    with service.open(file_name="loop.csv", one_time_service=False) as out:
        assert isinstance(out, dfc.CachedFileWriter)
        assert out.writable() and not out.readable() and not out.seekable()
        for i in range(100):
            out.write(f"{i}\n")
        address = out.address
        assert client.get(address).status_code == 404  # not stored yet
    assert out.closed
    assert address == out.address
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == "".join(f"{i}\n" for i in range(100)).encode()
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_open_needs_with() -> None:
    service = dfc.ServiceData(dfc.CachePlain(4))
    out = service.open(file_name="x.txt")
    with pytest.raises(ValueError, match="with statement"):
        out.write("x")
    with out:
        out.write("x")
    with pytest.raises(ValueError, match="closed"):
        out.write("y")
    with pytest.raises(RuntimeError, match="only once"):
        with out:
            pass


# -- how each cache receives the bytes ------------------------------------------------


def test_cache_file_writes_straight_into_its_content_file(tmp_path: Path) -> None:
    cache = dfc.CacheFile(tmp_path / "cache")
    service = dfc.ServiceData(cache)

    def content_files() -> List[Tuple[str, int]]:
        return [
            (os.path.join(root, f), os.path.getsize(os.path.join(root, f)))
            for root, _d, files in os.walk(cache.cache_dir)
            for f in files
            if f.endswith(".val")
        ]

    with service.open(file_name="big.bin") as out:
        out.write(BIG)
        during = content_files()
        assert len(cache) == 0  # not indexed yet
    # The bytes went to the item's content file while being written (no spool
    # elsewhere), and that very file is what the index now points to.
    assert len(during) == 1 and during[0][1] >= len(BIG) - 64 * 1024
    assert content_files() == [(during[0][0], len(BIG))]
    uid = out.address.split("uid=")[1]
    _info, loader = cache.load(uid)
    loaded = loader()  # the path, or an open handle on that file
    if not isinstance(loaded, str):
        loaded.close()
    assert (loaded if isinstance(loaded, str) else loaded.name) == during[0][0]


def test_cache_redis_stages_chunks_then_publishes(redis_server: RedisServer) -> None:
    cache = dfc.CacheRedis(redis_server.url, prefix="stage:")
    service = dfc.ServiceData(cache)
    with service.open(file_name="big.bin") as out:
        out.write(BIG)
        keys = _redis_keys(redis_server)
        assert sum(b"stage:chunk:" in k for k in keys) == 3  # full chunks, as they come
        assert not any(b"stage:item:" in k for k in keys)  # not published
    keys = _redis_keys(redis_server)
    assert sum(b"stage:chunk:" in k for k in keys) == 4
    assert sum(b"stage:item:" in k for k in keys) == 1
    assert cache.stored_bytes() == len(BIG)


def test_cache_redis_size_limit(redis_server: RedisServer) -> None:
    cache = dfc.CacheRedis(redis_server.url, prefix="limit:", size_limit=2 * MB)
    service = dfc.ServiceData(cache)
    with pytest.raises(OSError) as info:
        service.register(lambda f: f.write(BIG), file_name="big.bin")
    assert info.value.errno == errno.EFBIG
    assert not [k for k in _redis_keys(redis_server) if b"limit:chunk:" in k]


class DictCache(CacheAbstract[CachedFileInfo, Any]):
    """A third-party backend that implements only the abstract methods."""

    def __init__(self) -> None:
        # the bytes read, or a path kept as given
        self.items: Dict[str, Tuple[CachedFileInfo, Any]] = {}

    def is_in(self, key: str) -> bool:
        return key in self.items

    def dump(self, key: str, info: CachedFileInfo, data: Any) -> None:
        self.items[key] = (info, data if isinstance(data, str) else read_all(data))

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], Any]]:
        info, content = self.items[key]
        return info, lambda: io.BytesIO(content)

    def remove(self, key: str) -> bool:
        return self.items.pop(key, None) is not None


def test_default_open_item_for_custom_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cache = DictCache()
    service = dfc.ServiceData(cache)
    app = flask.Flask("custom")
    service.serve(app)
    address = service.register(lambda f: f.write(BIG), file_name="c.bin")
    assert app.test_client().get(address).data == BIG
    with pytest.raises(Boom):
        service.register(lambda f: (f.write(BIG), (_ for _ in ()).throw(Boom())))
    assert len(cache.items) == 1
    assert list(tmp_path.iterdir()) == []  # the spool file is anonymous and gone


# -- real libraries --------------------------------------------------------------------


def test_pandas_writers(service: dfc.ServiceData, client: flask.testing.FlaskClient) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"n": range(5000), "s": [f"é{i}" for i in range(5000)]})
    response = client.get(service.register(df.to_csv, file_name="data.csv"))
    assert response.data == df.to_csv().encode("utf-8")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    response = client.get(service.register(lambda f: df.to_csv(f, index=False), "b.csv"))
    assert response.data == df.to_csv(index=False).encode("utf-8")

    pytest.importorskip("pyarrow")
    response = client.get(service.register(df.to_parquet, file_name="data.parquet"))
    assert response.headers["Content-Type"] == "application/vnd.apache.parquet"
    assert pd.read_parquet(io.BytesIO(response.data)).equals(df)


def test_pandas_writer_failing_midway(
    service: dfc.ServiceData, cache: dfc.CacheAbstract, request: pytest.FixtureRequest
) -> None:
    pd = pytest.importorskip("pandas")

    class Bad:
        def __init__(self, i: int) -> None:
            self.i = i

        def __str__(self) -> str:
            if self.i == 200_000:  # in the second chunk of rows pandas writes
                raise Boom("row 200000")
            return "x" * 20

    df = pd.DataFrame({"v": [Bad(i) for i in range(250_000)]})
    with pytest.raises(Boom):
        service.register(df.to_csv, file_name="bad.csv")
    assert _leftovers(cache, request) == []


# -- child processes and a real server ----------------------------------------------


def _child_writer(service: dfc.ServiceData, size: int, conn: Any) -> None:
    def writer(f: Any) -> None:
        for i in range(size // 1000):
            f.write(bytes([i % 251]) * 1000)

    conn.send(service.register(writer, file_name="child.bin"))
    conn.close()


@pytest.fixture(scope="module")
def manager() -> Iterator[Any]:
    with multiprocess.Manager() as mgr:
        yield mgr


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("which", ["queue", "file"])
def test_writer_in_child_process(
    manager: Any, tmp_path: Path, which: str, start_method: str
) -> None:
    cache: dfc.CacheAbstract = (
        dfc.CacheQueue(8, manager.Queue()) if which == "queue" else dfc.CacheFile(tmp_path / "c")
    )
    service = dfc.ServiceData(cache)
    app = flask.Flask("child")
    service.serve(app)
    context = multiprocess.get_context(start_method)
    parent, child = context.Pipe()
    size = 2 * MB
    proc = context.Process(target=_child_writer, args=(service, size, child))
    proc.start()
    address = parent.recv()
    proc.join(60)
    assert proc.exitcode == 0
    response = app.test_client().get(address)
    assert response.status_code == 200
    assert response.data == b"".join(bytes([i % 251]) * 1000 for i in range(size // 1000))


def test_served_byte_identical_through_a_real_server(
    service: dfc.ServiceData, live_server: str
) -> None:
    """Each backend's real server (conftest ``live_server``) on each cache kind."""
    with service.open(file_name="big.bin") as out:
        for _ in range(4):
            out.write(BIG)
    url = live_server + out.address
    response = requests.get(url, timeout=60)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == BIG * 4
    ranged = requests.get(url, headers={"Range": "bytes=3000000-3000099"}, timeout=60)
    assert ranged.status_code == 206
    assert ranged.content == (BIG * 4)[3000000:3000100]


def test_plotly_write_image_writer(tmp_path: Path) -> None:
    """``fig.write_image`` (kaleido renders with Chromium) writes the PNG bytes."""
    go = pytest.importorskip("plotly.graph_objects")
    pytest.importorskip("kaleido")
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))
    expected = io.BytesIO()
    fig.write_image(expected, format="png", width=300, height=200)
    service = dfc.ServiceData(dfc.CacheFile(tmp_path / "cache"))
    app = flask.Flask("plotly")
    service.serve(app)
    address = service.register(
        lambda f: fig.write_image(f, format="png", width=300, height=200), file_name="plot.png"
    )
    response = app.test_client().get(address)
    assert response.headers["Content-Type"] == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert response.data == expected.getvalue()


def _child_spools(service: dfc.ServiceData, spool_dir: str, conn: Any) -> None:
    tempfile.tempdir = spool_dir
    seen: List[bool] = []

    def writer(f: Any) -> None:
        f.write(b"x" * MB)
        fds = os.listdir("/proc/self/fd")
        seen.append(any(_fd_target(fd).startswith(spool_dir) for fd in fds))

    conn.send((service.register(writer, file_name="spooled.bin"), seen))
    conn.close()


def _fd_target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_cache_queue_child_writes_to_a_spool_file_not_memory(manager: Any, tmp_path: Path) -> None:
    """In a child, CacheQueue.open_item spools to an (anonymous) temporary file."""
    service = dfc.ServiceData(dfc.CacheQueue(8, manager.Queue()))
    app = flask.Flask("spool")
    service.serve(app)
    context = multiprocess.get_context("fork")
    parent, child = context.Pipe()
    proc = context.Process(target=_child_spools, args=(service, str(tmp_path), child))
    proc.start()
    address, seen = parent.recv()
    proc.join(60)
    assert proc.exitcode == 0
    assert seen == [True]
    assert app.test_client().get(address).data == b"x" * MB
    assert list(tmp_path.iterdir()) == []


def test_public_names() -> None:
    assert dfc.CachedFileWriter is dfc.services.CachedFileWriter
    assert "CachedFileWriter" in dfc.__all__ and "Writer" in dfc.__all__
    import inspect

    params = inspect.signature(dfc.ServiceData.open).parameters
    assert list(params)[1:] == [
        "file_name", "content_type", "mime_type", "one_time_service", "download",
    ]  # fmt: skip
    assert params["mime_type"].default is None
    for cache in (dfc.CachePlain, dfc.CacheQueue, dfc.CacheFile):
        assert cache.open_item is not dfc.CacheAbstract.open_item


def test_writer_keys_are_made_like_register_keys(service: dfc.ServiceData) -> None:
    """Keys come from ``cache.new_key`` (per-process caches tag them with their owner)."""
    plain = service.register(io.BytesIO(b"x"), file_name="a.bin").split("uid=")[1]
    written = service.register(lambda f: f.write(b"x"), file_name="a.bin").split("uid=")[1]
    assert len(written) == len(plain) and ("-" in written) == ("-" in plain)
    if isinstance(service.cache, (dfc.CachePlain, dfc.CacheQueue)):
        assert "-" in written  # tagged with the serving process's token


class FullCache(DictCache):
    """A backend whose storage refuses every item (e.g. a full disk)."""

    def dump(self, key: str, info: CachedFileInfo, data: Any) -> None:
        raise OSError(errno.ENOSPC, "no space left")


def test_store_failure_on_exit_propagates_and_registers_nothing() -> None:
    service = dfc.ServiceData(FullCache())
    with pytest.raises(OSError, match="no space"):
        service.register(lambda f: f.write(b"x"), file_name="x.bin")
    with pytest.raises(OSError, match="no space"):
        with service.open(file_name="x.bin") as out:
            out.write(b"x")
    with pytest.raises(RuntimeError, match="Nothing was registered"):
        _ = out.address
