"""Unfinished uploads of :class:`~dash_file_cache.CacheRedis` (see :mod:`.uploads`).

Keys under the cache's prefix ``p``::

    {p}upload:{id}          hash: record (JSON), size (bytes present), n (chunks present)
    {p}uplock:{id}          the lock: a random token, SET NX PX (a lease)
    {p}upchunk:{id}:{i}     i-th chunk of the bytes (``chunk_size`` MB each, the last shorter)

Every key of an upload expires ``ttl`` seconds after the upload was last
updated (a chunk: after it was last written, if later), so an upload
abandoned without a sweep vanishes by itself.

- **Lock**: ``SET NX PX`` with a random token; released only by its holder
  (compare-and-delete script). The lease (:data:`LEASE_MS`) is renewed by
  every write and while the body is read, and every write or update is
  *fenced*: a script stores the bytes only if the lock still holds this token.
  So a holder that stalled past its lease and lost the lock stores nothing
  more (:class:`UploadBusyError`): two writers never interleave, across hosts too.
- **Write**: blocks are appended to the chunk keys in place (``APPEND``): the
  chunks always have the layout of an item's, so finishing moves no byte.
- **Finish**: one script checks the lock and the size, ``RENAME``\\ s the
  chunks to a new version of the item's chunk keys, publishes the item
  (as ``CacheRedis.dump`` does: eviction for ``size_limit``, accounting) and
  deletes the upload's hash. All or nothing, and no byte through Python.
"""

from __future__ import annotations

import errno
import json
import secrets
import time
import uuid
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, cast

from .._grammar import MB
from .abstract import CachedFileInfo, CacheUnavailableError
from .redis import _LUA_PUBLISH_FUNCTION, RedisContentStream, _glob_escape, _redis_errors
from .uploads import (
    Block,
    LockedUpload,
    UploadBusyError,
    UploadFullError,
    UploadStore,
    check_finishable,
    record_offset,
)

if TYPE_CHECKING:  # pragma: no cover
    from .redis import CacheRedis

__all__ = ["LEASE_MS", "RedisUploadStore"]

#: How long a lock holder may go without renewing before it loses the lock. A holder
#: renews while it reads the body (every :data:`LEASE_MS`/3 at most, between reads of
#: :data:`READ_BLOCK`), so only a client that sends less than that in a lease, or a
#: process that died, loses it; then a resume waits at most this long (the component's
#: default retries span 19 s).
LEASE_MS = 15_000
#: The most read from a request body between two renewals of the lease.
READ_BLOCK = 64 * 1024

_LUA_CREATE = """
if redis.call('EXISTS', ARGV[1]) == 1 then return 0 end
redis.call('HSET', ARGV[1], 'record', ARGV[2], 'size', 0, 'n', 0)
redis.call('PEXPIRE', ARGV[1], ARGV[3])
return 1
"""

_LUA_RELEASE = """
if redis.call('GET', ARGV[1]) == ARGV[2] then redis.call('DEL', ARGV[1]) end
return 1
"""

_LUA_RENEW = """
if redis.call('GET', ARGV[1]) == ARGV[2] then return redis.call('PEXPIRE', ARGV[1], ARGV[3]) end
return 0
"""

# Fenced scripts. ARGV: upload hash, lock key, token, chunk base, ttl_ms, then their own.
# Return -3: the lock is not ours; -2: the upload is gone.
_LUA_FENCE = """
local up, base, ttl = ARGV[1], ARGV[4], ARGV[5]
if redis.call('GET', ARGV[2]) ~= ARGV[3] then return -3 end
if redis.call('EXISTS', up) == 0 then return -2 end
local function touch()
  redis.call('PEXPIRE', up, ttl)
  for i = 0, tonumber(redis.call('HGET', up, 'n')) - 1 do
    redis.call('PEXPIRE', base .. i, ttl)
  end
end
"""

# ARGV[6]: the record.
_LUA_UPDATE = (
    _LUA_FENCE
    + """
redis.call('HSET', up, 'record', ARGV[6])
touch()
return 1
"""
)

# ARGV[6]: offset, ARGV[7]: chunk bytes. -1: the offset is past the bytes present.
_LUA_CUT = (
    _LUA_FENCE
    + """
local offset, cb = tonumber(ARGV[6]), tonumber(ARGV[7])
local size, n = tonumber(redis.call('HGET', up, 'size')), tonumber(redis.call('HGET', up, 'n'))
if offset > size then return -1 end
if offset < size then
  local whole = math.floor(offset / cb)
  local rest = offset - whole * cb
  local first = whole
  if rest > 0 then first = whole + 1 end
  for i = first, n - 1 do redis.call('DEL', base .. i) end
  if rest > 0 then
    local key = base .. whole
    redis.call('SET', key, string.sub(redis.call('GET', key), 1, rest), 'PX', ttl)
  end
  redis.call('HSET', up, 'size', offset, 'n', first)
end
return 1
"""
)

