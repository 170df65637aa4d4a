"""Cache in an S3 bucket, shared by every process and host that reaches the bucket.

Needs ``boto3`` (``pip install boto3``). This module is imported lazily by
``dash_file_cache.CacheS3``, so the rest of the library works without it.

Layout of the objects under ``prefix`` (``dash-file-cache/`` by default)::

    {prefix}item/{uid}              JSON sidecar: info, size, version, expiry
    {prefix}data/{uid}/{version}    the content
    {prefix}claim/{uid}/{version}   written once (If-None-Match: *) by the remover

The sidecar is the item: it is written last, after the content object is
complete (one ``PutObject``, or a completed multipart upload), so a reader
never sees a half-written item. The info lives in a sidecar rather than in
the content's object metadata because a writer's info is only final when the
writer closes (after the content's upload was started), because S3 metadata
is ASCII header text (file names are not), and because the service reads the
info of many items it never sends (``HEAD``, ``304``, a lost one-time claim).

Removing an item first claims it: a ``PutObject`` with ``If-None-Match: *``
on its claim key succeeds for exactly one caller, across every host; only
that caller deletes the sidecar (from then on the item is a 404 everywhere)
and the content, at once or, when this process is still streaming it (a
one-time item is claimed before it is sent), when its last stream here
closes. A stream on another host of an item removed meanwhile ends with
``FileNotFoundError`` at its next ranged ``GET``. Claim keys are never
reused (each version has its own) and are left to the bucket's lifecycle
rule, as is content a crashed process did not delete. A store without
conditional writes cannot serve one-time items once: registering one there
raises ``ValueError`` (:meth:`CacheS3.conditional_writes` probes the store).
"""

from __future__ import annotations

import errno
import json
import logging
import threading
import time
import uuid
from contextlib import contextmanager
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, cast

try:
    import boto3
    import botocore.loaders
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("CacheS3 needs the 'boto3' package: pip install boto3.") from _exc

from .._grammar import MB
from .._validate import check_bool, check_int, check_positive_int, check_str
from ._streams import BlockSink, RemoteReader
from .abstract import CacheAbstract, CachedData, CachedFileInfo, CacheUnavailableError, read_block
from .uploads import UploadStore

__all__ = ["CacheS3", "S3ContentStream"]

_log = logging.getLogger(__name__)
#: S3's smallest part but the last; the largest is 5 GiB.
_MIN_PART_MB = 5
_MAX_PART_MB = 5 * 1024
#: S3's most parts per object. A written item's parts grow by ``part_size``
#: every ``_GROW_EVERY`` parts, so memory stays one part for common sizes and
#: 10,000 parts still hold 55,000 times ``part_size`` (440 GiB with 8 MB).
_MAX_PARTS = 10_000
_GROW_EVERY = 1_000
#: Codes meaning "this object is not there" (``HEAD`` answers have no body: "404").
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class _Gone(Exception):
    """An S3 call found no object (turned into ``FileNotFoundError`` by the caller)."""


class _NoBucket(CacheUnavailableError):
    """The bucket does not exist: a configuration error, raised even by ``prepare``."""


_loader: Optional[Any] = None
_loader_lock = threading.Lock()


def _botocore_session() -> Any:
    """A new botocore session whose service models come from one loader per process.

    A session reads the S3 model (a few MB of JSON) on its first client: about 0.1 CPU s
    per session, 0.02 with the loader shared. Only the loader is shared: it holds the static
    models, while credentials and configuration stay per session (a session is not
    thread-safe; the loader's caches are filled idempotently).
    """
    global _loader
    if _loader is None:
        with _loader_lock:
            if _loader is None:
                _loader = botocore.loaders.create_loader()
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader)
    return session


