"""Uploads into CacheS3 over HTTP, on real servers and the real radosgw.

The tus suites of ``test_uploads_tuspy.py`` (tuspy, checksum, deferred
length, termination, concatenation) on every backend with a ``CacheS3``;
then what only a bucket shared by hosts shows: a 21 MiB file in 1 MiB
``PATCH``\\ es (and in one), ``PATCH``\\ es alternating between two gunicorn
servers that share only the bucket, concurrent ``PATCH``\\ es (one wins), a
connection cut mid-body (the bytes that arrived count), and the gateway
stopped mid-upload (503, then the upload resumes).
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterator, List

import pytest
import requests

import dash_file_cache as dfc
from tests import test_uploads_resume as resume_suite
from tests.apps.app import build_app
from tests.support import BACKENDS, serve_in_thread
from tests.support.http import open_patch
from tests.support.servers import running_server
from tests.test_cache_s3 import bucket, credentials, make_cache, s3, server_env
from tests.test_uploads_tuspy import (
    PATCH,
    TUS,
    check_item,
    create,
    creation_url,
    payload,
    served,
    test_a_registered_item_is_no_upload,
    test_creation_with_upload_and_concatenation,
    test_raw_flow_checksum_deferred_and_termination,
    test_tuspy_upload_becomes_an_item,
)

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

tusclient = pytest.importorskip("tusclient.client", reason="tuspy is not installed")

pytest_plugins = ("tests.support.radosgw",)
#: A second group (a second Ceph cluster, about 12 s to start) so that, under xdist, the S3
#: suites run on two workers: one group of them all takes about 4 minutes alone.
pytestmark = pytest.mark.xdist_group("radosgw-2")

__all__ = [
    "bucket",
    "credentials",
    "s3",
    "served",
    "test_a_registered_item_is_no_upload",
    "test_creation_with_upload_and_concatenation",
    "test_raw_flow_checksum_deferred_and_termination",
    "test_tuspy_upload_becomes_an_item",
]

MiB = 1 << 20
UPLOADS_APP = "tests.apps.uploads_app:create_app()"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def upload_cache(radosgw: RadosGateway, bucket: str, credentials: None) -> dfc.CacheS3:
    return make_cache(radosgw, bucket)


@pytest.fixture
def big(upload_cache: dfc.CacheS3) -> Iterator[Any]:
    """A service taking uploads of any size into CacheS3, on werkzeug: ``(service, base)``."""
    service = dfc.ServiceData(upload_cache, uploads=dfc.UploadPolicy())
    with serve_in_thread(build_app(service)) as base:
        yield service, base


@pytest.mark.parametrize("chunk_size", [MiB, 1 << 30], ids=["1MiB-patches", "one-patch"])
def test_tuspy_21mib_file(big: Any, chunk_size: int) -> None:
    """Byte-identical at the address (``Range`` too) and through ``service.read``."""
    service, base = big
    data = payload(21 * MiB + 12345, seed=9)
    client = tusclient.TusClient(creation_url(service, base))
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=chunk_size,
        metadata={"filename": "big.bin"},
        upload_checksum=True,
    )
    uploader.upload()
    head = requests.head(uploader.url, headers=TUS, timeout=10)
    assert head.headers["Upload-Offset"] == str(len(data))
    check_item(service, base, head.headers["Cached-Address"], data)


def test_patches_alternate_between_two_servers(radosgw: RadosGateway, bucket: str) -> None:
    """Two gunicorn servers sharing only the bucket: each 1 MiB ``PATCH`` goes to the
    other one, and the file arrives whole on both."""
    env = server_env(radosgw, bucket)
    data = payload(12 * MiB + 777, seed=10)
    with running_server(UPLOADS_APP, env=env) as one, running_server(UPLOADS_APP, env=env) as two:
        servers = (one.url, two.url)
        url = one.url + "/cached-data/uploads"
        created = create(url, len(data))
        assert created.status_code == 201
        path = created.headers["Location"]
        offset, turn, answer = 0, 0, None
        while offset < len(data):
            turn += 1
            answer = requests.patch(
                servers[turn % 2] + path,
                data=data[offset : offset + MiB],
                headers={**PATCH, "Upload-Offset": str(offset)},
                timeout=30,
            )
            assert answer.status_code == 204, answer.text
            offset = int(answer.headers["Upload-Offset"])
        assert answer is not None and turn == 13
        address = answer.headers["Cached-Address"]
        for base in servers:
            assert requests.get(base + address, timeout=30).content == data
            head = requests.head(base + path, headers=TUS, timeout=10)
            assert head.headers["Upload-Offset"] == str(len(data))


def test_concurrent_patches_one_wins(big: Any) -> None:
    """A ``PATCH`` whose body is still coming holds the upload: another gets 423; four
    racing ``PATCH``\\ es of whole bodies: one body whole, never a mix."""
    service, base = big
    url = creation_url(service, base)
    size = 6 * MiB
    location = requests.compat.urljoin(url, create(url, size).headers["Location"])
    with open_patch(location, 0, size, b"a" * MiB) as held:
        time.sleep(0.5)  # the first request holds the lease
        refused = requests.patch(
            location, data=b"b" * size, headers={**PATCH, "Upload-Offset": "0"}, timeout=30
        )
        assert refused.status_code == 423
        held.sendall(b"a" * (size - MiB))
        assert held.recv(4096).startswith(b"HTTP/1.1 204")
    assert requests.get(base + _address(location), timeout=30).content == b"a" * size

    location = requests.compat.urljoin(url, create(url, size).headers["Location"])
    bodies = [bytes([65 + n]) * size for n in range(4)]

    def send(body: bytes) -> int:
        headers = {**PATCH, "Upload-Offset": "0"}
        return requests.patch(location, data=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses: List[int] = list(pool.map(send, bodies))
    assert statuses.count(204) >= 1 and set(statuses) <= {204, 409, 423}, statuses
    assert requests.get(base + _address(location), timeout=30).content in bodies


def _address(location: str) -> str:
    head = requests.head(location, headers=TUS, timeout=10)
    assert head.status_code == 200
    return str(head.headers["Cached-Address"])


def test_cut_mid_patch_then_resumed(backend: str, upload_cache: dfc.CacheS3) -> None:
    """``test_uploads_resume``'s cuts: the bytes that arrived are a segment, counted."""
    resume_suite.test_cut_mid_patch_then_resumed(backend, upload_cache)


