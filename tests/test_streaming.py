"""Streaming on real servers: whole bodies byte for byte, bounded chunks, 1 GiB in flat memory."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Iterable, cast

import flask
import psutil
import pytest
import requests

import dash_file_cache as dfc
from tests.support.caches import PAYLOAD

MB = 1 << 20


def test_stream_whole(live_server: str, payload_address: str) -> None:
    with requests.get(live_server + payload_address, stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(PAYLOAD)
        body = b"".join(response.iter_content(64 * 1024))
    assert body == PAYLOAD


def test_head_on_real_server(live_server: str, payload_address: str) -> None:
    response = requests.head(live_server + payload_address, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(PAYLOAD))
    assert response.content == b""


def test_chunked_streaming(service: dfc.ServiceData, tmp_path: Path) -> None:
    """With ``chunk_size=1`` every cache streams in pieces of at most 1 MiB.

    Flask's test client shows the body's pieces as the service yields them.
    """
    big = os.urandom(3 * MB + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(big)
    service.chunk_size = 1
    app = flask.Flask("chunks")
    service.serve(app)
    client = app.test_client()
    for source in (path, io.BytesIO(big)):
        response = client.get(service.register(source), buffered=False)
        # werkzeug types a body as str or bytes chunks; the service's are bytes
        chunks = list(cast(Iterable[bytes], response.response))
        assert b"".join(chunks) == big
        assert max(len(c) for c in chunks) <= MB
        response.close()


# -- 1 GiB on a real server (gunicorn for Flask: sendfile) -----------------------------


@pytest.mark.slow
def test_1gib_streams_with_flat_memory(start_app_server, backend: str, big_file: Path) -> None:
    server = start_app_server("file", backend, workers=1, threads=2)
    address = server.register(path=str(big_file))
    worker = psutil.Process(server.stats()["pid"])
    requests.get(address, headers={"Range": "bytes=0-0"}, timeout=10)  # warm up the path
    idle = worker.memory_info().rss
    peak = idle
    digest = hashlib.sha256()
    received = 0
    with requests.get(address, stream=True, timeout=120) as response:
        assert response.status_code == 200
        for i, chunk in enumerate(response.iter_content(MB)):
            digest.update(chunk)
            received += len(chunk)
            if i % 16 == 0:
                peak = max(peak, worker.memory_info().rss)
    assert received == 1 << 30
    expected = hashlib.sha256()
    with open(big_file, "rb") as f:
        for block in iter(lambda: f.read(8 * MB), b""):
            expected.update(block)
    assert digest.hexdigest() == expected.hexdigest()
    assert peak - idle < 32 * MB, f"worker RSS grew by {(peak - idle) / MB:.1f} MiB"