@contextmanager
def _s3_errors(cache: CacheS3, action: str) -> Iterator[None]:
    """Turn ``botocore`` exceptions into the library's ``OSError`` family.

    Raises:
        _Gone: the object is not there (the caller says which item).
        CacheUnavailableError: the store cannot be reached, refuses our
            credentials, has no such bucket (the message names it) or fails.
    """
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise _Gone(code) from exc
        if code == "NoSuchBucket":
            raise _NoBucket(
                f"The S3 bucket {cache.bucket!r} does not exist (while {action})."
            ) from exc
        raise CacheUnavailableError(f"S3 refused {action}: {code or exc}.") from exc
    except BotoCoreError as exc:
        raise CacheUnavailableError(f"S3 is unavailable while {action}: {exc}") from exc


class S3ContentStream(RemoteReader):
    """Read-only, seekable binary stream over one S3 object.

    Nothing is fetched when the stream is made. The first ``read`` after a
    ``seek`` opens one ranged ``GET`` from the position to the end and later
    reads continue from its body, so a read at any offset costs one request
    whatever the object's size, and memory stays at what one ``read`` asks.

    Raises (from ``read``):
        FileNotFoundError: the object is gone (removed or expired).
        CacheUnavailableError: the store cannot be reached.
    """

    def __init__(self, cache: CacheS3, name: str, size: int) -> None:
        super().__init__(size)
        self._cache = cache
        self._name = name
        self._body: Any = None

    def read(self, size: Optional[int] = -1) -> bytes:
        """Read up to ``size`` bytes (all the rest if ``size`` is negative or ``None``)."""
        want = self._wanted(size)
        if want <= 0:
            return b""
        if self._body is None:
            self._body = self._open_body()
        with _s3_errors(self._cache, "reading an item"):
            data = self._body.read(want)
            while len(data) < want:  # short reads from the socket
                more = self._body.read(want - len(data))
                if not more:
                    break
                data += more
        self._pos += len(data)
        return bytes(data)

    def redirect_url(self, content_type: str, content_disposition: str) -> Optional[str]:
        """A presigned ``GET`` URL of the object, answered with these two headers.

        ``None`` when the cache does not redirect (``redirect=False``) or the
        URL cannot be signed (then the content is streamed, and a store
        refusing our credentials answers 503 as usual). Signing is local: no
        request to the store. The URL expires after the cache's ``url_expires``.
        """
        cache = self._cache
        if not cache.redirect:
            return None
        params = {
            "Bucket": cache.bucket,
            "Key": self._name,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
        }
        try:
            url = cache.client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=cache.url_expires
            )
        except (BotoCoreError, ClientError) as exc:
            _log.warning("dash-file-cache: cannot presign %s, streaming it (%s).", self._name, exc)
            return None
        return str(url)

    def close(self) -> None:
        if not self.closed:
            self._drop_body()
            super().close()
            self._cache._stream_closed(self._name)

    def _moved(self) -> None:
        self._drop_body()

    def _open_body(self) -> Any:
        try:
            with _s3_errors(self._cache, "reading an item"):
                answer = self._cache.client.get_object(
                    Bucket=self._cache.bucket, Key=self._name, Range=f"bytes={self._pos}-"
                )
        except _Gone:
            raise FileNotFoundError(
                "The cached content vanished from S3 while being read (removed or expired)."
            ) from None
        return answer["Body"]

    def _drop_body(self) -> None:
        if self._body is not None:
            body, self._body = self._body, None
            body.close()


