"""Range and conditional requests, on every cache and backend, in process and on real servers.

``Range`` (single spans, suffixes, unsatisfiable, unsupported forms),
``If-Range``, ``If-None-Match``, ``If-Modified-Since``, ranges of one-time
items, and ranges of a 1 GiB file on a real server (exact bytes, cost
independent of the offset). Malformed headers are in ``test_hostile_input.py``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from tests.support.caches import DATA, PAYLOAD
from tests.support.http import assert_json_error

MB = 1 << 20


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=0-99", 0, 100),
        ("bytes=100-", 100, len(DATA)),
        ("bytes=-100", len(DATA) - 100, len(DATA)),
        ("bytes=5000-5999", 5000, 6000),
        ("bytes=10000-999999", 10000, len(DATA)),  # end clipped to the size
        ("bytes=-999999", 0, len(DATA)),  # suffix longer than the file
    ],
)
def test_single_range(client, address: str, header: str, start: int, stop: int) -> None:
    response = client.get(address, headers={"Range": header})
    assert response.status_code == 206
    assert response.data == DATA[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(DATA)}"
    assert response.headers["Content-Length"] == str(stop - start)


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=99999-100000"])
def test_unsatisfiable_range(client, address: str, header: str) -> None:
    response = client.get(address, headers={"Range": header})
    assert_json_error(response, 416)
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=5-1", ""])
def test_unsupported_range_gives_whole(client, address: str, header: str) -> None:
    response = client.get(address, headers={"Range": header})
    assert response.status_code == 200
    assert response.data == DATA


def test_conditional_get(client, address: str) -> None:
    first = client.get(address)
    etag = first.headers["ETag"]
    assert client.get(address, headers={"If-None-Match": etag}).status_code == 304
    since = first.headers["Last-Modified"]
    assert client.get(address, headers={"If-Modified-Since": since}).status_code == 304
    assert client.get(address, headers={"If-None-Match": '"other"'}).data == DATA


def test_if_range(client, address: str) -> None:
    etag = client.head(address).headers["ETag"]
    current = client.get(address, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (current.status_code, current.data) == (206, DATA[:10])
    stale = client.get(address, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert (stale.status_code, stale.data) == (200, DATA)


def test_one_time_range_claims(client, service) -> None:
    address = service.register(b"0123456789", one_time_service=True)
    assert client.get(address, headers={"Range": "bytes=0-1"}).data == b"01"
    assert client.get(address, headers={"Range": "bytes=2-"}).status_code == 404


# -- on real servers ------------------------------------------------------------------


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
def test_ranges_on_real_server(
    live_server: str, payload_address: str, header: str, start: int, stop: int
) -> None:
    response = requests.get(live_server + payload_address, headers={"Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.content == PAYLOAD[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(PAYLOAD)}"


def test_concurrent_ranges_reassemble(live_server: str, payload_address: str) -> None:
    step = MB // 2
    spans = [(i, min(i + step, len(PAYLOAD))) for i in range(0, len(PAYLOAD), step)]

    def fetch(span: tuple[int, int]) -> bytes:
        headers = {"Range": f"bytes={span[0]}-{span[1] - 1}"}
        return requests.get(live_server + payload_address, headers=headers, timeout=30).content

    with ThreadPoolExecutor(8) as pool:
        assert b"".join(pool.map(fetch, spans)) == PAYLOAD


@pytest.mark.slow
def test_1gib_ranges_exact_on_real_server(start_app_server, backend: str, big_file: Path) -> None:
    server = start_app_server("file", backend, workers=1, threads=4)
    address = server.register(path=str(big_file))
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
def test_1gib_range_at_end_does_not_read_the_start(
    start_app_server, backend: str, big_file: Path
) -> None:
    """The last MiB of 1 GiB must not read (and discard) the 1023 MiB before it."""
    server = start_app_server("file", backend, workers=1, threads=2)
    address = server.register(path=str(big_file))
    worker = psutil.Process(server.stats()["pid"])
    before = worker.io_counters().read_chars
    size = big_file.stat().st_size
    response = requests.get(address, headers={"Range": f"bytes={size - MB}-{size - 2}"}, timeout=60)
    assert response.status_code == 206 and len(response.content) == MB - 1
    read = worker.io_counters().read_chars - before
    assert read < 8 * MB, f"worker read {read / MB:.0f} MiB for a 1 MiB range"
