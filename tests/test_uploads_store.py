"""Unfinished uploads in every cache (``dash_file_cache.caches.uploads``).

The storage seam below the tus endpoint: create, write at an offset (resume,
overwrite past the offset, a source that fails mid-way), the exclusive lock
(threads, and real processes for ``CacheFile``), finish into an item
atomically, remove and sweep, the caches' limits, and flat memory for a large
upload on the shared caches.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, cast

import psutil
import pytest

import dash_file_cache as dfc
from dash_file_cache.caches._process import tag_key
from dash_file_cache.caches.abstract import CachedFileInfo, ItemElsewhereError, open_content
from dash_file_cache.caches.uploads import (
    PartFileStore,
    UploadBusyError,
    UploadFullError,
    UploadStore,
    Written,
    is_expired,
)
from dash_file_cache.services.tus import UploadState
from dash_file_cache.services.uid import new_uid

_MB = 1 << 20
BODY = os.urandom(3 * _MB + 777)


def _info(name: str = "up.bin") -> CachedFileInfo:
    return {
        "file_name": name,
        "content_type": "application/octet-stream",
        "one_time_service": False,
        "created": time.time(),
    }


def _record(upload_id: str, offset: int = 0, length: Optional[int] = None, **more: Any) -> Dict:
    state = UploadState(upload_id, offset=offset, length=length, **more)
    return state.to_record()


def _new(cache: dfc.CacheAbstract, length: Optional[int] = None, **more: Any) -> str:
    upload_id = cache.new_key(new_uid())
    cache.uploads().create(upload_id, _record(upload_id, length=length, **more))
    return upload_id


def _content(cache: dfc.CacheAbstract, key: str) -> bytes:
    _, stream = open_content(cache, key)
    with stream:
        return stream.read()


def _store_offset(store: UploadStore, upload_id: str, written: Written) -> None:
    """What the endpoint does after a write: the offset grows by what was stored."""
    with store.lock(upload_id) as upload:
        record = upload.record()
        record["offset"] += written.stored
        upload.update(record)


def _failing(blocks: List[bytes], error: Exception) -> Iterator[bytes]:
    yield from blocks
    raise error


def test_write_resume_overwrite_and_finish(cache: dfc.CacheAbstract) -> None:
    """Chunks at offsets, a refused tail overwritten, then an item identical to the bytes."""
    store = cache.uploads()
    upload_id = _new(cache, length=len(BODY))
    first, rest = BODY[: _MB + 5], BODY[_MB + 5 :]
    with store.lock(upload_id) as upload:
        written = upload.write(0, [first])
        assert written == Written(len(first), True, False, None)
        upload.update(_record(upload_id, offset=len(first), length=len(BODY)))
    # A refused request left junk past the offset: the next write replaces it.
    with store.lock(upload_id) as upload:
        upload.write(len(first), [b"junk" * 1000])
    assert store.record(upload_id)["offset"] == len(first)
    key = cache.new_key(new_uid())
    with store.lock(upload_id) as upload:
        written = upload.write(len(first), [rest[:100], rest[100:]])
        assert written.stored == len(rest) and written.complete
        upload.update(_record(upload_id, offset=len(BODY), length=len(BODY)))
        with upload.open() as partial:
            assert hashlib.sha256(partial.read()).digest() == hashlib.sha256(BODY).digest()
        with pytest.raises(FileNotFoundError):
            cache.load(key)  # not servable before finish
        upload.finish(key, _info())
    assert _content(cache, key) == BODY
    assert cache.load(key)[0]["file_name"] == "up.bin"
    assert upload_id not in store.ids()
    with pytest.raises(FileNotFoundError):
        store.record(upload_id)
    with pytest.raises(FileNotFoundError):
        with store.lock(upload_id):
            pass


def test_readable_source_and_limit(cache: dfc.CacheAbstract) -> None:
    """A file object as source; at most ``limit`` bytes taken, one more means overflow."""
    store = cache.uploads()
    upload_id = _new(cache)
    with store.lock(upload_id) as upload:
        assert upload.write(0, io.BytesIO(b"x" * 10), limit=10) == Written(10, True, False, None)
        assert upload.write(0, io.BytesIO(b"y" * 11), limit=10) == Written(10, True, True, None)
        assert upload.write(0, io.BytesIO(b""), limit=0) == Written(0, True, False, None)
        upload.write(0, io.BytesIO(b"z" * 7))
        upload.update(_record(upload_id, offset=7, length=7))
        upload.finish("k" + upload_id, _info())
    assert _content(cache, "k" + upload_id) == b"z" * 7


class _Pieces:
    """A readable source whose reads end where its pieces do (short reads), at most ``size``."""

    def __init__(self, pieces: List[bytes]) -> None:
        self.pieces = list(pieces)

    def read(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            piece, rest = piece[:size], piece[size:]
            self.pieces.insert(0, rest)
        return piece


def _pieces_of(data: bytes, sizes: List[int]) -> List[bytes]:
    pieces, at, turn = [], 0, 0
    while at < len(data):
        step = sizes[turn % len(sizes)]
        pieces.append(data[at : at + step])
        at, turn = at + step, turn + 1
    return pieces


def test_a_source_of_pieces_is_stored_in_order(cache: dfc.CacheAbstract) -> None:
    """Reads of every size (a few bytes to more than a block) are stored in order;
    ``observe`` sees every byte; ``limit`` holds."""
    store = cache.uploads()
    upload_id = _new(cache, length=len(BODY))
    pieces = _pieces_of(BODY[:40_000], [7]) + _pieces_of(BODY[40_000:], [65_536, 1, 300_000, 13])
    seen = hashlib.sha256()
    with store.lock(upload_id) as upload:
        # _Pieces stands in for a file: write() calls only its read()
        written = upload.write(
            0, cast(IO[bytes], _Pieces(pieces)), limit=len(BODY), observe=seen.update
        )
        assert written == Written(len(BODY), True, False, None)
        assert seen.digest() == hashlib.sha256(BODY).digest()
        assert upload.write(0, cast(IO[bytes], _Pieces([BODY[:10], b"!"])), limit=10) == Written(
            10, True, True, None
        )
        upload.write(0, cast(IO[bytes], _Pieces(pieces)))
        upload.update(_record(upload_id, offset=len(BODY), length=len(BODY)))
        upload.finish("k" + upload_id, _info())
    assert _content(cache, "k" + upload_id) == BODY


def test_source_raising_keeps_what_arrived(cache: dfc.CacheAbstract) -> None:
    """A client gone mid-body: the bytes stored count, and the upload resumes after them."""
    store = cache.uploads()
    upload_id = _new(cache, length=3 * 1000 + 4)
    gone = ConnectionResetError("client went away")
    seen: List[bytes] = []
    with store.lock(upload_id) as upload:
        written = upload.write(
            0, _failing([b"a" * 1000, b"b" * 1000], gone), observe=lambda b: seen.append(bytes(b))
        )
    assert written == Written(2000, False, False, gone)
    assert b"".join(seen) == b"a" * 1000 + b"b" * 1000
    _store_offset(store, upload_id, written)
    assert store.record(upload_id)["offset"] == 2000
    with store.lock(upload_id) as upload:
        written = upload.write(2000, [b"c" * 1004])
        record = upload.record()
        record["offset"] += written.stored
        upload.update(record)
        upload.finish("k" + upload_id, _info())
    assert _content(cache, "k" + upload_id) == b"a" * 1000 + b"b" * 1000 + b"c" * 1004


def test_bad_offsets_and_unfinished(cache: dfc.CacheAbstract) -> None:
    store = cache.uploads()
    upload_id = _new(cache, length=10)
    with pytest.raises(FileExistsError):
        store.create(upload_id, _record(upload_id))
    with store.lock(upload_id) as upload:
        with pytest.raises(ValueError):
            upload.write(5, [b"x"])  # nothing there yet
        upload.write(0, [b"12345"])
        upload.update(_record(upload_id, offset=5, length=10))
        with pytest.raises(ValueError, match="not complete"):
            upload.finish("k" + upload_id, _info())
    assert not cache.is_in("k" + upload_id)
    assert store.record(upload_id)["offset"] == 5


def test_lock_refuses_a_second_holder_and_is_released_on_error(cache: dfc.CacheAbstract) -> None:
    store = cache.uploads()
    upload_id = _new(cache)
    outcome: List[str] = []

    def other() -> None:
        try:
            with store.lock(upload_id):
                outcome.append("locked")
        except UploadBusyError as exc:
            outcome.append(f"busy {exc.errno}")

    with pytest.raises(RuntimeError):
        with store.lock(upload_id):
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            with pytest.raises(UploadBusyError):
                store.remove(upload_id)
            raise RuntimeError("the request failed")
    assert outcome == [f"busy {errno.EAGAIN}"]
    other()  # released by the exception
    assert outcome[-1] == "locked"


def test_remove_and_sweep(cache: dfc.CacheAbstract) -> None:
    store = cache.uploads()
    now = time.time()
    old = _new(cache, expires_at=now - 1)
    fresh = _new(cache, expires_at=now + 3600)
    forever = _new(cache)
    with store.lock(old) as upload:
        upload.write(0, [b"partial"])
    busy = _new(cache, expires_at=now - 1)
    assert set(store.ids()) == {old, fresh, forever, busy}
    assert is_expired(store.record(old), now) and not is_expired(store.record(fresh), now)
    with store.lock(busy):
        assert store.sweep(now) == [old]  # a busy one waits for the next sweep
    assert store.sweep(now) == [busy]
    assert set(store.ids()) == {fresh, forever}
    with pytest.raises(FileNotFoundError):
        store.record(old)
    assert store.remove(fresh) is True
    assert store.remove(fresh) is False
    assert store.ids() == [forever]


def test_open_content_of_path_and_stored_items(cache: dfc.CacheAbstract, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"on disk")
    key = cache.new_key(new_uid())
    cache.dump(key, _info(), str(path))
    assert _content(cache, key) == b"on disk"
    with cache.open_item("s" + key, _info()) as out:
        out.write(b"stored")
    assert _content(cache, "s" + key) == b"stored"
    with pytest.raises(FileNotFoundError):
        open_content(cache, "missing" + key)


@pytest.mark.parametrize("cache_kind", ["plain", "queue"])
def test_per_process_caches_refuse_other_processes_ids(cache: dfc.CacheAbstract) -> None:
    foreign = tag_key(new_uid(), "0" * 12)
    store = cache.uploads()
    with pytest.raises(ItemElsewhereError):
        store.create(foreign, _record(foreign))
    with pytest.raises(ItemElsewhereError):
        store.record(foreign)
    with pytest.raises(ItemElsewhereError):
        with store.lock(foreign):
            pass


@pytest.mark.parametrize("cache_kind", ["file", "redis"])
def test_size_limit_refuses_without_a_servable_item(
    new_cache: Callable[..., dfc.CacheAbstract],
) -> None:
    cache = new_cache(size_limit=2 * _MB)
    store = cache.uploads()
    upload_id = _new(cache, length=3 * _MB)
    with store.lock(upload_id) as upload:
        with pytest.raises(UploadFullError) as caught:
            upload.write(0, [BODY[:_MB], BODY[_MB : 3 * _MB]])
    assert caught.value.errno == errno.EFBIG
    assert caught.value.stored == 2 * _MB  # the blocks before the bound are kept
    assert isinstance(caught.value, OSError)
    assert not cache.is_in("k" + upload_id)


@pytest.mark.parametrize("cache_kind", ["redis"])
def test_redis_write_after_losing_the_lock_stores_nothing(cache: dfc.CacheAbstract) -> None:
    assert isinstance(cache, dfc.CacheRedis)
    store = cache.uploads()
    upload_id = _new(cache)
    with store.lock(upload_id) as upload:
        upload.write(0, [b"first"])
        cache.client.set(f"{cache.prefix}uplock:{upload_id}", b"someone else")  # lease lost
        with pytest.raises(UploadBusyError):
            upload.write(5, [b"second"])
        with pytest.raises(UploadBusyError):
            upload.update(_record(upload_id, offset=5))
    assert cache.client.get(f"{cache.prefix}uplock:{upload_id}") == b"someone else"
    assert cache.client.get(f"{cache.prefix}upchunk:{upload_id}:0") == b"first"


@pytest.mark.parametrize("cache_kind", ["redis"])
def test_redis_slow_body_keeps_its_lease_a_dead_holder_loses_it(
    cache: dfc.CacheAbstract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client slower than a lease per block keeps the lock (it is renewed between
    reads); a holder that stops (a killed process) loses it after one lease."""
    from dash_file_cache.caches import _redis_uploads

    assert isinstance(cache, dfc.CacheRedis)
    # A lease of 1.5 s renewed every 0.2 s: a renewal may come 1.3 s late on a loaded
    # machine (with 0.6 s and 0.1 s, a starved 3.9 run once lost it).
    monkeypatch.setattr(_redis_uploads, "LEASE_MS", 1500)
    monkeypatch.setattr(_redis_uploads, "READ_BLOCK", 64 * 1024)
    store = cache.uploads()
    upload_id = _new(cache)

    def trickle() -> Iterator[bytes]:  # 1 MiB in 3.2 s: a block takes more than a lease
        for _ in range(16):
            time.sleep(0.2)
            yield b"t" * (64 * 1024)

    with store.lock(upload_id) as upload:
        written = upload.write(0, trickle())
        assert written.stored == _MB and written.error is None
    lock_key = f"{cache.prefix}uplock:{upload_id}"
    cache.client.set(lock_key, b"a holder that died", px=1500)
    with pytest.raises(UploadBusyError):
        with store.lock(upload_id):
            pass
    time.sleep(1.6)
    with store.lock(upload_id) as upload:  # the dead holder's lease ran out
        assert upload.write(_MB, [b"end"]).stored == 3


