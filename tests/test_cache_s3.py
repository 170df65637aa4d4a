"""CacheS3 on a real S3 server (Ceph 16.2's radosgw, see :mod:`tests.support.radosgw`).

The basic contract (paths, bytes and writers streamed in, served through
``ServiceData`` on Flask with ``Range``, 404 after removal), what the layout
promises (a sidecar written last, multipart above one part, nothing left by a
failed write), the one-time claim under 32 concurrent requests, expiry, and
the store going away (503, then recovery) or a bucket that does not exist.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import pickle
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List

import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.support.http import assert_json_error, uid_of
from tests.support.servers import running_server, serve_in_thread

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

#: The fixtures ``radosgw_session`` (the cluster, for the session) and ``radosgw``.
pytest_plugins = ("tests.support.radosgw",)
#: One xdist worker runs them all: one cluster per run, not one per worker.
pytestmark = pytest.mark.xdist_group("radosgw")

MiB = 1 << 20
#: Parts of the caches under test: S3's smallest, so a few MiB make several parts.
PART_MB = 5
DATA = bytes(range(256)) * 40  # 10240 bytes: one PutObject
#: Three parts, the last one short.
BIG = os.urandom(2 * PART_MB * MiB + 12345)
CLAIMERS = 32
REGION = "us-east-1"


@pytest.fixture
def credentials(radosgw: RadosGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's user in the standard AWS variables (as CacheS3 reads them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", radosgw.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", radosgw.secret_key)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(radosgw: RadosGateway) -> Any:
    """A boto3 client of the gateway, to look at the bucket behind the cache's back."""
    return radosgw.client()


@pytest.fixture
def bucket(radosgw: RadosGateway, s3: Any) -> Iterator[str]:
    """A new, empty bucket; deleted with its objects afterwards (the OSD keeps them in RAM)."""
    name = f"dfc-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    yield name
    if radosgw.running:
        empty_bucket(s3, name)


def empty_bucket(s3: Any, name: str) -> None:
    """Delete ``name`` with its objects and unfinished multipart uploads."""
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=name)


def make_cache(radosgw: RadosGateway, bucket: str, **kwargs: Any) -> dfc.CacheS3:
    """A CacheS3 on ``bucket`` that streams every item (``redirect=False``) unless told.

    These suites read the app's own answers; the redirects are in
    ``test_cache_s3_redirect.py``.
    """
    options: dict = {
        "endpoint_url": radosgw.endpoint_url,
        "region": REGION,
        "part_size": 5,
        "redirect": False,
    }
    options.update(kwargs)
    return dfc.CacheS3(bucket, **options)


@pytest.fixture
def cache(radosgw: RadosGateway, bucket: str, credentials: None) -> dfc.CacheS3:
    return make_cache(radosgw, bucket)


@pytest.fixture
def service(cache: dfc.CacheS3) -> dfc.ServiceData:
    return dfc.ServiceData(cache)


@pytest.fixture
def client(service: dfc.ServiceData) -> Any:
    return make_client(build_app(service))


def keys_of(s3: Any, bucket: str) -> List[str]:
    """Every object name in ``bucket``."""
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def address_of_any(service: dfc.ServiceData) -> str:
    """An address of this service naming an item never registered (a valid uid)."""
    from dash_file_cache.services.uid import new_uid

    return service._address(new_uid(), False)


def uploads_of(s3: Any, bucket: str) -> List[str]:
    """The names of the unfinished multipart uploads in ``bucket``."""
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


# -- construction -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"bucket": ""}, ValueError, "bucket"),
        ({"bucket": 3}, TypeError, "bucket"),
        ({"bucket": "b", "url_expires": 0}, ValueError, "url_expires"),
        ({"bucket": "b", "ttl": 0}, ValueError, "ttl"),
        ({"bucket": "b", "part_size": 4}, ValueError, "part_size"),
        ({"bucket": "b", "redirect": "yes"}, TypeError, "redirect"),
    ],
)
def test_bad_arguments(kwargs: dict, exc: type, name: str) -> None:
    with pytest.raises(exc, match=name):
        dfc.CacheS3(**kwargs)


def test_pickle_shares_items(cache: dfc.CacheS3, service: dfc.ServiceData, client: Any) -> None:
    clone = pickle.loads(pickle.dumps(cache))
    address = dfc.ServiceData(clone).register(DATA, mime_type="application/octet-stream")
    assert client.get(address).data == DATA


