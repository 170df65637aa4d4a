"""Uploads interrupted for real, then resumed: byte-identical at the address and via ``read``.

- A proxy on 127.0.0.1 (:mod:`tests.support.proxy`) cuts the connection in
  the middle of a ``PATCH`` body, on every backend: ``HEAD`` then says
  exactly how many bytes arrived, and tuspy continues from there.
- A real server process (gunicorn for Flask, uvicorn for FastAPI) with
  CacheFile or CacheRedis is stopped by SIGTERM half-way through an upload
  (and, once, SIGKILLed while a ``PATCH`` body streams in); a new process on
  the same cache and port takes over, and tuspy resumes from the URL it
  stored and the offset the new server reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import signal
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app
from tests.support import (
    BACKENDS,
    app_env,
    close_cache,
    cutting_proxy,
    make_cache,
    run_python,
    serve_in_thread,
    start_server,
    wait_until,
)
from tests.support.http import open_patch

tusclient = pytest.importorskip("tusclient.client", reason="tuspy is not installed")
tus_exceptions = pytest.importorskip("tusclient.exceptions")
FileStorage = pytest.importorskip("tusclient.storage.filestorage").FileStorage

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


# -- a server restarted mid-upload ------------------------------------------------------
UPLOADS_APP = "tests.apps.uploads_app:create_app()"
#: Each backend's real server, as deployed.
SERVERS = {"flask": "gunicorn", "fastapi": "uvicorn"}


def _restart_env(cache: str, backend: str, tmp_path: Path, request: Any) -> Dict[str, str]:
    redis_url = ""
    if cache == "redis":
        server = request.getfixturevalue("redis_session")
        server.flush()
        redis_url = server.url
    return app_env(cache, backend, tmp_path / "cache", redis_url=redis_url)


def _start(backend: str, env: Dict[str, str], tmp_path: Path, port: Optional[int] = None) -> Any:
    return start_server(UPLOADS_APP, server=SERVERS[backend], env=env, log_dir=tmp_path, port=port)


def _uploader(base: str, path: Path, storage: Any) -> Any:
    """tuspy on the file at ``path``, keeping the upload's URL in ``storage`` by the
    file's fingerprint (as an application resuming after its server restarted)."""
    client = tusclient.TusClient(base + "/cached-data/uploads")
    return client.uploader(
        file_path=str(path),
        chunk_size=RESTART_CHUNK,
        store_url=True,
        url_storage=storage,
        metadata={"filename": "half.bin"},
    )


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "half.bin"
    path.write_bytes(data)
    return path


RESTART_CHUNK = 256 * 1024


@pytest.mark.parametrize("backend", sorted(SERVERS))
@pytest.mark.parametrize("cache", ["file", "redis"])
def test_sigterm_mid_upload_then_resumed(
    backend: str, cache: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    env = _restart_env(cache, backend, tmp_path, request)
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    data = payload(8 * RESTART_CHUNK + 999, seed=11)
    server = _start(backend, env, tmp_path)
    try:
        first = _uploader(server.url, _file(tmp_path, data), storage)
        first.upload(stop_at=len(data) // 2)
        assert first.offset == len(data) // 2
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) is not None
    finally:
        server.stop()
    port = int(server.url.rsplit(":", 1)[1])
    with closing_server(_start(backend, env, tmp_path, port)) as again:
        resumed = _uploader(again.url, tmp_path / "half.bin", storage)
        assert resumed.url == first.url  # from the stored URL...
        assert resumed.offset == len(data) // 2  # ...and the server's offset
        resumed.upload()
        _check_restarted(again.url, str(resumed.url), data, env)


@pytest.mark.parametrize("cache", ["file", "redis"])
def test_sigkill_mid_patch_then_resumed(
    cache: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A worker killed while a PATCH body streams in: what HEAD says after the
    restart is a prefix of the file, and tuspy completes it byte-identical.

    With CacheRedis the dead worker's lock is a lease: the resume gets 423 until
    it runs out (LEASE_MS, 15 s), inside the component's default retries (19 s).
    """
    env = _restart_env(cache, "flask", tmp_path, request)
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    data = payload(8 * RESTART_CHUNK + 999, seed=12)
    server = _start("flask", env, tmp_path)
    try:
        first = _uploader(server.url, _file(tmp_path, data), storage)
        first.upload(stop_at=2 * RESTART_CHUNK)
        url = str(first.url)
        sent = _stream_then_kill(server, url, data, 2 * RESTART_CHUNK, 3 * RESTART_CHUNK)
    finally:
        server.stop()
    port = int(server.url.rsplit(":", 1)[1])
    with closing_server(_start("flask", env, tmp_path, port)) as again:
        kept = head_offset(url)
        assert 2 * RESTART_CHUNK <= kept <= 2 * RESTART_CHUNK + sent
        resumed = _uploader(again.url, tmp_path / "half.bin", storage)
        assert resumed.url == url and resumed.offset == kept
        resumed.retries, resumed.retry_delay = 8, 3  # 24 s: a lease, and then some
        resumed.upload()
        _check_restarted(again.url, url, data, env)


def _stream_then_kill(server: Any, url: str, data: bytes, offset: int, send: int) -> int:
    """Announce the rest of ``data`` from ``offset``, send ``send`` bytes of it, then
    SIGKILL the server's process group while the body is unfinished; bytes sent."""
    with open_patch(url, offset, len(data) - offset, data[offset : offset + send]):
        time.sleep(0.5)  # the worker is inside the PATCH, writing
        server.kill()
    return send


def _check_restarted(base: str, url: str, data: bytes, env: Dict[str, str]) -> None:
    head = requests.head(url, headers=TUS, timeout=10)
    assert head.headers["Upload-Offset"] == str(len(data))
    address = head.headers["Cached-Address"]
    got = requests.get(base + address, timeout=30)
    assert got.status_code == 200 and got.content == data
    assert "half.bin" in got.headers["Content-Disposition"]
    # service.read in a process of its own, on the same cache, as a callback would
    script = (
        "import os, sys, hashlib, json\n"
        "os.environ.update(json.loads(sys.argv[2]))\n"
        "import dash_file_cache as dfc\n"
        "from tests.apps.app import cache_from_env\n"
        "service = dfc.ServiceData(cache_from_env(os.environ))\n"
        "with service.read(sys.argv[1]) as f:\n"
        "    print(hashlib.sha256(f.read()).hexdigest())\n"
    )
    done = run_python(script, address, json.dumps(env))
    assert done.stdout.strip() == hashlib.sha256(data).hexdigest(), done.stderr


@contextlib.contextmanager
def closing_server(server: Any) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.stop()