_HOLDER = """
import sys, time
from dash_file_cache import CacheFile
store = CacheFile(sys.argv[1]).uploads()
with store.lock(sys.argv[2]):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("cache_kind", ["file"])
def test_cache_file_lock_is_exclusive_between_processes(cache: dfc.CacheAbstract) -> None:
    """Another process holds the lock: busy here; killed, the kernel releases it."""
    assert isinstance(cache, dfc.CacheFile)
    store = cache.uploads()
    upload_id = _new(cache)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, cache.cache_dir, upload_id],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(UploadBusyError):
            with store.lock(upload_id):
                pass
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with store.lock(upload_id) as upload:
        assert upload.write(0, [b"after"]).stored == 5


@pytest.mark.parametrize("cache_kind", ["file", "redis"])
def test_large_upload_keeps_memory_flat(cache: dfc.CacheAbstract) -> None:
    """64 MiB in 1 MiB blocks: the process grows far less than the upload."""
    size = 64 * _MB
    block = os.urandom(_MB)
    store = cache.uploads()
    upload_id = _new(cache, length=size)
    process = psutil.Process()
    peak = [process.memory_info().rss]
    base = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    key = cache.new_key(new_uid())
    try:
        with store.lock(upload_id) as upload:
            written = upload.write(0, (block for _ in range(64)))
            assert written.stored == size
            upload.update(_record(upload_id, offset=size, length=size))
            upload.finish(key, _info())
    finally:
        done.set()
        sampler.join()
    assert peak[0] - base < 32 * _MB, f"grew {(peak[0] - base) / _MB:.1f} MiB"
    digest = hashlib.sha256()
    _, stream = open_content(cache, key)
    with stream:
        for piece in iter(lambda: stream.read(_MB), b""):
            digest.update(piece)
    assert digest.digest() == hashlib.sha256(block * 64).digest()


@pytest.mark.parametrize("cache_kind", ["plain", "queue"])
def test_per_process_finish_moves_the_file_and_removal_deletes_it(
    cache: dfc.CacheAbstract,
) -> None:
    """The part file becomes the item's file (renamed); it goes with the item."""
    store = cache.uploads()
    upload_id = _new(cache, length=len(BODY))
    key = cache.new_key(new_uid())
    with store.lock(upload_id) as upload:
        upload.write(0, [BODY])
        upload.update(_record(upload_id, offset=len(BODY), length=len(BODY)))
        upload.finish(key, _info())
    _, loader = cache.load(key)
    path = loader()
    assert isinstance(path, str) and Path(path).read_bytes() == BODY
    assert not any(name.endswith(".part") for name in os.listdir(Path(path).parent / "uploads"))
    assert cache.remove(key)
    assert not os.path.exists(path)


