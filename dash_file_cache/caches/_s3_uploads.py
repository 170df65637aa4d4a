"""Unfinished uploads of :class:`~dash_file_cache.CacheS3` (see :mod:`.uploads`).

Objects under the cache's prefix ``p``::

    {p}upload/{id}/record              JSON: the record, the segments, the lease
    {p}upload/{id}/seg/{start}-{tag}   bytes ``[start, start + size)`` of the upload

S3 has no lock and no append, but it has conditional writes: ``PutObject``
with ``If-None-Match: *`` (create once) and ``If-Match: <ETag>`` (compare and
swap). Everything here is built on the record object and those two.

- **Lock**: a *lease* inside the record (the holder's random token). It is
  taken by a compare-and-swap of the record seen free (or with an expired
  lease), so of two requests racing for it exactly one wins, on any host; the
  other gets :class:`UploadBusyError`. The holder renews it by another CAS
  while it reads the body (:meth:`_keep`, once half of :data:`LEASE_S` is
  used) and releases it by a last one. A lease has expired when the record
  was last written :data:`LEASE_S` seconds before, *by the store's clock*
  (the object's ``Last-Modified`` against the ``Date`` of the answer that
  read it), so hosts' clocks do not matter. Every write of the record
  carries a new sequence number: equal bodies, thus equal ETags, never occur.
- **Fencing**: every change of the record by its holder is a CAS on the ETag
  it last wrote, so a holder that stalled past its lease, and whose lock was
  taken over, fails its next change (:class:`UploadBusyError`): the segments
  it wrote meanwhile are never listed, hence never counted.
- **Bytes**: each block of a ``PATCH`` body (at most ``part_size`` MB,
  gathered from reads of :data:`READ_BLOCK`) becomes one segment object,
  written with one ``PutObject`` before the next is read (what arrived
  before a client vanished is one too, and counts). The record lists the
  segments (start, length used, size, tag); it is saved by
  :meth:`LockedUpload.update`, by lease renewals and by the release. Cutting
  at an offset only shortens that list (a segment's used length may be less
  than its size). Segments no record lists (a request's taken over, or
  merged) are deleted after the next save, or with the upload.
- **Small PATCHes**: a multipart part must be 5 MiB or more but the last,
  and a part is one object (or a range of one). So every segment but a
  trailing run is kept at 5 MiB or more: when a block would make that run
  reach 5 MiB, the run is read back and stored with the block as one segment
  (memory: under 5 MiB plus one block). So a client sending 1 MiB
  ``PATCH``\\ es sends nothing twice (the app reads back under 5 MiB per
  5 MiB stored), and the finish copies parts inside the store rather than
  sending the whole file through the app again.
- **Finish**: the content object ``{p}data/{key}/{version}`` is assembled
  inside the store by a multipart upload of ``UploadPartCopy`` parts, one per
  segment (the trailing run, under 5 MiB, is read and sent as the last
  part); then the lease is renewed (the fence), the item's sidecar written
  (``CacheS3``'s own publication: the item is servable only from then on)
  and the upload removed. A failure before the sidecar aborts the multipart
  upload and leaves the upload unchanged. (The one unfenced moment: a holder
  that stalls a whole lease between that renewal and the sidecar's
  ``PutObject`` still publishes; the same item, as the upload was complete.)
  S3 allows 10,000 parts: an upload sent in small ``PATCH``\\ es can reach
  about 48 GiB, one sent in ``part_size`` blocks 10,000 of them.
- **Removal**: the record is first replaced by a tombstone (a fenced CAS),
  then every object of the upload is deleted. A tombstone is never locked
  (``FileNotFoundError``); a sweep deletes what a crash left of one, and
  segments without a record once :data:`~.uploads.ORPHAN_AGE` old.

Why segments and not one multipart upload per tus upload: a multipart part
cannot be appended to, so 1 MiB ``PATCH``\\ es would each need a part of their
own (refused under 5 MiB), and an upload's parts list cannot be cut or
fenced; segments named by the record can.

Errors of the store raise :class:`~dash_file_cache.CacheUnavailableError`
(the endpoint answers 503) and leave the record as it was: the offset stays
the truth, and the upload resumes once the store is back (after at most
:data:`LEASE_S` if the store went away while a request held the lease, which
it could then not release: meanwhile requests get 423 and tus clients retry).

Why the lease is judged by the store's clock rather than an expiry time in
the record: the record is written by several hosts, whose clocks may drift
apart by more than a lease; the store's ``Last-Modified`` and ``Date`` come
from one clock (one gateway's, or NTP-synced gateways').
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import errno
import json
import logging
import secrets
import time
import uuid
from contextlib import contextmanager, suppress
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple, cast

from .._grammar import MB
from ._streams import RemoteReader
from .abstract import CachedFileInfo, CacheUnavailableError
from .s3 import S3ContentStream, _Gone, _is_precondition_failed, _s3_errors
from .uploads import (
    ORPHAN_AGE,
    Block,
    LockedUpload,
    UploadBusyError,
    UploadStore,
    check_finishable,
    is_expired,
    record_offset,
)

if TYPE_CHECKING:  # pragma: no cover
    from .s3 import CacheS3

__all__ = ["LEASE_S", "READ_BLOCK", "S3UploadStore"]

_log = logging.getLogger(__name__)

#: Seconds a lock holder may go without renewing before another request may take it.
LEASE_S = 15.0
#: The most read from a request body between two checks of the lease.
READ_BLOCK = 64 * 1024
#: S3's smallest multipart part but the last.
MIN_PART = 5 * MB
#: Segments copied into the finished object at once.
COPIES = 8

#: A segment in the record: ``[start, length used, object size, tag]``.
Segment = List[Any]


class _Tombstone(FileNotFoundError):
    """The upload was removed or finished; some of its objects may be left."""


def _etag(answer: Mapping[str, Any]) -> str:
    """The ETag of an answer, unquoted (radosgw's ``If-Match`` refuses the quoted form)."""
    return str(answer["ETag"]).strip('"')


def _store_age(answer: Mapping[str, Any]) -> float:
    """Seconds since the object was last written, by the store's clock (its ``Date``)."""
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    modified = answer["LastModified"]
    try:
        now = email.utils.parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):  # no Date (HTTP requires one): our clock
        return time.time() - modified.timestamp()
    return (now - modified).total_seconds()


