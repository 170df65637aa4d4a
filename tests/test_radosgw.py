"""What the real S3 server of the tests (Ceph 16.2's radosgw) offers: the facts CacheS3 builds on.

Run against the single-node cluster of :mod:`tests.support.radosgw` (skipped
when Ceph is not installed). Each test pins one behaviour; if a Ceph or boto3
upgrade changes one, the test says which.

=============================================  =========  =====================================
Feature                                        Ceph 16.2  How CacheS3 uses it
=============================================  =========  =====================================
Bucket create / ``head_bucket``                yes        check the bucket at ``serve``/first use
``head_bucket`` on a missing bucket            404        ``ClientError`` code ``"404"`` (HEAD
                                                          has no body); other calls give
                                                          ``NoSuchBucket``: name it, no 500
Put/get, streamed reads (``iter_chunks``)      yes        small items in one ``PutObject``;
                                                          reads stream in chunks
``PutObject`` from a non-seekable stream       no (*)     boto3 needs to seek (payload signed):
                                                          writers go through multipart parts
Ranged GET ``bytes=a-b``, ``-n``, ``a-``       yes, 206   ``Range`` mapped to ranged reads
Multipart: 5 MiB parts, list parts, complete   yes        streamed registers, and the item a
                                                          tus upload becomes
A part < 5 MiB that is not the last            refused    ``EntityTooSmall`` at complete: small
                                                          tus PATCHes are merged into segments
                                                          of 5 MiB or more
``UploadPartCopy`` with ``CopySourceRange``    yes        the tus finish copies segments into
                                                          the item inside the store
Abort multipart                                yes        cancelled uploads leave nothing; then
                                                          ``list_parts`` says ``NoSuchKey`` (AWS:
                                                          ``NoSuchUpload``), ``upload_part``
                                                          ``NoSuchUpload``: treat both as gone
Presigned GET + ``ResponseContentType`` and    yes        redirect answers carry our type and
``ResponseContentDisposition`` (RFC 5987 too)             ``Content-Disposition``
Presigned GET: ``Range`` 206, ``If-None-Match``  yes      seeking and revalidation are the
304                                                       store's after a redirect
Presigned GET URL used for HEAD                403        the app answers ``HEAD`` itself
Presigned URL after its expiry                 403        ``AccessDenied``: ``url_expires`` holds
``PutObject`` ``If-None-Match: *``             yes, 412   the one-time claim: exactly one of 32
                                                          concurrent claimers wins
``PutObject`` ``If-Match: <etag>``             unquoted   a quoted ETag (as S3 returns it) is
                                               ETag only  refused with 412: strip the quotes;
                                                          then exactly one of 32 wins
``DeleteObject`` as a claim                    no         204 for everyone, object or not
Bucket lifecycle rule (expire after 1 day)     yes        set, read back and applied to its
                                                          prefix only (``radosgw-admin lc
                                                          process``, a "day" of 5 s): the
                                                          deploy page's rule for the prefix
Wrong secret / unknown access key              403        ``SignatureDoesNotMatch`` /
                                                          ``InvalidAccessKeyId`` -> 503 JSON
Gateway stopped                                refused    ``EndpointConnectionError`` at once
                                                          (connection refused, < 1 s) -> 503
=============================================  =========  =====================================

(*) a limit of boto3 (it reads the body to sign it over plain HTTP), not of Ceph.

boto3 >= 1.36 sends CRC32 checksums by default; radosgw 16.2 accepts them on
``PutObject`` and ``UploadPart`` (the tests use the default client).

Figures on this machine (2 shared cores, other test runs going on): the
cluster starts in about 12 s (radosgw making its pools is most of it; a
restart of the gateway alone takes 0.2 s), its daemons hold about 35 (mon) +
46 (OSD, plus the bytes it stores: memstore) + 44 (radosgw) MiB of RSS, and
this module takes about 35 s, the start included (the expiry tests wait 8 s).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, List

import pytest
import requests

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

#: The fixtures ``radosgw_session`` (the cluster, for the session) and ``radosgw``.
pytest_plugins = ("tests.support.radosgw",)
#: One xdist worker runs them all: one cluster per run, not one per worker.
pytestmark = pytest.mark.xdist_group("radosgw")

MiB = 1 << 20
#: The smallest multipart part S3 accepts, except the last.
PART = 5 * MiB
#: Concurrent claimers of the claim tests (the issue's "32 concurrent requests").
CLAIMERS = 32


@pytest.fixture
def s3(radosgw: RadosGateway) -> Any:
    """A boto3 client of the gateway (default checksums, as CacheS3 will use)."""
    return radosgw.client(max_pool_connections=CLAIMERS)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A new, empty bucket (the cluster is thrown away with its buckets at the end)."""
    name = f"dfc-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    yield name