# -- the basic contract -------------------------------------------------------------------------
@pytest.mark.parametrize("content", [DATA, BIG, b""], ids=["one-put", "multipart", "empty"])
def test_bytes_get_head_conditional(client: Any, service: dfc.ServiceData, content: bytes) -> None:
    address = service.register(
        io.BytesIO(content), file_name="data.bin", mime_type="application/octet-stream"
    )
    response = client.get(address)
    assert response.status_code == 200
    assert response.data == content
    assert response.headers["Content-Length"] == str(len(content))
    assert response.headers["Content-Disposition"] == "inline; filename=data.bin"
    head = client.head(address)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == response.headers["ETag"]
    assert client.get(address, headers={"If-None-Match": head.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=5242879-5242880", PART_MB * MiB - 1, PART_MB * MiB + 1),  # across parts
        ("bytes=1000-10486000", 1000, 10486001),
        ("bytes=10485760-", 2 * PART_MB * MiB, len(BIG)),  # the last part
        ("bytes=-10", len(BIG) - 10, len(BIG)),
        ("bytes=-99999999", 0, len(BIG)),
    ],
)
def test_ranges(client: Any, service: dfc.ServiceData, header: str, start: int, stop: int) -> None:
    address = service.register(io.BytesIO(BIG))
    response = client.get(address, headers={"Range": header})
    assert response.status_code == 206
    assert response.data == BIG[start:stop]
    assert response.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(BIG)}"


def test_range_is_one_ranged_get(cache: dfc.CacheS3, service: dfc.ServiceData) -> None:
    """A read at any offset is one ``GET`` with ``Range: bytes=offset-`` (no skipping)."""
    uid = uid_of(service.register(io.BytesIO(BIG)))
    sent: List[str] = []

    def record(request: Any, **_: Any) -> None:
        if "/data/" in request.url:  # not the sidecar's GET
            sent.append(request.headers.get("Range"))

    cache.client.meta.events.register("before-send.s3.GetObject", record)
    _, loader = cache.load(uid)
    stream = loader()
    assert not isinstance(stream, str)
    stream.seek(len(BIG) - 100)
    assert stream.read(100) == BIG[-100:]
    stream.seek(3)
    assert stream.read(4) == BIG[3:7]
    assert stream.read(4) == BIG[7:11]  # continues the same body
    stream.close()
    assert sent == [f"bytes={len(BIG) - 100}-".encode(), b"bytes=3-"]


def test_path_is_copied(client: Any, service: dfc.ServiceData, tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(BIG)
    address = service.register(str(path), mime_type="application/octet-stream")
    path.unlink()  # copied into the bucket: any host serves it, the file may go
    assert client.get(address).data == BIG


def test_writer_streams_parts(client: Any, service: dfc.ServiceData, s3: Any, bucket: str) -> None:
    """A writer's content goes up part by part; the item appears only when it is complete."""
    with service.open(file_name="big.csv") as out:
        for i in range(0, len(BIG), MiB):
            out.write(BIG[i : i + MiB])
            if i == 6 * MiB:  # one part is up, the item is not there yet
                assert uploads_of(s3, bucket)
                assert not any("/item/" in k for k in keys_of(s3, bucket))
                assert client.get(out.address).status_code == 404
    response = client.get(out.address)
    assert response.data == BIG
    assert response.headers["Content-Type"] == "text/csv"
    assert uploads_of(s3, bucket) == []


def test_writer_memory_is_a_few_parts(service: dfc.ServiceData) -> None:
    """40 MiB written: Python's peak allocation stays within a few 5 MiB parts."""
    import tracemalloc

    block = os.urandom(MiB)
    tracemalloc.start()
    try:
        with service.open(file_name="big.bin") as out:
            for _ in range(40):
                out.write(block)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * PART_MB * MiB, peak / MiB
    assert service.cache.load(uid_of(out.address))[0]["file_name"] == "big.bin"


def test_failed_writer_leaves_nothing(service: dfc.ServiceData, s3: Any, bucket: str) -> None:
    with pytest.raises(RuntimeError, match="boom"), service.open(file_name="x.bin") as out:
        out.write(BIG)
        raise RuntimeError("boom")
    assert keys_of(s3, bucket) == []
    assert uploads_of(s3, bucket) == []


def test_remove_then_404(
    client: Any, cache: dfc.CacheS3, service: dfc.ServiceData, s3: Any, bucket: str
) -> None:
    address = service.register(io.BytesIO(BIG))
    uid = uid_of(address)
    assert cache.is_in(uid) and len(cache) == 1
    assert cache.remove(uid) is True
    assert cache.remove(uid) is False
    assert not cache.is_in(uid)
    assert_json_error(client.get(address), 404)
    assert [k for k in keys_of(s3, bucket) if "/claim/" not in k] == []


def test_object_deleted_behind_our_back(
    client: Any, service: dfc.ServiceData, s3: Any, bucket: str
) -> None:
    address = service.register(io.BytesIO(DATA))
    for name in keys_of(s3, bucket):
        if "/data/" in name:
            s3.delete_object(Bucket=bucket, Key=name)
    assert_json_error(client.get(address), 404)


def test_replace_same_key(cache: dfc.CacheS3) -> None:
    info: dfc.CachedFileInfo = {
        "file_name": "a",
        "content_type": "application/octet-stream",
        "one_time_service": True,
        "created": time.time(),
    }
    cache.dump("k", info, io.BytesIO(b"first"))
    assert cache.remove("k") is True
    cache.dump("k", info, io.BytesIO(b"second"))  # a new version: a new claim key
    assert dfc.caches.abstract.open_content(cache, "k")[1].read() == b"second"
    assert cache.remove("k") is True


def test_ttl_expiry(radosgw: RadosGateway, bucket: str, credentials: None) -> None:
    service = dfc.ServiceData(make_cache(radosgw, bucket, ttl=1))
    client = make_client(build_app(service))
    address = service.register(io.BytesIO(DATA))
    assert client.get(address).status_code == 200
    time.sleep(1.2)
    assert_json_error(client.get(address), 404)
    assert not service.cache.is_in(uid_of(address))


# -- one-time items -----------------------------------------------------------------------------
def test_one_time_refused_where_conditional_writes_are_ignored(
    cache: dfc.CacheS3, service: dfc.ServiceData, s3: Any, bucket: str
) -> None:
    """A store ignoring ``If-None-Match`` cannot serve a one-time item once: refused clearly.

    The store is the real radosgw; the client drops the header before signing,
    as a store that ignores it would. Other items still register, and the
    probe leaves no object behind.
    """

    def drop_condition(request: Any, **_: Any) -> None:
        if "If-None-Match" in request.headers:
            del request.headers["If-None-Match"]

    cache.client.meta.events.register("before-sign.s3.PutObject", drop_condition)
    with pytest.raises(ValueError, match=r"one_time_service=True .* ignores them"):
        service.register(io.BytesIO(DATA), one_time_service=True)
    assert cache.conditional_writes() is False
    address = service.register(io.BytesIO(DATA))
    with service.read(address) as stream:
        assert stream.read() == DATA
    assert not any("/probe/" in k for k in keys_of(s3, bucket))


def test_conditional_writes_probed_once(cache: dfc.CacheS3, s3: Any, bucket: str) -> None:
    """radosgw honours them: the probe says so once, and leaves nothing."""
    calls: List[str] = []
    cache.client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: calls.append(params["Key"])
    )
    assert cache.conditional_writes() is True
    assert cache.conditional_writes() is True
    assert len(calls) == 2 and all("/probe/" in k for k in calls)
    assert keys_of(s3, bucket) == []


