"""Unfinished uploads in CacheS3 (``dash_file_cache.caches._s3_uploads``) on the real radosgw.

The upload-store suite of ``test_uploads_store.py`` (the tests every cache
passes, and those of the shared caches: flat memory, a second instance on
the same storage), then what the S3 store adds: its lease (fenced, renewed
while a slow body is read, expiring when its holder dies, judged by the
store's clock), small writes merged into parts of 5 MiB or more, a finish
copying the parts inside the store, and sweeping what a removal left.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

import dash_file_cache as dfc
from dash_file_cache.caches import _s3_uploads
from dash_file_cache.caches.uploads import UploadBusyError
from dash_file_cache.services.uid import new_uid
from tests import test_uploads_store as suite
from tests.test_cache_s3 import bucket, credentials, keys_of, s3, uploads_of
from tests.test_contract_s3 import cache_kind, new_cache
from tests.test_uploads_store import (
    _content,
    _info,
    _new,
    _record,
    test_bad_offsets_and_unfinished,
    test_lock_refuses_a_second_holder_and_is_released_on_error,
    test_open_content_of_path_and_stored_items,
    test_readable_source_and_limit,
    test_remove_and_sweep,
    test_source_raising_keeps_what_arrived,
    test_write_resume_overwrite_and_finish,
)

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

pytest_plugins = ("tests.support.radosgw",)
#: A second group (a second Ceph cluster, about 12 s to start) so that, under xdist, the S3
#: suites run on two workers: one group of them all takes about 4 minutes alone.
pytestmark = pytest.mark.xdist_group("radosgw-2")

__all__ = [
    "bucket",
    "cache_kind",
    "credentials",
    "new_cache",
    "s3",
    "test_bad_offsets_and_unfinished",
    "test_lock_refuses_a_second_holder_and_is_released_on_error",
    "test_open_content_of_path_and_stored_items",
    "test_readable_source_and_limit",
    "test_remove_and_sweep",
    "test_source_raising_keeps_what_arrived",
    "test_write_resume_overwrite_and_finish",
]

MiB = 1 << 20


def test_large_upload_keeps_memory_flat(cache: dfc.CacheAbstract) -> None:
    suite.test_large_upload_keeps_memory_flat(cache)


def test_shared_caches_see_uploads_from_another_instance(
    new_cache: Callable[..., dfc.CacheAbstract],
) -> None:
    suite.test_shared_caches_see_uploads_from_another_instance(new_cache)


# -- the lease ------------------------------------------------------------------------------------
def _state(s3: Any, bucket: str, upload_id: str) -> Any:
    name = f"dash-file-cache/upload/{upload_id}/record"
    return json.loads(s3.get_object(Bucket=bucket, Key=name)["Body"].read())


def _put_state(s3: Any, bucket: str, upload_id: str, state: Any) -> None:
    name = f"dash-file-cache/upload/{upload_id}/record"
    s3.put_object(Bucket=bucket, Key=name, Body=json.dumps(state).encode())


def test_write_after_losing_the_lease_is_not_counted(
    cache: dfc.CacheS3, s3: Any, bucket: str
) -> None:
    """Another request took the lease over: the holder's next change fails, its bytes
    are not listed, and the new holder sees the upload as it was."""
    store = cache.uploads()
    upload_id = _new(cache, length=10)
    with store.lock(upload_id) as upload:
        upload.write(0, [b"first"])
        upload.update(_record(upload_id, offset=5, length=10))
        taken = _state(s3, bucket, upload_id)
        _put_state(s3, bucket, upload_id, dict(taken, lease="someone else", seq=99))
        upload.write(5, [b"later"])
        with pytest.raises(UploadBusyError):
            upload.update(_record(upload_id, offset=10, length=10))
        with pytest.raises(UploadBusyError):
            upload.remove()  # fenced too: the new holder's upload stays
    state = _state(s3, bucket, upload_id)
    assert state["lease"] == "someone else"  # the stale holder did not release it
    assert state["record"]["offset"] == 5 and len(state["segs"]) == 1
    assert not cache.is_in("k" + upload_id)
    with pytest.raises(UploadBusyError):
        with store.lock(upload_id):
            pass


def test_slow_body_keeps_its_lease_a_dead_holder_loses_it(
    cache: dfc.CacheS3, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body slower than a lease keeps the lock (renewed between reads); a holder that
    stops loses it once the record is a lease old by the store's clock."""
    monkeypatch.setattr(_s3_uploads, "LEASE_S", 3.0)
    store = cache.uploads()
    upload_id = _new(cache)

    def trickle() -> Iterator[bytes]:  # 1 MiB in 4.8 s: more than a lease
        for _ in range(16):
            time.sleep(0.3)
            yield b"t" * (64 * 1024)

    with store.lock(upload_id) as upload:
        written = upload.write(0, trickle())
        assert written.stored == MiB and written.error is None
        upload.update(_record(upload_id, offset=MiB))
    state = _state(s3, bucket, upload_id)
    _put_state(s3, bucket, upload_id, dict(state, lease="a holder that died", seq=99))
    with pytest.raises(UploadBusyError):
        with store.lock(upload_id):
            pass
    time.sleep(4.2)
    with store.lock(upload_id) as upload:  # the dead holder's lease ran out
        assert upload.record()["offset"] == MiB
        assert upload.write(MiB, [b"end"]).stored == 3