def error_code(call: Callable[[], object]) -> str:
    """The S3 error code of the ``ClientError`` that ``call`` raises."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    return str(info.value.response["Error"]["Code"])


def status_of(call: Callable[[], object]) -> int:
    """The HTTP status of the ``ClientError`` that ``call`` raises."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call()
    return int(info.value.response["ResponseMetadata"]["HTTPStatusCode"])


def race(claim: Callable[[int], bool], count: int = CLAIMERS) -> List[bool]:
    """Run ``claim(i)`` for ``count`` claimers at once (released together); their results."""
    from threading import Barrier

    barrier = Barrier(count)

    def run(i: int) -> bool:
        barrier.wait()
        return claim(i)

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def won(call: Callable[[], object]) -> bool:
    """Whether ``call`` succeeded; a 412 ``PreconditionFailed`` is a lost claim."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "PreconditionFailed", exc.response
        return False
    return True


# -- the cluster --------------------------------------------------------------------------------
def test_cluster_starts_fast_and_small(radosgw: RadosGateway) -> None:
    """The whole cluster starts within a minute and its daemons use little memory."""
    rss = radosgw.rss()
    mib = {name: size >> 20 for name, size in rss.items()}
    print(f"cluster started in {radosgw.cluster_start_seconds:.1f} s; RSS in MiB: {mib}")
    assert set(rss) == {"mon", "osd", "rgw"}
    assert sum(rss.values()) < 1024 * MiB
    assert radosgw.cluster_start_seconds < 60


# -- buckets ------------------------------------------------------------------------------------
def test_bucket_create_and_head(s3: Any, bucket: str) -> None:
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_missing_bucket(s3: Any) -> None:
    """``head_bucket`` has no body: the code is the status; other calls name the error."""
    missing = f"dfc-missing-{secrets.token_hex(4)}"
    assert error_code(lambda: s3.head_bucket(Bucket=missing)) == "404"
    assert error_code(lambda: s3.get_object(Bucket=missing, Key="k")) == "NoSuchBucket"
    assert error_code(lambda: s3.put_object(Bucket=missing, Key="k", Body=b"x")) == "NoSuchBucket"


def test_missing_object(s3: Any, bucket: str) -> None:
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="gone")) == "NoSuchKey"
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="gone")) == "404"


# -- writing and reading ------------------------------------------------------------------------
def test_put_and_streamed_get(s3: Any, bucket: str) -> None:
    data = secrets.token_bytes(3 * MiB + 17)
    s3.put_object(Bucket=bucket, Key="a.bin", Body=io.BytesIO(data), ContentType="x/y")
    got = s3.get_object(Bucket=bucket, Key="a.bin")
    assert got["ContentLength"] == len(data)
    assert got["ContentType"] == "x/y"
    chunks = list(got["Body"].iter_chunks(64 * 1024))
    assert len(chunks) >= len(data) // (64 * 1024)
    assert b"".join(chunks) == data


class _Stream(io.RawIOBase):
    """A readable stream that cannot seek (a writer's pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


def test_put_object_needs_a_seekable_body(s3: Any, bucket: str) -> None:
    """boto3 must seek the body of ``PutObject``; ``upload_fileobj`` streams in parts."""
    data = secrets.token_bytes(PART * 2 + 1)
    with pytest.raises(io.UnsupportedOperation):
        s3.put_object(Bucket=bucket, Key="s", Body=_Stream(data[:100]))
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=2)
    s3.upload_fileobj(_Stream(data), bucket, "s", Config=config)
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == data


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=-10", 990, 999), ("bytes=995-", 995, 999)],
)
def test_ranged_get(s3: Any, bucket: str, header: str, start: int, end: int) -> None:
    data = secrets.token_bytes(1000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/1000"
    assert got["Body"].read() == data[start : end + 1]


def test_range_beyond_the_end(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    assert status_of(lambda: s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-")) == 416


# -- multipart ----------------------------------------------------------------------------------
def upload_parts(s3: Any, bucket: str, key: str, parts: List[bytes]) -> str:
    """Start a multipart upload of ``parts``; its id (not completed)."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number, part in enumerate(parts, 1):
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=part)
    return str(upload)


def complete(s3: Any, bucket: str, key: str, upload: str) -> Any:
    """Complete ``upload`` with the parts the store lists (as another host would)."""
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload)["Parts"]
    parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )


def test_multipart_upload(s3: Any, bucket: str) -> None:
    parts = [secrets.token_bytes(PART), secrets.token_bytes(PART), b"last"]
    upload = upload_parts(s3, bucket, "m", parts)
    listed = s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, PART), (2, PART), (3, 4)]
    assert [p["ETag"] for p in listed] == [f'"{hashlib.md5(p).hexdigest()}"' for p in parts]
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="m")) == "404"  # not yet there
    complete(s3, bucket, "m", upload)
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"".join(parts)


def test_multipart_parts_below_5_mib_are_refused(s3: Any, bucket: str) -> None:
    """Only the last part may be under 5 MiB: refused when the upload is completed."""
    upload = upload_parts(s3, bucket, "small", [b"a" * MiB, b"b" * 10])
    assert error_code(lambda: complete(s3, bucket, "small", upload)) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload)


def test_upload_part_copy_of_ranges(s3: Any, bucket: str) -> None:
    """Parts copied inside the store from other objects, a range of each (the tus finish)."""
    sources = [secrets.token_bytes(PART + 100), secrets.token_bytes(PART), b"tail" * 10]
    for number, body in enumerate(sources):
        s3.put_object(Bucket=bucket, Key=f"seg{number}", Body=body)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="joined")["UploadId"]
    used = [PART + 50, PART, 25]  # the first segment was cut: only its first bytes count
    parts = []
    for number, length in enumerate(used, 1):
        answer = s3.upload_part_copy(
            Bucket=bucket,
            Key="joined",
            UploadId=upload,
            PartNumber=number,
            CopySource={"Bucket": bucket, "Key": f"seg{number - 1}"},
            CopySourceRange=f"bytes=0-{length - 1}",
        )
        parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="joined", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    expected = b"".join(body[:length] for body, length in zip(sources, used))
    assert s3.get_object(Bucket=bucket, Key="joined")["Body"].read() == expected


def test_multipart_abort(s3: Any, bucket: str) -> None:
    upload = upload_parts(s3, bucket, "a", [b"x" * PART])
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in uploads] == [upload]
    s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload)
    codes = [
        error_code(lambda: s3.list_parts(Bucket=bucket, Key="a", UploadId=upload)),
        error_code(
            lambda: s3.upload_part(Bucket=bucket, Key="a", UploadId=upload, PartNumber=2, Body=b"")
        ),
    ]
    assert codes == ["NoSuchKey", "NoSuchUpload"], codes
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="a")) == "404"


# -- presigned URLs -----------------------------------------------------------------------------
def presign(s3: Any, bucket: str, key: str, expires: int = 60, **params: str) -> str:
    return str(
        s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires
        )
    )


@pytest.mark.parametrize(
    "disposition",
    [
        'attachment; filename="report 1.csv"',
        "attachment; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.csv",
    ],
)
def test_presigned_get_with_overrides(s3: Any, bucket: str, disposition: str) -> None:
    data = secrets.token_bytes(2 * MiB)
    s3.put_object(Bucket=bucket, Key="o", Body=data, ContentType="application/octet-stream")
    url = presign(
        s3, bucket, "o", ResponseContentType="text/csv", ResponseContentDisposition=disposition
    )
    assert url.startswith(s3.meta.endpoint_url)
    got = requests.get(url, timeout=30)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/csv"
    assert got.headers["Content-Disposition"] == disposition
    assert got.content == data


def test_presigned_get_ranges_and_revalidation(s3: Any, bucket: str) -> None:
    """After a redirect, seeking (``Range``) and revalidation (``If-None-Match``) work."""
    data = secrets.token_bytes(10_000)
    etag = s3.put_object(Bucket=bucket, Key="v", Body=data)["ETag"]
    url = presign(s3, bucket, "v")
    part = requests.get(url, headers={"Range": "bytes=5000-5099"}, timeout=30)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 5000-5099/10000"
    assert part.content == data[5000:5100]
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304
    # the signature covers the method: a GET URL does not answer HEAD
    assert requests.head(url, timeout=30).status_code == 403


def test_presigned_get_expires(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="e", Body=b"secret")
    url = presign(s3, bucket, "e", expires=1)
    assert requests.get(url, timeout=30).content == b"secret"
    time.sleep(2)
    late = requests.get(url, timeout=30)
    assert late.status_code == 403
    assert b"<Code>AccessDenied</Code>" in late.content


# -- an atomic claim ----------------------------------------------------------------------------
def test_claim_with_if_none_match(s3: Any, bucket: str) -> None:
    """``PutObject`` with ``If-None-Match: *``: exactly one of 32 concurrent claimers wins."""

    def claim(i: int) -> bool:
        return won(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"%d" % i, IfNoneMatch="*"))

    results = race(claim)
    assert results.count(True) == 1
    winner = results.index(True)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"%d" % winner
    assert not claim(0)  # and anyone later loses too


def test_claim_with_if_match(s3: Any, bucket: str) -> None:
    """``PutObject`` with ``If-Match``: radosgw compares the ETag without its quotes.

    With the unquoted ETag, exactly one of 32 concurrent compare-and-swaps wins.
    """
    etag: str = s3.put_object(Bucket=bucket, Key="c", Body=b"free")["ETag"]
    assert etag.startswith('"')
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"x", IfMatch=etag)) == (
        "PreconditionFailed"
    )
    bare = etag.strip('"')

    def claim(i: int) -> bool:
        return won(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"%d" % i, IfMatch=bare))

    results = race(claim)
    assert results.count(True) == 1
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"%d" % results.index(True)


def test_delete_is_no_claim(s3: Any, bucket: str) -> None:
    """``DeleteObject`` answers 204 to every caller, whether it deleted something or not."""
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")

    def claim(i: int) -> bool:
        response = s3.delete_object(Bucket=bucket, Key="d")
        return bool(response["ResponseMetadata"]["HTTPStatusCode"] == 204)

    assert race(claim) == [True] * CLAIMERS


# -- expiry -------------------------------------------------------------------------------------
def test_lifecycle_rule(radosgw: RadosGateway, s3: Any, bucket: str) -> None:
    """A rule expiring the cache's prefix after 1 day is kept, and applied to that prefix only."""
    rule = {
        "ID": "dash-file-cache",
        "Filter": {"Prefix": "dash-file-cache/"},
        "Status": "Enabled",
        "Expiration": {"Days": 1},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    s3.put_object(Bucket=bucket, Key="dash-file-cache/item", Body=b"old")
    s3.put_object(Bucket=bucket, Key="elsewhere/item", Body=b"kept")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [rule]

    def keys() -> List[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    radosgw.apply_lifecycle()  # younger than a day: kept
    assert keys() == ["dash-file-cache/item", "elsewhere/item"]
    time.sleep(radosgw.lifecycle_day + 1)
    radosgw.apply_lifecycle()
    assert keys() == ["elsewhere/item"]


# -- failures -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("which", "code"), [("secret", "SignatureDoesNotMatch"), ("key", "InvalidAccessKeyId")]
)
def test_wrong_credentials(radosgw: RadosGateway, bucket: str, which: str, code: str) -> None:
    from botocore.exceptions import ClientError

    wrong = {"secret": {"secret_key": "wrong"}, "key": {"access_key": "NOSUCHKEY"}}[which]
    client = radosgw.client(**wrong)  # type: ignore[arg-type]
    with pytest.raises(ClientError) as info:
        client.list_objects_v2(Bucket=bucket)
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_gateway_stopped_then_back(radosgw: RadosGateway, s3: Any, bucket: str) -> None:
    """A stopped gateway: ``EndpointConnectionError`` at once; back on its port, data kept."""
    from botocore.exceptions import EndpointConnectionError

    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")
    quick = radosgw.client(connect_timeout=1, retries={"max_attempts": 1})
    radosgw.stop()
    try:
        started = time.monotonic()
        with pytest.raises(EndpointConnectionError):
            quick.head_bucket(Bucket=bucket)
        assert time.monotonic() - started < 1.0
    finally:
        radosgw.start()
    assert radosgw.start_seconds < 10
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"kept"