# ARGV[6]: chunk index, ARGV[7]: the bytes, ARGV[8]: lease ms.
_LUA_APPEND = (
    _LUA_FENCE
    + """
local index = tonumber(ARGV[6])
local key = base .. index
redis.call('APPEND', key, ARGV[7])
redis.call('PEXPIRE', key, ttl)
redis.call('HINCRBY', up, 'size', string.len(ARGV[7]))
if index + 1 > tonumber(redis.call('HGET', up, 'n')) then
  redis.call('HSET', up, 'n', index + 1)
end
redis.call('PEXPIRE', up, ttl)
redis.call('PEXPIRE', ARGV[2], ARGV[8])
return 1
"""
)

_LUA_REMOVE = (
    _LUA_FENCE
    + """
for i = 0, tonumber(redis.call('HGET', up, 'n')) - 1 do redis.call('DEL', base .. i) end
redis.call('DEL', up)
return 1
"""
)

# ARGV[1..11]: those of publish() (see redis.py); ARGV[12]: upload hash, ARGV[13]:
# lock key, ARGV[14]: token, ARGV[15]: upload chunk base. -3: not our lock;
# -2: gone or size changed; -1: a chunk is missing; else publish()'s result.
_LUA_FINISH = (
    _LUA_PUBLISH_FUNCTION
    + """
local up = ARGV[12]
if redis.call('GET', ARGV[13]) ~= ARGV[14] then return -3 end
if tonumber(redis.call('HGET', up, 'size') or '-1') ~= tonumber(ARGV[5]) then return -2 end
local n = tonumber(ARGV[6])
local source = ARGV[15]
local target = prefix .. 'chunk:' .. ARGV[3] .. ':' .. ARGV[7] .. ':'
for i = 0, n - 1 do
  if redis.call('EXISTS', source .. i) == 0 then return -1 end
end
for i = 0, n - 1 do redis.call('RENAME', source .. i, target .. i) end
local result = publish()
redis.call('DEL', up)
return result
"""
)


class RedisUploadStore(UploadStore):
    """Uploads of a :class:`~dash_file_cache.CacheRedis` (see the module)."""

    def __init__(self, cache: CacheRedis) -> None:
        self._cache = cache
        client = cache.client
        self._create = client.register_script(_LUA_CREATE)
        self._release = client.register_script(_LUA_RELEASE)
        self._renew = client.register_script(_LUA_RENEW)
        self.scripts = {
            name: client.register_script(text)
            for name, text in (
                ("update", _LUA_UPDATE),
                ("cut", _LUA_CUT),
                ("append", _LUA_APPEND),
                ("remove", _LUA_REMOVE),
                ("finish", _LUA_FINISH),
            )
        }

    @property
    def cache(self) -> CacheRedis:
        return self._cache

    def hash_key(self, upload_id: str) -> str:
        return f"{self._cache.prefix}upload:{upload_id}"

    def lock_key(self, upload_id: str) -> str:
        return f"{self._cache.prefix}uplock:{upload_id}"

    def chunk_base(self, upload_id: str) -> str:
        return f"{self._cache.prefix}upchunk:{upload_id}:"

    def create(self, upload_id: str, record: Mapping[str, Any]) -> None:
        """See :meth:`UploadStore.create`.

        Raises:
            FileExistsError: ``upload_id`` is already an upload.
            CacheUnavailableError: Redis cannot be reached.
        """
        record_offset(record)
        name = self.hash_key(upload_id)
        with _redis_errors("creating an upload"):
            created = int(
                self._create(keys=[name], args=[name, _dumps(record), self._cache.ttl * 1000])
            )
        if not created:
            raise FileExistsError(errno.EEXIST, f"The upload {upload_id!r} exists.")

    def record(self, upload_id: str) -> Dict[str, Any]:
        with _redis_errors("reading an upload"):
            raw = self._cache.client.hget(self.hash_key(upload_id), "record")
        if raw is None:
            raise FileNotFoundError(errno.ENOENT, f"No upload {upload_id!r}.")
        record: Dict[str, Any] = json.loads(raw)
        return record

    @contextmanager
    def lock(self, upload_id: str) -> Iterator[LockedUpload]:
        client = self._cache.client
        token = secrets.token_hex(16)
        lock_key = self.lock_key(upload_id)
        with _redis_errors("locking an upload"):
            if not client.set(lock_key, token, nx=True, px=LEASE_MS):
                raise UploadBusyError(upload_id)
        try:
            with _redis_errors("locking an upload"):
                present = client.exists(self.hash_key(upload_id))
            if not present:
                raise FileNotFoundError(errno.ENOENT, f"No upload {upload_id!r}.")
            yield _LockedChunks(self, upload_id, token)
        finally:
            try:
                self._release(keys=[lock_key], args=[lock_key, token])
            except Exception:  # Redis down: the lease expires by itself
                pass

    def ids(self) -> List[str]:
        prefix = f"{self._cache.prefix}upload:"
        found = []
        with _redis_errors("listing uploads"):
            for name in self._cache.client.scan_iter(match=f"{_glob_escape(prefix)}*", count=500):
                found.append(name.decode("utf-8", "replace")[len(prefix) :])
        return found