class CacheS3(CacheAbstract[CachedFileInfo, CachedData]):
    """Cache in an S3 bucket: shared by every worker, process and host using it.

    Use it when the app runs on several hosts that share no disk, and large
    items should not live in RAM (as with :class:`CacheRedis`). Works with AWS
    S3 and stores speaking its API (Ceph radosgw, MinIO, R2...). Every process
    builds its own ``CacheS3`` with the same bucket and prefix.

    - **Credentials** come the standard way (``AWS_ACCESS_KEY_ID`` /
      ``AWS_SECRET_ACCESS_KEY``, ``~/.aws/credentials``, an instance role);
      the endpoint from ``endpoint_url`` or ``AWS_ENDPOINT_URL``.
    - **Streaming writes**: paths, files and writers are streamed into the
      store: in one ``PutObject`` up to ``part_size`` MB, above it as a
      multipart upload of ``part_size`` MB parts, so memory holds one part
      whatever the item's size. The item's JSON sidecar is written last:
      an item is servable only once its content is complete.
    - **Redirects** (``redirect=True``, the default): after the usual checks
      (uid, CORS), a ``GET`` of a passive item is answered with ``307
      Temporary Redirect`` to a presigned URL of its content object, made
      with the ``Content-Type`` and ``Content-Disposition`` the app would
      send (file name, ``download=true``) and valid ``url_expires`` seconds:
      the bytes go from the store to the client, ranges and video seeking
      are the store's, and the app's workers send none of them. Passive:
      images, audio, video, PDF, CSV, plain text, ``application/octet-stream``,
      archives, spreadsheets (:func:`~dash_file_cache.services.security.is_passive`).
      The app streams the rest itself, as with ``redirect=False``:

      - types that can run script (HTML, SVG, XML, unknown types): the
        store cannot add the sandbox ``Content-Security-Policy`` they get;
      - one-time items: a presigned URL works again until it expires;
      - CORS requests (``fetch``, ``CachedDownload``'s fetch and stream
        modes, ``Sec-Fetch-Mode: cors``/``same-origin`` or an ``Origin``):
        following a redirect to the store's origin would need CORS rules on
        the bucket. Navigations, links, ``<img>`` and ``<video>`` are redirected;
      - ``HEAD``, ``304``/``412``/``416``, errors, a request with a
        precondition (the store has its own validators) or a ``Range`` the
        store might read otherwise.

      The URL is the store's endpoint (``endpoint_url``): clients must be
      able to reach it. The 307 itself is never cached and sends no
      ``Referer`` to the store. ``offload`` never applies to CacheS3 items
      (they are not files).
    - **Streaming reads**: the loader returns an :class:`S3ContentStream`;
      a ``Range`` request is one ranged ``GET`` wherever it starts.
    - **One-time items**: :meth:`remove` claims the item with a conditional
      ``PutObject`` (``If-None-Match: *``), so exactly one of several racing
      callers, on any host, removes it and serves it.
    - **Expiry**: an item is not served ``ttl`` seconds after it was
      registered (by the serving host's clock against the registering
      host's: keep them in sync). Its objects stay in the bucket until
      removed, so give the bucket a lifecycle rule expiring ``prefix`` after
      a day or more (at least ``ttl``; S3 counts in days), which also
      reclaims claim keys and unfinished multipart uploads::

          s3.put_bucket_lifecycle_configuration(
              Bucket="my-bucket",
              LifecycleConfiguration={"Rules": [{
                  "ID": "dash-file-cache", "Status": "Enabled",
                  "Filter": {"Prefix": "dash-file-cache/"},
                  "Expiration": {"Days": 1},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
              }]},
          )
    - **Uploads** (tus, :meth:`uploads`): kept under ``{prefix}upload/``
      until they become items, in segments of 5 MiB or more that the
      finish copies inside the store; any host continues an upload. The
      lifecycle rule must give them more than ``UploadPolicy.expires``
      (e.g. 2 days for its default of 1 day), or filter out that prefix.
    - **Failures**: an unreachable store, refused credentials or a missing
      bucket (named in the message) raise
      :class:`~dash_file_cache.CacheUnavailableError`: ``register`` raises it
      and the served address answers 503 with a JSON error. An object deleted
      behind the cache's back is a missing item (404).

    Arguments:
        bucket: the bucket's name; it must exist.
        prefix: prefix of every object this cache writes.
        endpoint_url: the S3 endpoint; ``None``: ``AWS_ENDPOINT_URL`` or AWS.
        region: the region; ``None``: ``AWS_DEFAULT_REGION`` / the config file.
        redirect: answer a ``GET`` of a passive item with a redirect to a
            presigned URL (see above); ``False``: the app streams every item.
        url_expires: seconds a presigned URL stays valid after the redirect.
            A browser may keep reading from the URL it was sent to (a
            ``<video>`` seeking), so allow for the longest viewing.
        ttl: seconds an item is served after it was registered.
        part_size: MB of a multipart part (5 to 5120), and the size up to
            which an item is stored in one ``PutObject``.
        timeout: connect and read timeout of the S3 client, in seconds.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument has a bad value (empty bucket, ``url_expires``
            or ``ttl`` below 1, ``part_size`` outside 5..5120).
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "dash-file-cache/",
        *,
        endpoint_url: Optional[str] = None,
        region: Optional[str] = None,
        redirect: bool = True,
        url_expires: int = 300,
        ttl: int = 3600,
        part_size: int = 8,
        timeout: int = 5,
    ) -> None:
        self._bucket = check_str("bucket", bucket, non_empty=True)
        self._prefix = check_str("prefix", prefix)
        if endpoint_url is not None:
            check_str("endpoint_url", endpoint_url, non_empty=True)
        if region is not None:
            check_str("region", region, non_empty=True)
        self._endpoint_url = endpoint_url
        self._region = region
        self._redirect = check_bool("redirect", redirect)
        self._url_expires = check_positive_int("url_expires", url_expires)
        self._ttl = check_positive_int("ttl", ttl)
        self._part_size = check_int("part_size", part_size, _MIN_PART_MB, _MAX_PART_MB)
        self._timeout = check_positive_int("timeout", timeout)
        self._client: Any = None
        self._lock = threading.Lock()
        self._uploads: Optional[UploadStore] = None
        #: Whether the store honours conditional writes (``None``: not probed yet).
        self._conditional: Optional[bool] = None
        self._init_streams()

    def _init_streams(self) -> None:
        #: Open streams of this process per content object, and the removed
        #: objects to delete when their last stream closes.
        self._streams: Dict[str, int] = {}
        self._retired: Set[str] = set()

    # -- properties -------------------------------------------------------
    @property
    def bucket(self) -> str:
        """The bucket's name."""
        return self._bucket

    @property
    def prefix(self) -> str:
        """The prefix of every object of this cache."""
        return self._prefix

    @property
    def ttl(self) -> int:
        """Seconds an item is served after registration."""
        return self._ttl

    @property
    def part_size(self) -> int:
        """MB of a multipart part."""
        return self._part_size

    @property
    def copy_paths(self) -> bool:
        """Always ``True``: a path's bytes are copied into the bucket at registration."""
        return True

    @property
    def redirect(self) -> bool:
        """Whether a ``GET`` of a passive item is answered with a redirect to a presigned URL."""
        return self._redirect

    @property
    def url_expires(self) -> int:
        """Seconds a presigned URL stays valid."""
        return self._url_expires

    @property
    def client(self) -> Any:
        """The boto3 S3 client, made on first use (boto3 clients are thread-safe)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        config = Config(
            connect_timeout=self._timeout,
            read_timeout=max(self._timeout, 30),
            retries={"total_max_attempts": 2, "mode": "standard"},
            max_pool_connections=64,
        )
        session = boto3.session.Session(botocore_session=_botocore_session())
        return session.client(
            "s3", endpoint_url=self._endpoint_url, region_name=self._region, config=config
        )

    # -- names ------------------------------------------------------------
    def _item_name(self, key: str) -> str:
        return f"{self._prefix}item/{key}"

    def _data_name(self, key: str, version: str) -> str:
        return f"{self._prefix}data/{key}/{version}"

    def _claim_name(self, key: str, version: str) -> str:
        return f"{self._prefix}claim/{key}/{version}"

    # -- CacheAbstract ------------------------------------------------------
    def prepare(self) -> None:
        """Check the bucket at ``serve``: raise if it is missing, only log if S3 is down.

        Raises:
            CacheUnavailableError: the bucket does not exist (the message names it).
        """
        try:
            with _s3_errors(self, "checking the bucket"):
                self.client.head_bucket(Bucket=self._bucket)
        except _Gone:
            raise _NoBucket(
                f"The S3 bucket {self._bucket!r} does not exist (checked at serve)."
            ) from None
        except _NoBucket:
            raise
        except CacheUnavailableError as exc:
            _log.warning("dash-file-cache: S3 does not answer yet (%s).", exc)

    def is_in(self, key: str) -> bool:
        """Return whether ``key`` is a live item.

        Raises:
            CacheUnavailableError: the store cannot be reached.
        """
        try:
            self._read_meta(key)
        except FileNotFoundError:
            return False
        return True

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store an item: stream its content into the bucket, then write its sidecar.

        A path's file is copied (any host can then serve it; the file may be
        deleted afterwards). Replaces an item with the same key.

        Raises:
            CacheUnavailableError: the store cannot be reached or refuses.
            FileNotFoundError: a path item to copy cannot be opened.
        """
        if isinstance(data, str):
            with open(data, "rb") as handle:
                self._dump_stream(key, info, handle)
        else:
            self._dump_stream(key, info, data)

    def _dump_stream(self, key: str, info: CachedFileInfo, stream: IO[bytes]) -> None:
        with self.open_item(key, info) as sink:
            block_size = self._part_size * MB
            while True:
                block = read_block(stream, block_size)
                if not block:
                    break
                sink.write(block)

    @contextmanager
    def open_item(self, key: str, info: CachedFileInfo) -> Iterator[IO[bytes]]:
        """Write an item's content part by part as it comes, then publish it.

        See :meth:`CacheAbstract.open_item`. Written bytes are buffered up to
        one part; the first full part starts a multipart upload. On a clean
        exit the content is completed and the sidecar written (``info`` as it
        is then); on an exception the multipart upload is aborted and nothing
        is published.

        Raises:
            ValueError: ``info`` asks for a one-time item and the store ignores
                conditional writes (it could be served more than once).
            CacheUnavailableError: the store cannot be reached or refuses.
        """
        if info.get("one_time_service") and not self.conditional_writes():
            raise ValueError(
                f"one_time_service=True needs an S3 store that honours conditional writes "
                f"(If-None-Match), and the store of bucket {self._bucket!r} ignores them: a "
                "one-time item could be served more than once. Register it without "
                "one_time_service, or use a store that has them (AWS S3, Ceph radosgw, MinIO)."
            )
        version = uuid.uuid4().hex
        sink = _PartSink(self, self._data_name(key, version), self._part_size * MB)
        try:
            yield cast(IO[bytes], sink)
            sink.finish()
            self._publish(key, info, version, sink.size)
        except BaseException:
            sink.abort()
            raise

    def conditional_writes(self) -> bool:
        """Whether the store honours ``If-None-Match: *`` on ``PutObject`` (probed once).

        The one-time claim relies on it: a store that ignores the header
        would let every racing host win. Probed once per process with a
        scratch object under ``{prefix}probe/``: created with the header,
        then written again with it, which must be refused (412). A store
        that answers the header with 501 has none either.

        Raises:
            CacheUnavailableError: the store cannot be reached.
        """
        if self._conditional is None:
            name = f"{self._prefix}probe/{uuid.uuid4().hex}"
            try:
                self._conditional = self._claim_twice(name)
            finally:
                self._delete_content(name)
        return self._conditional

    def _claim_twice(self, name: str) -> bool:
        for attempt in range(2):
            try:
                with _s3_errors(self, "checking conditional writes"):
                    self.client.put_object(Bucket=self._bucket, Key=name, Body=b"", IfNoneMatch="*")
            except CacheUnavailableError as exc:
                if attempt == 1 and _is_precondition_failed(exc):
                    return True
                if _is_not_implemented(exc):
                    return False
                raise
        return False

    def _publish(self, key: str, info: CachedFileInfo, version: str, size: int) -> None:
        meta = {"info": info, "v": version, "size": size, "expires": time.time() + self._ttl}
        body = json.dumps(meta, separators=(",", ":")).encode()
        with _s3_errors(self, "registering an item"):
            self.client.put_object(
                Bucket=self._bucket,
                Key=self._item_name(key),
                Body=body,
                ContentType="application/json",
            )

    def _read_meta(self, key: str) -> Dict[str, Any]:
        """The sidecar of a live item.

        Raises:
            FileNotFoundError: no such item, or it expired.
            CacheUnavailableError: the store cannot be reached.
        """
        try:
            with _s3_errors(self, "loading an item"):
                raw = self.client.get_object(Bucket=self._bucket, Key=self._item_name(key))[
                    "Body"
                ].read()
        except _Gone:
            raise FileNotFoundError(f"No cached item for key {key!r}.") from None
        meta: Dict[str, Any] = json.loads(raw)
        if float(meta["expires"]) <= time.time():
            raise FileNotFoundError(f"The cached item {key!r} expired.")
        return meta

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and a loader of an :class:`S3ContentStream`.

        The loader checks that the content object is there (one ``HEAD``, so
        that a deleted object is a 404 before any header is sent) and makes a
        stream that fetches nothing until read; the loader raises
        ``FileNotFoundError`` if the object is gone.

        Raises:
            FileNotFoundError: ``key`` is not cached (or expired).
            CacheUnavailableError: the store cannot be reached.
        """
        meta = self._read_meta(key)
        info: CachedFileInfo = meta["info"]
        name, size = self._data_name(key, meta["v"]), int(meta["size"])

        def loader() -> CachedData:
            try:
                with _s3_errors(self, "loading an item"):
                    self.client.head_object(Bucket=self._bucket, Key=name)
            except _Gone:
                raise FileNotFoundError(f"The content of item {key!r} is gone.") from None
            with self._lock:
                self._streams[name] = self._streams.get(name, 0) + 1
            return cast(IO[bytes], S3ContentStream(self, name, size))

        return info, loader

    def remove(self, key: str) -> bool:
        """Claim an item, then delete it; ``True`` for exactly one of racing callers.

        The claim is a ``PutObject`` with ``If-None-Match: *`` on the claim
        key of the item's version: the store lets exactly one create it.

        Raises:
            CacheUnavailableError: the store cannot be reached.
        """
        try:
            meta = self._read_meta(key)
        except FileNotFoundError:
            return False
        version = str(meta["v"])
        try:
            with _s3_errors(self, "claiming an item"):
                self.client.put_object(
                    Bucket=self._bucket,
                    Key=self._claim_name(key, version),
                    Body=b"",
                    IfNoneMatch="*",
                )
        except CacheUnavailableError as exc:
            if _is_precondition_failed(exc):
                return False
            raise
        with _s3_errors(self, "removing an item"):
            self.client.delete_object(Bucket=self._bucket, Key=self._item_name(key))
        self._retire(self._data_name(key, version))
        return True

    def _retire(self, name: str) -> None:
        """Delete a removed item's content now, or when this process's last stream of it closes.

        The service claims a one-time item (``remove``) before it streams it,
        so the content must outlive the claim while it is sent.
        """
        with self._lock:
            if self._streams.get(name):
                self._retired.add(name)
                return
        self._delete_content(name)

    def _stream_closed(self, name: str) -> None:
        """Called by :meth:`S3ContentStream.close`: delete retired content no longer read."""
        with self._lock:
            left = self._streams.get(name, 1) - 1
            if left > 0:
                self._streams[name] = left
                return
            self._streams.pop(name, None)
            if name not in self._retired:
                return
            self._retired.discard(name)
        self._delete_content(name)

    def _delete_content(self, name: str) -> None:
        """Best effort: a content object left behind is reclaimed by the lifecycle rule."""
        try:
            self.client.delete_object(Bucket=self._bucket, Key=name)
        except (ClientError, BotoCoreError) as exc:
            _log.warning("dash-file-cache: could not delete %s from S3 (%s).", name, exc)

    # -- unfinished uploads -----------------------------------------------------
    def uploads(self) -> UploadStore:
        """Unfinished uploads, shared by every process and host using the bucket.

        See :class:`~dash_file_cache.caches._s3_uploads.S3UploadStore`: the
        record in one object changed only by conditional writes (a lease
        lock, fenced), the bytes in segment objects of 5 MiB or more, and a
        finish that assembles the item's content inside the store
        (``UploadPartCopy``) before its sidecar is written.
        """
        if self._uploads is None:
            from ._s3_uploads import S3UploadStore

            self._uploads = S3UploadStore(self)
        return self._uploads

    # -- extras ---------------------------------------------------------------
    def __len__(self) -> int:
        """The number of items stored under the prefix, expired ones included (lists them).

        Raises:
            CacheUnavailableError: the store cannot be reached.
        """
        count = 0
        with _s3_errors(self, "counting items"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._item_name("")
            )
            for page in pages:
                count += int(page.get("KeyCount", 0))
        return count

    def __repr__(self) -> str:
        return f"CacheS3({self._bucket!r}, prefix={self._prefix!r}, ttl={self._ttl})"

    # -- pickling (Dash background callbacks pickle the service) ---------------
    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        for name in ("_lock", "_streams", "_retired", "_uploads"):
            del state[name]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._uploads = None
        self._init_streams()


def _is_not_implemented(exc: CacheUnavailableError) -> bool:
    """Whether an S3 error says the store does not implement what was asked (501)."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and (
        cause.response.get("Error", {}).get("Code") == "NotImplemented"
        or cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 501
    )