def test_gateway_stopped_mid_upload_then_resumed(radosgw: RadosGateway, big: Any) -> None:
    """503 (JSON) while the store is down, the offset unchanged; the upload resumes."""
    service, base = big
    url = creation_url(service, base)
    data = payload(7 * MiB + 5, seed=11)
    location = requests.compat.urljoin(url, create(url, len(data)).headers["Location"])
    first = requests.patch(
        location, data=data[: 3 * MiB], headers={**PATCH, "Upload-Offset": "0"}, timeout=30
    )
    assert first.status_code == 204
    radosgw.stop()
    try:
        for method in ("PATCH", "HEAD"):
            down = requests.request(
                method,
                location,
                data=data[3 * MiB :] if method == "PATCH" else None,
                headers={**PATCH, "Upload-Offset": str(3 * MiB)},
                timeout=30,
            )
            assert down.status_code == 503, (method, down.status_code)
    finally:
        radosgw.start()
    assert int(requests.head(location, headers=TUS, timeout=10).headers["Upload-Offset"]) == 3 * MiB
    client = tusclient.TusClient(url)
    resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=MiB, url=location)
    resumed.upload()
    check_item(service, base, _address(location), data)


@pytest.fixture(autouse=True)
def _gateway_running(radosgw: RadosGateway) -> Iterator[None]:
    yield
    if not radosgw.running:
        radosgw.start()