@pytest.mark.parametrize("cache_kind", ["plain", "file"])
def test_disk_full_is_an_upload_full_error(
    cache: dfc.CacheAbstract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC mid-write: ``UploadFullError`` counting the bytes stored before it."""
    store = cache.uploads()
    upload_id = _new(cache, length=3000)
    real_pwrite = os.pwrite
    calls = []

    def pwrite(fd: int, data: Any, position: int) -> int:
        calls.append(position)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, position)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with store.lock(upload_id) as upload:
        with pytest.raises(UploadFullError) as caught:
            upload.write(0, [b"a" * 1000, b"b" * 1000, b"c" * 1000])
    assert (caught.value.errno, caught.value.stored) == (errno.ENOSPC, 2000)
    monkeypatch.undo()
    with store.lock(upload_id) as upload:
        upload.write(2000, [b"c" * 1000])
        upload.update(_record(upload_id, offset=3000, length=3000))
        upload.finish("k" + upload_id, _info())
    assert _content(cache, "k" + upload_id) == b"a" * 1000 + b"b" * 1000 + b"c" * 1000


@pytest.mark.parametrize("cache_kind", ["plain", "queue"])
def test_per_process_caches_in_a_forked_process(cache: dfc.CacheAbstract) -> None:
    """A forked worker (its own process token) gets ``ItemElsewhereError``, as for items."""
    upload_id = _new(cache)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's outcome is its exit code
        code = 1
        store = cache.uploads()
        try:
            store.record(upload_id)
        except ItemElsewhereError:
            code = 0
        except BaseException:
            code = 2
        # os._exit skips atexit, which removes this process's spool directory.
        assert isinstance(store, PartFileStore)
        shutil.rmtree(os.path.dirname(store.directory), ignore_errors=True)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.uploads().record(upload_id)["offset"] == 0


@pytest.mark.parametrize("cache_kind", ["file", "redis"])
def test_shared_caches_see_uploads_from_another_instance(
    new_cache: Callable[..., dfc.CacheAbstract],
) -> None:
    """Another process, host or a restart: a second cache on the same storage resumes it."""
    first, second = new_cache(), new_cache()
    upload_id = _new(first, length=6)
    with first.uploads().lock(upload_id) as upload:
        written = upload.write(0, [b"abc"])
        upload.update(_record(upload_id, offset=written.stored, length=6))
        with pytest.raises(UploadBusyError):
            with second.uploads().lock(upload_id):
                pass
    assert upload_id in second.uploads().ids()
    with second.uploads().lock(upload_id) as upload:
        assert upload.record()["offset"] == 3
        upload.write(3, [b"def"])
        upload.update(_record(upload_id, offset=6, length=6))
        upload.finish("k" + upload_id, _info())
    assert _content(first, "k" + upload_id) == b"abcdef"


@pytest.mark.parametrize("cache_kind", ["file"])
def test_cache_file_finish_does_not_copy(cache: dfc.CacheAbstract) -> None:
    """The item's content file is the part file itself (a hard link, same inode)."""
    assert isinstance(cache, dfc.CacheFile)
    store = cache.uploads()
    upload_id = _new(cache, length=len(BODY))
    part = Path(cache.cache_dir, "uploads", f"{upload_id}.part")
    with store.lock(upload_id) as upload:
        upload.write(0, [BODY])
        upload.update(_record(upload_id, offset=len(BODY), length=len(BODY)))
        inode = part.stat().st_ino
        upload.finish("k" + upload_id, _info())
    assert not part.exists()
    _, stream = open_content(cache, "k" + upload_id)
    with stream:
        assert os.fstat(stream.fileno()).st_ino == inode
        assert stream.read() == BODY


@pytest.mark.parametrize("cache_kind", ["file"])
def test_sweep_removes_files_left_by_cut_short_writes(cache: dfc.CacheAbstract) -> None:
    """A part without record and a temporary record file: gone once old enough."""
    assert isinstance(cache, dfc.CacheFile)
    store = cache.uploads()
    kept = _new(cache)
    directory = Path(cache.cache_dir, "uploads")
    orphan = directory / f"{new_uid()}.part"
    temp = directory / ".0123456789abcdef.tmp"
    orphan.write_bytes(b"x")
    temp.write_text("{")
    now = time.time()
    assert store.sweep(now) == [] and orphan.exists() and temp.exists()
    assert store.sweep(now + 2 * 3600) == []
    assert not orphan.exists() and not temp.exists()
    assert store.ids() == [kept]
    assert (directory / f"{kept}.part").exists()


_RACER = """
import sys
from dash_file_cache import CacheFile
from dash_file_cache.caches.uploads import UploadBusyError
store = CacheFile(sys.argv[1]).uploads()
mark = sys.argv[3].encode() * 4096
won = 0
for _ in range(200):
    try:
        with store.lock(sys.argv[2]) as upload:
            record = upload.record()
            record["offset"] += upload.write(record["offset"], [mark[:1000], mark[1000:]]).stored
            upload.update(record)
            won += 1
    except UploadBusyError:
        pass
print(won)
"""


@pytest.mark.parametrize("cache_kind", ["file"])
def test_cache_file_racing_processes_never_interleave(cache: dfc.CacheAbstract) -> None:
    """Two processes append blocks as fast as they can: whole blocks, offset == bytes."""
    assert isinstance(cache, dfc.CacheFile)
    upload_id = _new(cache)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, cache.cache_dir, upload_id, mark],
            stdout=subprocess.PIPE,
            env=env,
        )
        for mark in "ab"
    ]
    wins = [int(racer.communicate(timeout=120)[0]) for racer in racers]
    store = cache.uploads()
    offset = store.record(upload_id)["offset"]
    assert offset == sum(wins) * 4096
    with store.lock(upload_id) as upload, upload.open() as content:
        blocks = [content.read(4096) for _ in range(sum(wins))]
        assert content.read() == b""
    assert all(block in (b"a" * 4096, b"b" * 4096) for block in blocks)
