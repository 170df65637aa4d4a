"""Real servers on 127.0.0.1: streaming, HEAD and Range, byte for byte."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

import dash_file_cache as dfc

MB = 1 << 20
PAYLOAD = os.urandom(5 * MB + 12345)


@pytest.fixture(params=["memory", "path"])
def item(request, service: dfc.ServiceData, tmp_path: Path) -> str:
    if request.param == "memory":
        return service.register(io.BytesIO(PAYLOAD), file_name="p.bin")
    path = tmp_path / "p.bin"
    path.write_bytes(PAYLOAD)
    return service.register(path)


def test_stream_whole(live_server: str, item: str) -> None:
    with requests.get(live_server + item, stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(PAYLOAD)
        body = b"".join(response.iter_content(64 * 1024))
    assert body == PAYLOAD


def test_head(live_server: str, item: str) -> None:
    response = requests.head(live_server + item, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(PAYLOAD))
    assert response.content == b""


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        (f"bytes={MB - 1}-{MB}", MB - 1, MB + 1),  # across a chunk boundary
        (f"bytes={3 * MB}-", 3 * MB, len(PAYLOAD)),
        ("bytes=-1000", len(PAYLOAD) - 1000, len(PAYLOAD)),
        (f"bytes=12-{2 * MB + 7}", 12, 2 * MB + 8),
    ],
)
def test_ranges(live_server: str, item: str, header: str, start: int, stop: int) -> None:
    response = requests.get(live_server + item, headers={"Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.content == PAYLOAD[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(PAYLOAD)}"


def test_concurrent_ranges_reassemble(live_server: str, item: str) -> None:
    step = MB // 2
    spans = [(i, min(i + step, len(PAYLOAD))) for i in range(0, len(PAYLOAD), step)]

    def fetch(span: tuple[int, int]) -> bytes:
        headers = {"Range": f"bytes={span[0]}-{span[1] - 1}"}
        return requests.get(live_server + item, headers=headers, timeout=30).content

    with ThreadPoolExecutor(8) as pool:
        assert b"".join(pool.map(fetch, spans)) == PAYLOAD


def test_errors_on_real_server(live_server: str) -> None:
    missing = requests.get(live_server + "/cached-data?uid=" + "0" * 32, timeout=10)
    assert (missing.status_code, missing.json()["error"] != "") == (404, True)
    assert requests.get(live_server + "/cached-data?uid=../x", timeout=10).status_code == 400
    posted = requests.post(live_server + "/cached-data?uid=" + "0" * 32, timeout=10)
    assert posted.status_code == 405


# -- gunicorn: sendfile path, O(1) ranges, flat memory ------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """A 1 GiB sparse file with markers at known offsets."""
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.truncate(1 << 30)
        for offset in (0, 1 << 29, (1 << 30) - MB):
            f.seek(offset)
            f.write(hashlib.sha256(str(offset).encode()).digest() * 1000)
    return path


def _register(url: str, path: Path) -> str:
    response = requests.post(url + "/register-path", params={"path": str(path)}, timeout=30)
    response.raise_for_status()
    return url + response.text


def _worker(url: str) -> psutil.Process:
    return psutil.Process(requests.get(url + "/pids", timeout=10).json()["pid"])


@pytest.mark.slow
def test_gunicorn_ranges_exact(gunicorn_server, big_file: Path) -> None:
    url = gunicorn_server(workers=1, threads=4)
    address = _register(url, big_file)
    size = big_file.stat().st_size
    with open(big_file, "rb") as f:
        spans = [(0, 4096), (1 << 29, (1 << 29) + MB), (size - MB, size), (size - 7, size)]
        for start, stop in spans:
            header = f"bytes={start}-{stop - 1}"
            response = requests.get(address, headers={"Range": header}, timeout=30)
            assert response.status_code == 206
            f.seek(start)
            assert response.content == f.read(stop - start), header
        tail = requests.get(address, headers={"Range": "bytes=-3000"}, timeout=30)
        f.seek(size - 3000)
        assert tail.content == f.read()


@pytest.mark.slow
def test_gunicorn_range_at_end_does_not_read_the_start(gunicorn_server, big_file: Path) -> None:
    """The last MiB of 1 GiB must not read (and discard) the 1023 MiB before it."""
    url = gunicorn_server(workers=1, threads=2)
    address = _register(url, big_file)
    worker = _worker(url)
    before = worker.io_counters().read_chars
    size = big_file.stat().st_size
    response = requests.get(address, headers={"Range": f"bytes={size - MB}-{size - 2}"}, timeout=60)
    assert response.status_code == 206 and len(response.content) == MB - 1
    read = worker.io_counters().read_chars - before
    assert read < 8 * MB, f"worker read {read / MB:.0f} MiB for a 1 MiB range"


@pytest.mark.slow
def test_gunicorn_streams_1gib_with_flat_memory(gunicorn_server, big_file: Path) -> None:
    url = gunicorn_server(workers=1, threads=2)
    address = _register(url, big_file)
    worker = _worker(url)
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


@pytest.mark.slow
def test_gunicorn_several_workers_share_cache_file(gunicorn_server) -> None:
    """Registered by one worker, served by whichever worker gets the GET."""
    url = gunicorn_server(workers=3, threads=2)
    crossed = 0
    servers: set[str] = set()
    for i in range(30):
        body = os.urandom(1000 + i)
        posted = requests.post(url + "/register-bytes", data=body, timeout=10)
        for _ in range(2):
            response = requests.get(url + posted.text, timeout=10)
            assert response.status_code == 200 and response.content == body
            servers.add(response.headers["X-Worker-Pid"])
            crossed += response.headers["X-Worker-Pid"] != posted.headers["X-Worker-Pid"]
    assert len(servers) >= 2 and crossed > 0
