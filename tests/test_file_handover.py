"""``CacheFile.load`` hands over the handle diskcache opened; nothing leaks a descriptor.

The served content is the file object diskcache opened while looking the item
up (no second open by name), so an item evicted or removed between ``load``
and the body is still served whole; ``open_content`` treats that object as
file-backed, so the WSGI server's ``file_wrapper`` (``sendfile`` under
gunicorn) gets it. Every way a request can end closes it.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import IO, Any, ClassVar, List

import flask
import psutil
import pytest
import requests

import dash_file_cache as dfc
from dash_file_cache.caches.abstract import CachedFileInfo
from dash_file_cache.services.content import open_content

PAYLOAD = os.urandom(3 << 20)


def _info() -> CachedFileInfo:
    return {
        "file_name": "p.bin",
        "content_type": "application/octet-stream",
        "one_time_service": False,
        "created": time.time(),
    }


class _Wrapper:
    """A ``wsgi.file_wrapper`` that records the streams it was given."""

    streams: ClassVar[List[IO[bytes]]] = []

    def __init__(self, stream: IO[bytes], chunk: int) -> None:
        self.stream = stream
        self.chunk = chunk
        _Wrapper.streams.append(stream)

    def __iter__(self) -> Any:
        return iter(lambda: self.stream.read(self.chunk), b"")

    def close(self) -> None:
        self.stream.close()


class _Tracked(dfc.CacheFile):
    """A CacheFile that keeps every stream its loaders gave (so GC cannot close them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.given: List[Any] = []

    def load(self, key: str) -> Any:
        info, loader = super().load(key)

        def tracked() -> Any:
            data = loader()
            self.given.append(data)
            return data

        return info, tracked


@pytest.fixture
def cache(tmp_path: Path) -> _Tracked:
    return _Tracked(tmp_path / "cache")


@pytest.fixture
def service(cache: _Tracked) -> dfc.ServiceData:
    return dfc.ServiceData(cache)


@pytest.fixture
def client(service: dfc.ServiceData) -> flask.testing.FlaskClient:
    app = flask.Flask("handover")
    service.serve(app)
    return app.test_client()


def test_load_gives_the_open_handle_that_survives_removal(cache: _Tracked) -> None:
    """No eviction window: the item removed after ``load`` is still read whole."""
    cache.dump("k", _info(), io.BytesIO(PAYLOAD))
    _, loader = cache.load("k")
    assert cache.remove("k") is True
    data = loader()
    assert not isinstance(data, str)
    with data:
        assert data.read() == PAYLOAD
    with pytest.raises(FileNotFoundError):
        loader()  # called again: opens anew, and the content is gone


def test_load_opens_the_content_once(cache: _Tracked, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.dump("k", _info(), io.BytesIO(PAYLOAD))
    opened: List[str] = []
    real_open = open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    _, loader = cache.load("k")
    with loader() as data:
        content = open_content(data, 0.0)
        assert content.stream is data
    assert len(opened) == 1, opened


def test_cache_file_content_goes_to_the_file_wrapper(
    client: flask.testing.FlaskClient, service: dfc.ServiceData, cache: _Tracked
) -> None:
    """gunicorn's ``file_wrapper`` (its ``sendfile`` path) receives diskcache's handle."""
    address = service.register(io.BytesIO(PAYLOAD))
    _Wrapper.streams.clear()
    response = client.get(
        address, environ_overrides={"wsgi.file_wrapper": _Wrapper}, buffered=False
    )
    assert _Wrapper.streams == cache.given and len(cache.given) == 1
    assert response.get_data() == PAYLOAD
    response.close()
    assert cache.given[0].closed


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [
        ("GET", {}, 200),
        ("HEAD", {}, 200),
        ("GET", {"Range": "bytes=10-19"}, 206),
        ("GET", {"Range": "bytes=999999999-"}, 416),
        ("GET", "etag", 304),
    ],
)
def test_every_answer_closes_the_handle(
    client: flask.testing.FlaskClient,
    service: dfc.ServiceData,
    cache: _Tracked,
    method: str,
    headers: Any,
    status: int,
) -> None:
    address = service.register(io.BytesIO(PAYLOAD))
    if headers == "etag":
        headers = {"If-None-Match": client.head(address).headers["ETag"]}
    response = client.open(address, method=method, headers=headers)
    assert response.status_code == status
    response.close()
    assert cache.given and all(stream.closed for stream in cache.given)


def test_aborted_client_closes_the_handle(
    client: flask.testing.FlaskClient, service: dfc.ServiceData, cache: _Tracked
) -> None:
    """A client that goes away mid-body: the server closes the body, which closes the file."""
    address = service.register(io.BytesIO(PAYLOAD))
    for wrapper in (None, _Wrapper):
        environ = {} if wrapper is None else {"wsgi.file_wrapper": wrapper}
        response = client.get(address, environ_overrides=environ, buffered=False)
        assert len(next(iter(response.response))) > 0
        response.close()
    assert len(cache.given) == 2 and all(stream.closed for stream in cache.given)


def test_claimed_one_time_item_closes_the_handle(
    client: flask.testing.FlaskClient, service: dfc.ServiceData, cache: _Tracked
) -> None:
    """The loser of a one-time race (its ``remove`` fails) answers 404 and closes."""
    address = service.register(io.BytesIO(PAYLOAD), one_time_service=True)
    uid = address.split("uid=")[1]
    real_remove = cache.remove

    def remove_lost(key: str) -> bool:
        real_remove(key)
        return False

    cache.remove = remove_lost  # type: ignore[method-assign]
    assert client.get(address).status_code == 404
    assert not cache.is_in(uid)
    assert len(cache.given) == 1 and cache.given[0].closed


def test_gunicorn_sendfiles_cache_file_content(start_app_server) -> None:
    """Under real gunicorn, stored ``CacheFile`` content goes out through ``sendfile``.

    Linux counts a ``sendfile`` in both the read and the written characters of
    the process; a read-and-``send`` loop adds nothing to the written ones (a
    socket ``send`` is not a file write). So the worker's ``wchar`` grows by
    the item's size only if the handle went to gunicorn's file wrapper.
    """
    server = start_app_server("file", workers=1, threads=2)
    body = os.urandom(8 << 20)
    address = server.register(body)
    worker = psutil.Process(server.stats()["pid"])
    before = worker.io_counters().write_chars
    response = requests.get(address, timeout=60)
    assert response.status_code == 200 and response.content == body
    written = worker.io_counters().write_chars - before
    assert written >= len(body), f"worker wrote {written} bytes: no sendfile"