class S3UploadStore(UploadStore):
    """Uploads of a :class:`~dash_file_cache.CacheS3` (see the module)."""

    def __init__(self, cache: CacheS3) -> None:
        self._cache = cache

    @property
    def cache(self) -> CacheS3:
        return self._cache

    def base(self, upload_id: str) -> str:
        return f"{self._cache.prefix}upload/{upload_id}/"

    def record_name(self, upload_id: str) -> str:
        return self.base(upload_id) + "record"

    def segment_name(self, upload_id: str, segment: Segment) -> str:
        return f"{self.base(upload_id)}seg/{int(segment[0]):016d}-{segment[3]}"

    # -- the record object ------------------------------------------------------
    def read_state(self, upload_id: str) -> Tuple[Dict[str, Any], str, float]:
        """The record object, its ETag and its age by the store's clock.

        Raises:
            FileNotFoundError: no upload (:class:`_Tombstone`: a removed one).
            ValueError: the object is not a state of this module.
            CacheUnavailableError: the store failed.
        """
        try:
            with _s3_errors(self._cache, "reading an upload"):
                answer = self._cache.client.get_object(
                    Bucket=self._cache.bucket, Key=self.record_name(upload_id)
                )
                raw = answer["Body"].read()
        except _Gone:
            raise FileNotFoundError(errno.ENOENT, f"No upload {upload_id!r}.") from None
        state = json.loads(raw)
        if not isinstance(state, dict) or not isinstance(state.get("record"), dict):
            raise ValueError(f"The upload {upload_id!r} has a damaged record.")
        if state.get("gone"):
            raise _Tombstone(errno.ENOENT, f"The upload {upload_id!r} was removed.")
        return state, _etag(answer), _store_age(answer)

    def write_state(self, upload_id: str, state: Mapping[str, Any], etag: Optional[str]) -> str:
        """Write the record object if its ETag is still ``etag`` (``None``: if absent).

        Returns the new ETag.

        Raises:
            UploadBusyError: ``etag`` is no longer the record's (lost the race).
            FileNotFoundError: ``etag`` given and the record is gone.
            CacheUnavailableError: the store failed.
        """
        body = json.dumps(dict(state), separators=(",", ":")).encode()
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        try:
            with _s3_errors(self._cache, "writing an upload"):
                answer = self._cache.client.put_object(
                    Bucket=self._cache.bucket,
                    Key=self.record_name(upload_id),
                    Body=body,
                    ContentType="application/json",
                    **condition,
                )
        except _Gone:
            raise FileNotFoundError(errno.ENOENT, f"No upload {upload_id!r}.") from None
        except CacheUnavailableError as exc:
            if _is_precondition_failed(exc):
                raise UploadBusyError(upload_id) from None
            raise
        return _etag(answer)

    def delete_objects(self, upload_id: str) -> None:
        """Delete every object of the upload, the record last.

        Raises:
            CacheUnavailableError: the store failed.
        """
        names = [name for name, _ in self._listed(self.base(upload_id))]
        record = self.record_name(upload_id)
        client, bucket = self._cache.client, self._cache.bucket
        with _s3_errors(self._cache, "removing an upload"):
            for name in names:
                if name != record:
                    client.delete_object(Bucket=bucket, Key=name)
            if record in names:
                client.delete_object(Bucket=bucket, Key=record)

    def _listed(self, prefix: str) -> Iterator[Tuple[str, float]]:
        """Names and modification times (POSIX) of the objects under ``prefix``."""
        with _s3_errors(self._cache, "listing uploads"):
            pages = self._cache.client.get_paginator("list_objects_v2").paginate(
                Bucket=self._cache.bucket, Prefix=prefix
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    yield str(entry["Key"]), entry["LastModified"].timestamp()

    # -- UploadStore ------------------------------------------------------------
    def create(self, upload_id: str, record: Mapping[str, Any]) -> None:
        """See :meth:`UploadStore.create`.

        Raises:
            FileExistsError: ``upload_id`` is already an upload.
            CacheUnavailableError: the store failed.
        """
        record_offset(record)
        state: Dict[str, Any] = {"record": dict(record), "segs": [], "lease": None, "seq": 0}
        try:
            self.write_state(upload_id, state, None)
        except UploadBusyError:
            raise FileExistsError(errno.EEXIST, f"The upload {upload_id!r} exists.") from None

    def record(self, upload_id: str) -> Dict[str, Any]:
        record: Dict[str, Any] = self.read_state(upload_id)[0]["record"]
        return record

    @contextmanager
    def lock(self, upload_id: str) -> Iterator[LockedUpload]:
        state, etag, age = self.read_state(upload_id)
        record_offset(state["record"])
        if state.get("lease") is not None and age < LEASE_S:
            raise UploadBusyError(upload_id)
        token = secrets.token_hex(8)
        taken = dict(state, lease=token, seq=int(state.get("seq", 0)) + 1)
        started = time.monotonic()
        etag = self.write_state(upload_id, taken, etag)
        upload = _LockedSegments(self, upload_id, taken, etag, started)
        try:
            yield upload
        finally:
            upload.release()

    def ids(self) -> List[str]:
        return [upload_id for upload_id, (has_record, _) in self._uploads().items() if has_record]

    def _uploads(self) -> Dict[str, Tuple[bool, float]]:
        """Each upload's id: whether it has a record, and when an object of it last changed."""
        prefix = f"{self._cache.prefix}upload/"
        found: Dict[str, Tuple[bool, float]] = {}
        for name, modified in self._listed(prefix):
            upload_id, _, rest = name[len(prefix) :].partition("/")
            has_record, newest = found.get(upload_id, (False, 0.0))
            found[upload_id] = (has_record or rest == "record", max(newest, modified))
        return found

    def sweep(self, now: float) -> List[str]:
        """Remove expired uploads, then what removals cut short left behind.

        That is: the objects of a tombstone, and segments without a record
        once older than :data:`~.uploads.ORPHAN_AGE` seconds at ``now``.
        """
        removed = []
        for upload_id, (has_record, newest) in self._uploads().items():
            try:
                if not has_record:
                    if newest < now - ORPHAN_AGE:
                        self.delete_objects(upload_id)
                    continue
                if not is_expired(self.record(upload_id), now):
                    continue  # not locked: a request to it is never made to wait
                with self.lock(upload_id) as upload:
                    if is_expired(upload.record(), now):
                        upload.remove()
                        removed.append(upload_id)
            except _Tombstone:
                self.delete_objects(upload_id)
            except (UploadBusyError, FileNotFoundError, ValueError):
                continue
        return removed


class _LockedSegments(LockedUpload):
    """An upload of :class:`S3UploadStore` whose lease this request holds."""

    read_block = READ_BLOCK

    def __init__(
        self, store: S3UploadStore, upload_id: str, state: Dict[str, Any], etag: str, at: float
    ) -> None:
        super().__init__(upload_id, store.cache.part_size * MB)
        self._store = store
        self._state = state
        self._etag = etag
        #: When the last write of the record was sent (monotonic): the lease runs from then.
        self._written = at
        #: Segments listed in the record but no longer in :attr:`_segs` (deleted once it is saved).
        self._dropped: List[Segment] = []
        self._held = True
        self._segs: List[Segment] = [list(s) for s in state.get("segs", [])]
        #: The segment being written in the background, and its write (see :meth:`_put_segment`).
        self._inflight: Optional[Tuple[Segment, concurrent.futures.Future[None]]] = None
        self._writer: Optional[concurrent.futures.ThreadPoolExecutor] = None

    # -- the record -------------------------------------------------------------
    def _save(self, **changes: Any) -> None:
        """Write the record with ``changes`` and the current segments (a fenced CAS).

        Raises:
            UploadBusyError: the lease was taken over (nothing is changed).
            FileNotFoundError: the upload is gone.
        """
        if not self._held:
            raise FileNotFoundError(errno.ENOENT, f"No upload {self.upload_id!r}.")
        self._settle()
        state = dict(self._state, segs=self._segs, seq=int(self._state["seq"]) + 1, **changes)
        sent = time.monotonic()
        self._etag = self._store.write_state(self.upload_id, state, self._etag)
        self._state, self._written = state, sent
        dropped, self._dropped = self._dropped, []
        self._delete(dropped)

    def _delete(self, segments: List[Segment]) -> None:
        """Best effort: delete segment objects no record lists (else removal gets them)."""
        client, bucket = self._store.cache.client, self._store.cache.bucket
        for segment in segments:
            try:
                client.delete_object(
                    Bucket=bucket, Key=self._store.segment_name(self.upload_id, segment)
                )
            except Exception as exc:  # the upload's removal lists and deletes them
                _log.debug("dash-file-cache: could not delete a segment (%s).", exc)

    def _keep(self) -> None:
        if time.monotonic() - self._written >= LEASE_S / 2:
            self._save()

    def release(self) -> None:
        """Give the lease back (best effort: otherwise it expires by itself)."""
        if not self._held:
            self._stop_writer()
            return
        try:
            self._save(lease=None)  # with the segments written: stored bytes are kept
        except Exception as exc:  # taken over, gone or the store down: the lease expires
            _log.debug("dash-file-cache: could not release an upload's lease (%s).", exc)
        self._held = False
        self._stop_writer()

    def record(self) -> Dict[str, Any]:
        record: Dict[str, Any] = dict(self._state["record"])
        return record

    def update(self, record: Mapping[str, Any]) -> None:
        record_offset(record)
        self._save(record=dict(record))

    # -- bytes ------------------------------------------------------------------
    def _present(self) -> int:
        self._settle()
        last = self._segs[-1] if self._segs else None
        return 0 if last is None else int(last[0]) + int(last[1])

    def _cut(self, offset: int) -> None:
        present = self._present()
        if not 0 <= offset <= present:
            raise ValueError(f"Offset {offset} is past the {present} bytes of the upload.")
        while self._segs and int(self._segs[-1][0]) >= offset:
            self._dropped.append(self._segs.pop())
        if self._segs and self._present() > offset:
            last = self._segs[-1]
            self._segs[-1] = [last[0], offset - int(last[0]), last[2], last[3]]

    def _run(self) -> int:
        """How many trailing segments are under :data:`MIN_PART` (the run to merge)."""
        self._settle()
        count = 0
        for segment in reversed(self._segs):
            if int(segment[1]) >= MIN_PART:
                break
            count += 1
        return count

    def _append(self, position: int, block: Block) -> None:
        count = self._run()
        run = self._segs[len(self._segs) - count :] if count else []
        if run and self._present() - int(run[0][0]) + len(block) >= MIN_PART:
            data = bytearray(self._read_segments(run))
            data += block
            start = int(run[0][0])
            del self._segs[len(self._segs) - count :]
            self._dropped.extend(run)
            self._put_segment(start, data)
        else:
            self._put_segment(position, block)
        self._keep()

    def _put_segment(self, start: int, data: Any) -> None:
        """Start writing ``data`` as the segment at ``start``, in a background thread.

        So the next block of the body is received while this one is sent to
        the store (memory: two blocks). The segment joins :attr:`_segs` only
        once its object is written (:meth:`_settle`), and everything that
        reads or saves the segments settles first: the record never lists a
        segment that is not there, and a failed write raises there.
        """
        self._settle()
        segment: Segment = [start, len(data), len(data), secrets.token_hex(4)]
        body = bytes(data)
        key = self._store.segment_name(self.upload_id, segment)
        cache = self._store.cache

        def put() -> None:
            with _s3_errors(cache, "writing an upload"):
                cache.client.put_object(Bucket=cache.bucket, Key=key, Body=body)

        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(1, "dfc-s3-upload")
        self._inflight = (segment, self._writer.submit(put))

    def _settle(self) -> None:
        """Wait for the segment being written; list it, or raise its write's error.

        Raises:
            CacheUnavailableError: the store refused or could not be reached.
        """
        if self._inflight is None:
            return
        segment, write = self._inflight
        self._inflight = None
        write.result()
        self._segs.append(segment)

    def _stop_writer(self) -> None:
        """Wait for a write still running (its error no longer matters), then stop the thread."""
        if self._inflight is not None:
            with suppress(Exception):
                self._settle()
            self._inflight = None
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _read_segments(self, segments: List[Segment]) -> bytes:
        """The used bytes of ``segments``, in order (a run under :data:`MIN_PART`)."""
        with self._reader(segments) as reader:
            return reader.read()

    def _reader(self, segments: List[Segment]) -> _SegmentsReader:
        return _SegmentsReader(self._store, self.upload_id, [list(s) for s in segments])

    def open(self) -> IO[bytes]:
        self._cut(record_offset(self.record()))
        return cast(IO[bytes], self._reader(self._segs))

    # -- the end ----------------------------------------------------------------
    def finish(self, key: str, info: CachedFileInfo) -> None:
        size = check_finishable(self.record())
        self._cut(size)
        cache = self._store.cache
        version = uuid.uuid4().hex
        name = cache._data_name(key, version)
        if size < MIN_PART:
            with _s3_errors(cache, "finishing an upload"):
                cache.client.put_object(
                    Bucket=cache.bucket, Key=name, Body=self._read_segments(self._segs)
                )
        else:
            self._assemble(name)
        try:
            self._save()  # the fence: the lease is still ours, and fresh
            cache._publish(key, info, version, size)
        except BaseException:
            cache._delete_content(name)
            raise
        self.remove()

    def _assemble(self, name: str) -> None:
        """Make object ``name`` of the segments inside the store (a multipart upload)."""
        cache, bucket = self._store.cache, self._store.cache.bucket
        client = cache.client
        count = self._run()
        whole = self._segs[: len(self._segs) - count] if count else list(self._segs)
        run = self._segs[len(whole) :]
        with _s3_errors(cache, "finishing an upload"):
            upload_id = str(client.create_multipart_upload(Bucket=bucket, Key=name)["UploadId"])
        try:
            parts = self._copy_parts(name, upload_id, whole)
            with _s3_errors(cache, "finishing an upload"):
                if run:
                    number = len(parts) + 1
                    answer = client.upload_part(
                        Bucket=bucket,
                        Key=name,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=self._read_segments(run),
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                client.complete_multipart_upload(
                    Bucket=bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException as failure:
            try:
                client.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload_id)
            except Exception as exc:  # the bucket's lifecycle rule aborts it
                _log.debug("dash-file-cache: could not abort %s (%s).", name, exc)
            if isinstance(failure, _Gone):
                raise CacheUnavailableError(
                    "S3 lost a segment of an upload (does a lifecycle rule expire "
                    "uploads sooner than UploadPolicy.expires?)."
                ) from failure
            raise

    def _copy_parts(
        self, name: str, upload_id: str, segments: List[Segment]
    ) -> List[Dict[str, Any]]:
        """Copy each segment into part ``i + 1`` of ``upload_id``, :data:`COPIES` at a time.

        The copies run in the store (no byte passes through the app) and in
        parallel: one after the other, a 1 GiB upload's finish waited for 128
        copies in a row. The lease is renewed here, between completions.

        Raises:
            _Gone: a segment is missing.
            CacheUnavailableError: the store cannot be reached or refuses.
        """
        cache, bucket = self._store.cache, self._store.cache.bucket

        def copy(number: int, segment: Segment) -> Dict[str, Any]:
            with _s3_errors(cache, "finishing an upload"):
                answer = cache.client.upload_part_copy(
                    Bucket=bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={
                        "Bucket": bucket,
                        "Key": self._store.segment_name(self.upload_id, segment),
                    },
                    CopySourceRange=f"bytes=0-{int(segment[1]) - 1}",
                )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        if not segments:
            return []
        with concurrent.futures.ThreadPoolExecutor(min(COPIES, len(segments))) as pool:
            futures = [pool.submit(copy, n, seg) for n, seg in enumerate(segments, 1)]
            pending = set(futures)
            try:
                while pending:
                    done, pending = concurrent.futures.wait(
                        pending, timeout=LEASE_S / 4, return_when="FIRST_EXCEPTION"
                    )
                    for future in done:
                        future.result()  # raises the first failure
                    self._keep()
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
        return [future.result() for future in futures]

    def remove(self) -> None:
        self._save(gone=True)  # fenced: from now on no request locks it
        self._held = False
        self._store.delete_objects(self.upload_id)


class _SegmentsReader(RemoteReader):
    """Read-only, seekable stream over the used bytes of consecutive segments.

    Reads one segment at a time through an :class:`S3ContentStream` (one
    ranged ``GET`` per segment reached, memory at what one ``read`` asks).

    Raises (from ``read``):
        FileNotFoundError: a segment is gone (the upload was removed).
        CacheUnavailableError: the store cannot be reached.
    """

    def __init__(self, store: S3UploadStore, upload_id: str, segments: List[Segment]) -> None:
        #: Where the first segment starts: the stream's position 0.
        self._base = int(segments[0][0]) if segments else 0
        last = segments[-1] if segments else None
        super().__init__(0 if last is None else int(last[0]) + int(last[1]) - self._base)
        self._store, self._upload_id, self._segs = store, upload_id, segments
        self._stream: Optional[S3ContentStream] = None
        self._index = -1

    def read(self, size: Optional[int] = -1) -> bytes:
        want = self._wanted(size)
        out = bytearray()
        while len(out) < want:
            stream = self._stream_at()
            piece = stream.read(want - len(out))
            if not piece:
                raise FileNotFoundError("A segment of the upload is shorter than its record says.")
            out += piece
            self._pos += len(piece)
        return bytes(out)

    def _stream_at(self) -> S3ContentStream:
        """The stream of the segment holding the position, at the position."""
        index = self._index
        if index < 0 or not self._inside(index):
            index = next(i for i in range(len(self._segs)) if self._inside(i))
        segment = self._segs[index]
        if self._stream is None or index != self._index:
            self._moved()
            name = self._store.segment_name(self._upload_id, segment)
            self._stream = S3ContentStream(self._store.cache, name, int(segment[1]))
            self._index = index
        inside = self._base + self._pos - int(segment[0])
        if self._stream.tell() != inside:
            self._stream.seek(inside)
        return self._stream

    def _inside(self, index: int) -> bool:
        start, length = int(self._segs[index][0]), int(self._segs[index][1])
        return start <= self._base + self._pos < start + length

    def _moved(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()
        self._index = -1

    def close(self) -> None:
        if not self.closed:
            self._moved()
            super().close()