def _is_precondition_failed(exc: CacheUnavailableError) -> bool:
    """Whether an S3 error is a lost conditional write (412 ``PreconditionFailed``)."""
    cause = exc.__cause__
    return isinstance(cause, ClientError) and (
        cause.response.get("Error", {}).get("Code") == "PreconditionFailed"
        or cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412
    )


class _PartSink(BlockSink):
    """Write-only stream that uploads what it receives into one S3 object.

    Holds at most one part in memory. Up to one part, :meth:`finish` stores
    it with one ``PutObject``; the first full part starts a multipart upload.
    Parts grow by ``part_bytes`` every ``_GROW_EVERY`` parts (S3 takes parts
    of different sizes), so that S3's 10,000 parts hold 55,000 times
    ``part_bytes``; past them, writing raises ``OSError`` (``EFBIG``).
    """

    def __init__(self, cache: CacheS3, name: str, part_bytes: int) -> None:
        super().__init__(part_bytes)
        self._base = part_bytes
        self._cache = cache
        self._name = name
        self._upload_id: Optional[str] = None
        self._parts: List[Dict[str, Any]] = []

    def finish(self) -> None:
        """Send what is buffered and complete the object."""
        client, bucket = self._cache.client, self._cache.bucket
        if self._upload_id is None:
            with _s3_errors(self._cache, "registering an item"):
                client.put_object(Bucket=bucket, Key=self._name, Body=bytes(self._buffer))
            self._buffer.clear()
            return
        if self._buffer:
            self._store_block()
        with _s3_errors(self._cache, "registering an item"):
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=self._name,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._upload_id = None

    def abort(self) -> None:
        """Best effort: drop the unfinished multipart upload and the content object."""
        client, bucket = self._cache.client, self._cache.bucket
        try:
            if self._upload_id is not None:
                client.abort_multipart_upload(
                    Bucket=bucket, Key=self._name, UploadId=self._upload_id
                )
            client.delete_object(Bucket=bucket, Key=self._name)
        except (ClientError, BotoCoreError) as exc:
            _log.debug("dash-file-cache: could not clean up %s (%s).", self._name, exc)
        self._buffer.clear()

    def _store_block(self) -> None:
        client, bucket = self._cache.client, self._cache.bucket
        with _s3_errors(self._cache, "registering an item"):
            if self._upload_id is None:
                answer = client.create_multipart_upload(Bucket=bucket, Key=self._name)
                self._upload_id = str(answer["UploadId"])
            number = len(self._parts) + 1
            if number > _MAX_PARTS:
                raise OSError(
                    errno.EFBIG,
                    f"An S3 object has at most {_MAX_PARTS} parts: this item is too large "
                    "for CacheS3's part_size; raise it.",
                )
            answer = client.upload_part(
                Bucket=bucket,
                Key=self._name,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=self._buffer,
            )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer.clear()
        if number % _GROW_EVERY == 0:
            self._block_bytes = min(self._block_bytes + self._base, _MAX_PART_MB * MB)