# -- bytes ----------------------------------------------------------------------------------------
def test_small_writes_become_parts_and_finish_copies_them(
    cache: dfc.CacheS3, s3: Any, bucket: str
) -> None:
    """1 MiB writes: every segment but a trailing run under 5 MiB is 5 MiB or more, and
    the item (assembled in the store) is byte-identical, a refused tail cut off."""
    data = os.urandom(13 * MiB + 321)
    store = cache.uploads()
    upload_id = _new(cache, length=len(data))
    offset = 0
    while offset < len(data):
        with store.lock(upload_id) as upload:
            stored = upload.write(offset, [data[offset : offset + MiB]]).stored
            upload.update(_record(upload_id, offset=offset + stored, length=len(data)))
            offset += stored
        if offset == 7 * MiB:  # a request whose bytes are refused (a checksum mismatch)
            with store.lock(upload_id) as upload:
                upload.write(offset, [os.urandom(3 * MiB)])
    segments = _state(s3, bucket, upload_id)["segs"]
    sizes = [length for _, length, _, _ in segments]
    assert sum(sizes) == len(data)
    assert all(size >= 5 * MiB for size in sizes[:2]) and sum(sizes[2:]) < 5 * MiB, sizes
    key = cache.new_key(new_uid())
    with store.lock(upload_id) as upload:
        with upload.open() as partial:
            partial.seek(7 * MiB - 3)
            assert partial.read(MiB) == data[7 * MiB - 3 : 8 * MiB - 3]
        upload.finish(key, _info())
    assert _content(cache, key) == data
    assert [k for k in keys_of(s3, bucket) if "/upload/" in k] == []
    assert uploads_of(s3, bucket) == []


def test_sweep_deletes_what_a_cut_short_removal_left(
    cache: dfc.CacheS3, s3: Any, bucket: str
) -> None:
    """A tombstone (the removal committed, then the process died) and segments without a
    record: the next sweep deletes them (the orphans once old enough)."""
    store = cache.uploads()
    dead = _new(cache)
    with store.lock(dead) as upload:
        upload.write(0, [b"bytes"])
        upload.update(_record(dead, offset=5))
    _put_state(s3, bucket, dead, dict(_state(s3, bucket, dead), gone=True))
    orphan = new_uid()
    s3.put_object(Bucket=bucket, Key=f"dash-file-cache/upload/{orphan}/seg/x", Body=b"x")
    kept = _new(cache)
    with pytest.raises(FileNotFoundError):
        store.record(dead)
    assert store.sweep(time.time()) == []
    assert not [k for k in keys_of(s3, bucket) if dead in k]
    assert [k for k in keys_of(s3, bucket) if orphan in k]
    assert store.sweep(time.time() + 2 * 3600) == []
    assert not [k for k in keys_of(s3, bucket) if orphan in k]
    assert store.ids() == [kept]


def test_store_down_is_unavailable_then_resumes(radosgw: RadosGateway, cache: dfc.CacheS3) -> None:
    store = cache.uploads()
    upload_id = _new(cache, length=6)
    with store.lock(upload_id) as upload:
        upload.update(_record(upload_id, offset=upload.write(0, [b"abc"]).stored, length=6))
    radosgw.stop()
    try:
        with pytest.raises(dfc.CacheUnavailableError):
            store.record(upload_id)
        with pytest.raises(dfc.CacheUnavailableError):
            with store.lock(upload_id):
                pass
    finally:
        radosgw.start()
    with store.lock(upload_id) as upload:
        upload.update(_record(upload_id, offset=3 + upload.write(3, [b"def"]).stored, length=6))
        upload.finish("k" + upload_id, _info())
    assert _content(cache, "k" + upload_id) == b"abcdef"


@pytest.fixture(autouse=True)
def _gateway_running(radosgw: RadosGateway) -> Iterator[None]:
    yield
    if not radosgw.running:
        radosgw.start()


def test_racing_hosts_never_interleave(
    new_cache: Callable[..., dfc.CacheAbstract], s3: Any, bucket: str
) -> None:
    """Three caches (three clients, as on three hosts) append blocks as fast as they can:
    the lease lets one at a time in, so the offset counts whole blocks, each one writer's."""
    caches = [new_cache() for _ in range(3)]
    upload_id = _new(caches[0])
    barrier = threading.Barrier(len(caches))

    def race(cache: dfc.CacheAbstract, mark: bytes) -> int:
        store, won = cache.uploads(), 0
        barrier.wait()
        for _ in range(25):
            try:
                with store.lock(upload_id) as upload:
                    record = upload.record()
                    record["offset"] += upload.write(record["offset"], [mark * 4096]).stored
                    upload.update(record)
                    won += 1
            except UploadBusyError:
                pass
        return won

    with ThreadPoolExecutor(len(caches)) as pool:
        wins = list(pool.map(race, caches, [b"a", b"b", b"c"]))
    assert 0 < sum(wins) < 3 * 25, wins  # some attempts met the lock held
    store = caches[0].uploads()
    assert store.record(upload_id)["offset"] == sum(wins) * 4096
    with store.lock(upload_id) as upload, upload.open() as content:
        blocks = [content.read(4096) for _ in range(sum(wins))]
        assert content.read() == b""
    assert [blocks.count(bytes([m]) * 4096) for m in b"abc"] == wins
    assert _state(s3, bucket, upload_id)["lease"] is None