class _LockedChunks(LockedUpload):
    """An upload of :class:`RedisUploadStore` whose lock holds ``token``."""

    read_block = READ_BLOCK

    def __init__(self, store: RedisUploadStore, upload_id: str, token: str) -> None:
        self._chunk = store.cache.chunk_size * MB
        super().__init__(upload_id, min(self._chunk, MB))
        self._store = store
        self._token = token
        self._renewed = time.monotonic()

    def _keep(self) -> None:
        now = time.monotonic()
        if now - self._renewed < LEASE_MS / 3000:
            return
        self._renewed = now
        lock_key = self._store.lock_key(self.upload_id)
        with _redis_errors("renewing an upload's lock"):
            # 0: the lock was lost; the next (fenced) write says so
            self._store._renew(keys=[lock_key], args=[lock_key, self._token, LEASE_MS])

    def _fenced(self, name: str, *more: Any) -> int:
        """Run a fenced script; return its result when positive or -1.

        Raises:
            UploadBusyError: the lock is no longer ours.
            FileNotFoundError: the upload is gone.
        """
        store, upload_id = self._store, self.upload_id
        args = [
            store.hash_key(upload_id),
            store.lock_key(upload_id),
            self._token,
            store.chunk_base(upload_id),
            store.cache.ttl * 1000,
            *more,
        ]
        with _redis_errors("writing an upload"):
            result = int(store.scripts[name](keys=[args[0], args[1]], args=args))
        if result == -3:
            raise UploadBusyError(upload_id)
        if result == -2:
            raise FileNotFoundError(errno.ENOENT, f"No upload {upload_id!r}.")
        return result

    def record(self) -> Dict[str, Any]:
        return self._store.record(self.upload_id)

    def update(self, record: Mapping[str, Any]) -> None:
        record_offset(record)
        self._fenced("update", _dumps(record))

    def _cut(self, offset: int) -> None:
        if self._fenced("cut", offset, self._chunk) == -1:
            raise ValueError(f"Offset {offset} is past the bytes of the upload.")

    def _append(self, position: int, block: Block) -> None:
        limit = self._store.cache.size_limit
        if limit is not None and position + len(block) > limit:
            raise UploadFullError(
                errno.EFBIG, f"The upload is larger than the cache's size_limit ({limit} bytes)."
            )
        view = memoryview(block)
        while view:
            index, inside = divmod(position, self._chunk)
            piece = view[: self._chunk - inside]
            self._fenced("append", index, piece.tobytes(), LEASE_MS)
            self._renewed = time.monotonic()
            view, position = view[len(piece) :], position + len(piece)

    def open(self) -> IO[bytes]:
        size = record_offset(self.record())
        self._cut(size)
        stream = RedisContentStream(
            self._store.cache.client, self._store.chunk_base(self.upload_id), size, self._chunk
        )
        return cast(IO[bytes], stream)

    def finish(self, key: str, info: CachedFileInfo) -> None:
        size = check_finishable(self.record())
        self._cut(size)
        cache, store = self._store.cache, self._store
        version = uuid.uuid4().hex
        n_chunks = -(-size // self._chunk)
        meta = {
            "info": info,
            "size": size,
            "chunk": self._chunk,
            "n": n_chunks,
            "v": version,
            "path": None,
        }
        args = cache._publish_args(key, meta)
        args += [
            store.hash_key(self.upload_id),
            store.lock_key(self.upload_id),
            self._token,
            store.chunk_base(self.upload_id),
        ]
        with _redis_errors("finishing an upload"):
            result = int(store.scripts["finish"](keys=cache._script_keys(key), args=args))
        if result == -3:
            raise UploadBusyError(self.upload_id)
        if result == -2:
            raise FileNotFoundError(errno.ENOENT, f"No upload {self.upload_id!r}.")
        if result == -1:
            raise CacheUnavailableError(
                "Redis lost part of an upload (was it restarted, or did it evict keys?)."
            )
        cache._check_published(result)

    def remove(self) -> None:
        self._fenced("remove")


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), separators=(",", ":"))
