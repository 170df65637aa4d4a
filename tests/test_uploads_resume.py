"""Uploads interrupted for real, then resumed: byte-identical at the address and via ``read``.

- A proxy on 127.0.0.1 (:mod:`tests.support.proxy`) cuts the connection in
  the middle of a ``PATCH`` body, on every backend: ``HEAD`` then says
  exactly how many bytes arrived, and tuspy continues from there.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Iterator

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.support import (
    BACKENDS,
    close_cache,
    cutting_proxy,
    make_cache,
    serve_in_thread,
    wait_until,
)

tusclient = pytest.importorskip("tusclient.client", reason="tuspy is not installed")
tus_exceptions = pytest.importorskip("tusclient.exceptions")

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = 100_000


def payload(size: int, seed: int = 7) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]


def head_offset(url: str) -> int:
    answer = requests.head(url, headers=TUS, timeout=10)
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["Upload-Offset"])


def check_item(service: dfc.ServiceData, base: str, url: str, data: bytes) -> None:
    """The finished upload at ``url`` is an item holding ``data`` (address and ``read``)."""
    head = requests.head(url, headers=TUS, timeout=10)
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(data))
    address = head.headers["Cached-Address"]
    got = requests.get(base + address, timeout=30)
    assert got.status_code == 200 and got.content == data
    with service.read(address) as stream:
        assert stream.read() == data


# -- a connection cut mid-PATCH ---------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def file_cache(tmp_path: Path) -> Iterator[dfc.CacheAbstract]:
    cache = make_cache("file", tmp_path / "cache")
    yield cache
    close_cache(cache)


def test_cut_mid_patch_then_resumed(backend: str, file_cache: dfc.CacheAbstract) -> None:
    """Two cuts: a stalled one (``HEAD`` then says exactly how many bytes arrived)
    and a sudden one (never more than passed the proxy); tuspy resumes after each."""
    service = dfc.ServiceData(file_cache, uploads=dfc.UploadPolicy())
    data = payload(4 * CHUNK + 4321)
    with serve_in_thread(build_app(service, backend), backend) as base:
        with cutting_proxy(base) as proxy:
            client = tusclient.TusClient(proxy.base + service.upload_address)
            uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=CHUNK)
            uploader.upload_chunk()  # the first chunk goes through
            assert uploader.offset == CHUNK
            url = str(uploader.url)

            proxy.arm(37_123, pause=0.5)
            cut_chunk(uploader)
            # every byte that passed the proxy is kept, and no other
            expected = CHUNK + 37_123
            assert wait_until(lambda: head_offset(url) == expected), head_offset(url)

            uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=CHUNK, url=url)
            assert uploader.offset == expected
            proxy.arm(51_234)
            cut_chunk(uploader)
            assert proxy.cuts == 2
            # a sudden cut may overtake bytes the server buffered: fewer, never more
            wait_until(lambda: head_offset(url) > expected, timeout=1)
            assert expected <= head_offset(url) <= expected + 51_234

            resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=CHUNK, url=url)
            resumed.upload()
            check_item(service, proxy.base, url, data)


def cut_chunk(uploader: object) -> None:
    """Send the next chunk through an armed proxy: it fails."""
    with pytest.raises((tus_exceptions.TusCommunicationError, requests.ConnectionError)):
        uploader.upload_chunk()  # type: ignore[attr-defined]