def test_writer_parts_grow_past_the_first_thousand(
    cache: dfc.CacheS3, service: dfc.ServiceData, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts grow by part_size every _GROW_EVERY parts (here 2): S3 takes mixed sizes."""
    from dash_file_cache.caches import s3 as s3_module

    monkeypatch.setattr(s3_module, "_GROW_EVERY", 2)
    sizes: List[int] = []
    cache.client.meta.events.register(
        "before-parameter-build.s3.UploadPart",
        lambda params, **_: sizes.append(len(params["Body"])),
    )
    data = os.urandom(50 * MiB)
    with service.open(file_name="grow.bin") as out:
        for i in range(0, len(data), MiB):
            out.write(data[i : i + MiB])
    part = PART_MB * MiB
    assert sizes == [part, part, 2 * part, 2 * part, 3 * part, 50 * MiB - 9 * part]
    with service.read(out.address) as stream:
        assert stream.read() == data


def test_one_time_served_once_under_32_requests(
    service: dfc.ServiceData, s3: Any, bucket: str
) -> None:
    """32 concurrent GETs on a threaded server: exactly one 200 with the bytes, 31 404s.

    The content outlives the claim while it is sent, then is deleted.
    """
    address = service.register(io.BytesIO(BIG), one_time_service=True)
    barrier = threading.Barrier(CLAIMERS)
    with serve_in_thread(build_app(service)) as base:

        def fetch(_: int) -> requests.Response:
            barrier.wait()
            return requests.get(base + address, timeout=60)

        with concurrent.futures.ThreadPoolExecutor(CLAIMERS) as pool:
            answers = list(pool.map(fetch, range(CLAIMERS)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [404] * (CLAIMERS - 1)
    assert next(a for a in answers if a.status_code == 200).content == BIG
    assert [k for k in keys_of(s3, bucket) if "/claim/" not in k] == []


def test_remove_is_atomic_across_clients(cache: dfc.CacheS3, service: dfc.ServiceData) -> None:
    """Separate caches (separate clients, as on separate hosts): one remove wins."""
    for _ in range(3):
        uid = uid_of(service.register(io.BytesIO(DATA), one_time_service=True))
        clones = [pickle.loads(pickle.dumps(cache)) for _ in range(8)]
        barrier = threading.Barrier(len(clones))

        with concurrent.futures.ThreadPoolExecutor(len(clones)) as pool:
            n = len(clones)
            results = list(pool.map(claim, clones, [uid] * n, [barrier] * n))
        assert sorted(results) == [False] * 7 + [True]


def claim(cache: dfc.CacheS3, uid: str, barrier: threading.Barrier) -> bool:
    """``cache.remove(uid)`` once every claimer is ready."""
    barrier.wait()
    return cache.remove(uid)


def server_env(radosgw: RadosGateway, bucket: str) -> Dict[str, str]:
    """The environment of a test app server (``tests.apps.app``) whose cache is ``bucket``."""
    return {
        "DFC_APP_CACHE": "s3",
        "DFC_APP_S3_BUCKET": bucket,
        "DFC_APP_S3_ENDPOINT": radosgw.endpoint_url,
        "AWS_ACCESS_KEY_ID": radosgw.access_key,
        "AWS_SECRET_ACCESS_KEY": radosgw.secret_key,
    }


def test_two_servers_share_the_bucket(radosgw: RadosGateway, bucket: str) -> None:
    """Two gunicorn servers sharing only the bucket serve each other's items; a one-time
    item under 32 concurrent GETs spread over both is served exactly once."""
    env = server_env(radosgw, bucket)
    with running_server(env=env, threads=16) as one, running_server(env=env, threads=16) as two:
        assert one.url != two.url
        shared = requests.post(one.url + "/register", data=BIG, timeout=60).text
        answer = requests.get(two.url + shared, headers={"Range": "bytes=-7"}, timeout=60)
        assert (answer.status_code, answer.content) == (206, BIG[-7:])
        once = requests.post(two.url + "/register?one_time=1", data=BIG, timeout=60).text
        barrier = threading.Barrier(CLAIMERS)

        def fetch(i: int) -> requests.Response:
            barrier.wait()
            return requests.get((one, two)[i % 2].url + once, timeout=60)

        with concurrent.futures.ThreadPoolExecutor(CLAIMERS) as pool:
            answers = list(pool.map(fetch, range(CLAIMERS)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [404] * (CLAIMERS - 1)
    assert next(a for a in answers if a.status_code == 200).content == BIG


# -- failures -----------------------------------------------------------------------------------
def test_gateway_stopped_then_back(
    radosgw: RadosGateway, client: Any, service: dfc.ServiceData
) -> None:
    """503 JSON and CacheUnavailableError while the store is down; recovery once it is back."""
    before = service.register(io.BytesIO(DATA))
    assert client.get(before).data == DATA
    radosgw.stop()
    started = time.monotonic()
    assert_json_error(client.get(before), 503)
    with pytest.raises(dfc.CacheUnavailableError, match="S3 is unavailable"):
        service.register(io.BytesIO(DATA))
    with pytest.raises(dfc.CacheUnavailableError):
        service.cache.is_in(uid_of(before))
    assert time.monotonic() - started < 10  # refused connections fail fast
    radosgw.start()
    assert client.get(before).data == DATA  # the objects stayed in the cluster
    after = service.register(io.BytesIO(BIG))
    assert client.get(after, headers={"Range": "bytes=-5"}).data == BIG[-5:]


def test_bad_credentials_are_503(
    radosgw: RadosGateway, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", radosgw.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong" + radosgw.secret_key[5:])
    service = dfc.ServiceData(make_cache(radosgw, bucket))
    client = make_client(build_app(service))
    with pytest.raises(dfc.CacheUnavailableError, match="SignatureDoesNotMatch"):
        service.register(DATA)
    assert_json_error(client.get(address_of_any(service)), 503)


def test_missing_bucket_is_named(radosgw: RadosGateway, credentials: None) -> None:
    name = f"dfc-missing-{secrets.token_hex(4)}"
    cache = make_cache(radosgw, name)
    with pytest.raises(dfc.CacheUnavailableError, match=f"bucket '{name}' does not exist"):
        build_app(dfc.ServiceData(cache))  # serve() checks the bucket
    with pytest.raises(dfc.CacheUnavailableError, match=f"bucket '{name}' does not exist"):
        dfc.ServiceData(cache).register(BIG)


def test_prepare_only_logs_when_the_store_is_down(
    bucket: str, credentials: None, caplog: pytest.LogCaptureFixture
) -> None:
    cache = dfc.CacheS3(bucket, endpoint_url="http://127.0.0.1:1", region=REGION, timeout=1)
    cache.prepare()
    assert "S3 does not answer" in caplog.text


@pytest.fixture(autouse=True)
def _gateway_running(radosgw: RadosGateway) -> Iterator[None]:
    """A test that stops the gateway and fails leaves it stopped: start it for the next."""
    yield
    if not radosgw.running:
        radosgw.start()
