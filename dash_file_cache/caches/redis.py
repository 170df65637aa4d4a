"""Cache on a Redis server, shared by every process and host that reaches it.

Needs the ``redis`` package (``pip install "dash-file-cache[redis]"``). This
module is imported lazily by ``dash_file_cache.CacheRedis``, so the rest of the
library works without it.

Layout of the keys under ``prefix`` (``dfc:`` by default)::

    {prefix}item:{uid}              JSON metadata (info, size, chunking, version), TTL = ttl
    {prefix}chunk:{uid}:{ver}:{i}   i-th chunk of the content, TTL = ttl + grace
    {prefix}index                   sorted set uid -> registration time (size accounting)
    {prefix}sizes                   hash uid -> bytes accounted
    {prefix}bytes                   total bytes accounted

The metadata key is the item: it is written last, by a Lua script that also
checks that every chunk is there, so a reader never sees a half-written item.
Removing an item deletes that key (one ``DEL``, so exactly one of several
racing callers wins) and lets its chunks expire ``grace`` seconds later, so
responses that were already streaming them can finish.
"""

from __future__ import annotations

import errno
import json
import logging
import uuid
from contextlib import contextmanager, suppress
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union, cast

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "CacheRedis needs the 'redis' package: pip install \"dash-file-cache[redis]\"."
    ) from _exc

from .._grammar import MB
from .._validate import (
    check_bool,
    check_int,
    check_positive_int,
    check_positive_number,
    check_str,
)
from ._streams import BlockSink, RemoteReader
from .abstract import (
    CacheAbstract,
    CachedData,
    CachedFileInfo,
    CacheUnavailableError,
    read_block,
)
from .uploads import UploadStore

__all__ = ["CacheRedis", "RedisContentStream"]

_log = logging.getLogger(__name__)
#: Redis refuses strings above 512 MB; a chunk is one string.
_MAX_CHUNK_MB = 512
_URL_SCHEMES = ("redis://", "rediss://", "unix://")
#: How many of the oldest accounted items a write checks for expiry.
_PRUNE_BATCH = 32

# Shared by both scripts: ARGV[1] is the prefix, ARGV[2] the grace in ms.
# `retire` deletes an item's metadata, schedules its chunks to expire after the
# grace (or deletes them at once when the grace is 0) and drops its accounting.
# Keys computed inside the scripts: a single Redis server (or a primary with
# replicas / Sentinel) is supported, not Redis Cluster.
_LUA_PRELUDE = """
local prefix = ARGV[1]
local grace_ms = tonumber(ARGV[2])
local index_key = prefix .. 'index'
local sizes_key = prefix .. 'sizes'
local bytes_key = prefix .. 'bytes'

local function retire(uid)
  local item_key = prefix .. 'item:' .. uid
  local raw = redis.call('GET', item_key)
  if raw then
    redis.call('DEL', item_key)
    local meta = cjson.decode(raw)
    local base = prefix .. 'chunk:' .. uid .. ':' .. meta['v'] .. ':'
    for i = 0, tonumber(meta['n']) - 1 do
      if grace_ms > 0 then
        redis.call('PEXPIRE', base .. i, grace_ms)
      else
        redis.call('DEL', base .. i)
      end
    end
  end
  local size = redis.call('HGET', sizes_key, uid)
  if size then
    redis.call('HDEL', sizes_key, uid)
    redis.call('DECRBY', bytes_key, size)
  end
  redis.call('ZREM', index_key, uid)
  return raw
end
"""

# KEYS: item, index, sizes, bytes (declared for readability; see above).
# ARGV: prefix, grace_ms, uid. Returns 1 if this call removed a live item.
_LUA_REMOVE = (
    _LUA_PRELUDE
    + """
if retire(ARGV[3]) then return 1 end
return 0
"""
)

# KEYS: item, index, sizes, bytes.
# ARGV: prefix, grace_ms, uid, meta_json, accounted_size, n_chunks, version,
#       ttl_ms, chunk_ttl_ms, size_limit (-1: none), score (registration ms).
# `publish()` returns -1 if a chunk is missing (nothing published), else how
# many items were evicted to make room.
_LUA_PUBLISH_FUNCTION = (
    _LUA_PRELUDE
    + """
local function publish()
local uid = ARGV[3]
local size = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local base = prefix .. 'chunk:' .. uid .. ':' .. ARGV[7] .. ':'
local limit = tonumber(ARGV[10])
for i = 0, n - 1 do
  if redis.call('EXISTS', base .. i) == 0 then return -1 end
end
for _, old in ipairs(redis.call('ZRANGE', index_key, 0, """
    + str(_PRUNE_BATCH - 1)
    + """)) do
  if redis.call('EXISTS', prefix .. 'item:' .. old) == 0 then retire(old) end
end
retire(uid)
local evicted = 0
if limit >= 0 and size > 0 then
  local total = tonumber(redis.call('GET', bytes_key) or '0')
  while total + size > limit do
    local oldest = redis.call('ZRANGE', index_key, 0, 0)
    if #oldest == 0 then break end
    if retire(oldest[1]) then evicted = evicted + 1 end
    total = tonumber(redis.call('GET', bytes_key) or '0')
  end
end
for i = 0, n - 1 do
  redis.call('PEXPIRE', base .. i, ARGV[9])
end
redis.call('SET', prefix .. 'item:' .. uid, ARGV[4], 'PX', ARGV[8])
if size > 0 then
  redis.call('ZADD', index_key, ARGV[11], uid)
  redis.call('HSET', sizes_key, uid, size)
  redis.call('INCRBY', bytes_key, size)
end
return evicted
end
"""
)
_LUA_PUBLISH = _LUA_PUBLISH_FUNCTION + "return publish()\n"


@contextmanager
def _redis_errors(action: str) -> Iterator[None]:
    """Turn ``redis`` exceptions into the library's ``OSError`` family.

    Raises:
        OSError: (``ENOSPC``) Redis refused a write for lack of memory.
        CacheUnavailableError: any other Redis failure (down, timeout, auth,
            read-only replica, wrong key type under the prefix...).
    """
    try:
        yield
    except redis.exceptions.RedisError as exc:
        text = str(exc) or type(exc).__name__
        if _is_out_of_memory(exc, text):
            raise OSError(
                errno.ENOSPC, f"Redis is out of memory (maxmemory) while {action}: {text}"
            ) from exc
        raise CacheUnavailableError(f"Redis is unavailable while {action}: {text}") from exc


def _is_out_of_memory(exc: Exception, text: str) -> bool:
    """Whether Redis refused a write because it reached ``maxmemory``."""
    # OutOfMemoryError is recent in redis-py; older versions keep the "OOM" prefix.
    oom_class = getattr(redis.exceptions, "OutOfMemoryError", None)
    if oom_class is not None and isinstance(exc, oom_class):
        return True
    return isinstance(exc, redis.exceptions.ResponseError) and (
        text.startswith("OOM") or "maxmemory" in text
    )


class RedisContentStream(RemoteReader):
    """Read-only, seekable binary stream over an item's chunk keys.

    Nothing is fetched when the stream is made: each ``read`` fetches only the
    chunks (or the part of a chunk, with ``GETRANGE``) that cover the bytes
    asked for, so a read at any offset costs one or two round trips whatever
    the item's size, and at most one chunk is kept in memory.

    Raises (from ``read``):
        FileNotFoundError: a chunk is gone (expired, evicted by Redis, or
            removed more than ``grace`` seconds ago).
        CacheUnavailableError: Redis cannot be reached.
    """

    def __init__(self, client: redis.Redis, base: str, size: int, chunk_bytes: int) -> None:
        super().__init__(size)
        self._client = client
        self._base = base
        self._chunk_bytes = chunk_bytes
        self._cached_index = -1
        self._cached = b""

    def read(self, size: Optional[int] = -1) -> bytes:
        """Read up to ``size`` bytes (all the rest if ``size`` is negative or ``None``)."""
        remaining = self._wanted(size)
        parts: List[bytes] = []
        while remaining > 0:
            piece = self._read_in_chunk(remaining)
            parts.append(piece)
            self._pos += len(piece)
            remaining -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        self._cached = b""
        super().close()

    # -- internals --------------------------------------------------------
    def _read_in_chunk(self, want: int) -> bytes:
        """Return at most ``want`` bytes from the current position, within one chunk."""
        index, offset = divmod(self._pos, self._chunk_bytes)
        chunk_len = min(self._chunk_bytes, self._size - index * self._chunk_bytes)
        take = min(want, chunk_len - offset)
        if index == self._cached_index:
            return self._cached[offset : offset + take]
        key = f"{self._base}{index}"
        with _redis_errors("reading an item"):
            if offset + take == chunk_len:
                # To the chunk's end: fetch exactly what is asked for.
                data = (
                    self._client.get(key)
                    if offset == 0
                    else self._client.getrange(key, offset, chunk_len - 1)
                )
                expected = take
            else:
                # Inside the chunk: fetch it whole and keep it for the next reads.
                data = self._client.get(key)
                expected = chunk_len
        if not data or len(data) != expected:
            raise FileNotFoundError(
                "The cached content vanished from Redis while being read (expired, "
                "evicted or removed)."
            )
        # The client is bytes-only (checked at construction): `data` is bytes.
        content = cast(bytes, data)
        if expected == take:
            return content
        self._cached_index, self._cached = index, content
        return self._cached[offset : offset + take]


class CacheRedis(CacheAbstract[CachedFileInfo, CachedData]):
    """Cache on a Redis server: shared by every worker, process and host using it.

    Use it when the app runs in several processes that do not share memory or
    a disk: several gunicorn workers, several hosts behind a load balancer,
    Dash background callbacks run by Celery workers (``dash.CeleryManager``).
    Every process builds its own ``CacheRedis`` with the same URL and prefix.

    - **Atomic writes**: content is written in chunks under a fresh version
      key, and the item's metadata is published last by a Lua script that
      checks every chunk is there. A writer that dies mid-register leaves only
      unpublished chunks, which expire; a failed write removes them.
    - **Streaming**: content goes in and out one chunk (``chunk_size`` MB) at a
      time; the loader returns a :class:`RedisContentStream` that fetches
      chunks lazily, so no item is ever held whole in memory, and a ``Range``
      request costs one or two Redis round trips wherever it starts.
    - **One-time items**: :meth:`remove` is one atomic script, so of several
      workers racing to serve a one-time item exactly one wins.
    - **Expiry**: an item expires ``ttl`` seconds after it was registered.
      Content of an expired or removed item stays ``grace`` more seconds, so
      downloads already under way finish; new requests get 404 at once.
    - **Size bound**: with ``size_limit``, registering an item that would bring
      the bytes of the live items above the bound first evicts the *oldest
      registered* items (first in, first out; reads never write, so this is
      not LRU) until it fits. An item larger than ``size_limit`` is refused
      (``OSError``). The bound counts stored content, not Redis overhead, nor
      the chunks of removed items during their ``grace``; set Redis's own
      ``maxmemory`` (with ``maxmemory-policy noeviction`` or ``volatile-ttl``)
      for a hard memory bound: a Redis out of memory makes ``register`` raise
      ``OSError``.
    - **Path items**: with ``copy_paths=True`` (default) the file's bytes are
      copied into Redis at registration, so any host can serve it and the file
      may be deleted afterwards. With ``copy_paths=False`` only the path is
      stored: nothing is copied, and whichever process serves the address
      opens that path itself, so the file must be at the same path on every
      serving host (a shared filesystem) for as long as the address is used;
      otherwise the address answers 404.
    - **Failures**: Redis errors become
      :class:`~dash_file_cache.CacheUnavailableError` (so ``register`` raises
      it and the served address answers 503 with a JSON error), except a
      Redis out of memory on write, which is an ``OSError`` (``ENOSPC``).

    A cache built from a URL pickles (Dash background callbacks pickle the
    service) and reconnects in the unpickling process; one built from a client
    does not pickle. All processes sharing a ``prefix`` should use the same
    ``ttl``, ``grace`` and ``size_limit``. Redis Cluster is not supported (use one server, or a
    primary with Sentinel: pass ``Sentinel(...).master_for(...)`` as client).

    Arguments:
        url_or_client: a Redis URL (``redis://``, ``rediss://``, ``unix://``),
            or a ``redis.Redis`` client made with ``decode_responses=False``.
            The client made from a URL uses ``timeout`` and one immediate
            retry, so requests fail fast (503) while Redis is down; a given
            client keeps its own timeouts and retries (redis-py's default
            backoff makes each failing call take seconds).
        prefix: prefix of every key this cache writes; lets several caches
            (or Celery) share one Redis database.
        ttl: seconds an item lives after it is registered.
        size_limit: bound on the bytes of live items, or ``None`` for none.
        chunk_size: chunk in MB (1 to 512) used to store new items.
        copy_paths: copy path items into Redis (``True``) or store their path.
        grace: seconds that the content of an expired, removed or evicted
            item is kept for responses already streaming it (0: none).
        timeout: socket connect/read timeout in seconds of the client made
            from a URL (ignored for a given client).

    Raises:
        TypeError: an argument has the wrong type (the message names it).
        ValueError: an argument has a bad value: unknown URL scheme, empty
            prefix, ``ttl``/``size_limit``/``chunk_size`` below 1, ``chunk_size``
            above 512, negative ``grace``, non-positive ``timeout``, or a client
            that decodes responses.
    """

    def __init__(
        self,
        url_or_client: Union[str, redis.Redis],
        prefix: str = "dfc:",
        ttl: int = 3600,
        size_limit: Optional[int] = None,
        chunk_size: int = 1,
        copy_paths: bool = True,
        grace: int = 300,
        timeout: float = 5.0,
    ) -> None:
        self._timeout = check_positive_number("timeout", timeout)
        self._url: Optional[str] = None
        if isinstance(url_or_client, str):
            if not url_or_client.startswith(_URL_SCHEMES):
                raise ValueError(
                    "url_or_client must be a URL starting with redis://, rediss:// or "
                    f"unix://, got {url_or_client!r}."
                )
            self._url = url_or_client
            self._client = self._client_from_url(url_or_client)
        elif isinstance(url_or_client, redis.Redis):
            kwargs = url_or_client.connection_pool.connection_kwargs
            if kwargs.get("decode_responses"):
                raise ValueError(
                    "url_or_client must be a redis.Redis client made with "
                    "decode_responses=False (the cache stores bytes)."
                )
            self._client = url_or_client
        else:
            raise TypeError(
                "url_or_client must be a Redis URL (str) or a redis.Redis client, got "
                f"{type(url_or_client).__name__}."
            )
        self._prefix = check_str("prefix", prefix, non_empty=True)
        self._ttl = check_positive_int("ttl", ttl)
        if size_limit is not None:
            check_positive_int("size_limit", size_limit)
        self._size_limit = size_limit
        self._chunk_size = check_int("chunk_size", chunk_size, 1, _MAX_CHUNK_MB)
        self._copy_paths = check_bool("copy_paths", copy_paths)
        self._grace = check_int("grace", grace, 0)
        self._register_scripts()
        self._uploads: Optional[UploadStore] = None

    def _client_from_url(self, url: str) -> redis.Redis:
        # One quick retry: it reconnects a pooled connection that a Redis restart
        # closed, without making requests wait seconds while Redis is down.
        return redis.Redis.from_url(
            url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 1),
        )

    def _register_scripts(self) -> None:
        # Script objects run EVALSHA and reload the script after a Redis restart.
        self._publish_script = self._client.register_script(_LUA_PUBLISH)
        self._remove_script = self._client.register_script(_LUA_REMOVE)

    # -- properties -------------------------------------------------------
    @property
    def client(self) -> redis.Redis:
        """The Redis client."""
        return self._client

    @property
    def prefix(self) -> str:
        """The prefix of every key of this cache."""
        return self._prefix

    @property
    def ttl(self) -> int:
        """Seconds an item lives after registration."""
        return self._ttl

    @property
    def size_limit(self) -> Optional[int]:
        """Bound on the bytes of live items, or ``None``."""
        return self._size_limit

    @property
    def chunk_size(self) -> int:
        """Chunk in MB for new items (existing items keep theirs)."""
        return self._chunk_size

    @property
    def copy_paths(self) -> bool:
        """Whether path items are copied into Redis."""
        return self._copy_paths

    @property
    def grace(self) -> int:
        """Seconds the content of a retired item is kept for responses in flight."""
        return self._grace

    # -- keys ---------------------------------------------------------------
    def _item_key(self, key: str) -> str:
        return f"{self._prefix}item:{key}"

    def _chunk_base(self, key: str, version: str) -> str:
        return f"{self._prefix}chunk:{key}:{version}:"

    def _script_keys(self, key: str) -> List[str]:
        p = self._prefix
        return [self._item_key(key), f"{p}index", f"{p}sizes", f"{p}bytes"]

    # -- CacheAbstract ------------------------------------------------------
    def prepare(self) -> None:
        """Check that Redis answers; only log a warning if not.

        The app still starts when Redis is down: its addresses answer 503
        until Redis is back.
        """
        try:
            self._client.ping()
        except redis.exceptions.RedisError as exc:
            _log.warning("dash-file-cache: Redis does not answer yet (%s).", exc)

    def is_in(self, key: str) -> bool:
        """Return whether ``key`` is a live item.

        Raises:
            CacheUnavailableError: Redis cannot be reached.
        """
        with _redis_errors("looking an item up"):
            return bool(self._client.exists(self._item_key(key)))

    def dump(self, key: str, info: CachedFileInfo, data: CachedData) -> None:
        """Store an item: write its chunks, then publish its metadata atomically.

        Replaces an item with the same key (the old content is kept ``grace``
        seconds for responses in flight). May evict the oldest items to
        respect ``size_limit``.

        Raises:
            CacheUnavailableError: Redis cannot be reached.
            OSError: the item is larger than ``size_limit`` (``EFBIG``), or
                Redis is out of memory (``ENOSPC``).
            FileNotFoundError: a path item to copy cannot be opened.
        """
        if isinstance(data, str) and not self._copy_paths:
            meta = {"info": info, "size": 0, "chunk": 0, "n": 0, "v": "", "path": data}
            self._publish(key, meta)
            return
        if isinstance(data, str):
            with open(data, "rb") as handle:
                self._dump_stream(key, info, handle)
        else:
            self._dump_stream(key, info, data)

    def _dump_stream(self, key: str, info: CachedFileInfo, stream: IO[bytes]) -> None:
        version = uuid.uuid4().hex
        base = self._chunk_base(key, version)
        chunk_bytes = self._chunk_size * MB
        chunk_ttl_ms = (self._ttl + self._grace) * 1000
        n_chunks = 0
        size = 0
        try:
            while True:
                block = read_block(stream, chunk_bytes)
                if not block:
                    break
                size += len(block)
                if self._size_limit is not None and size > self._size_limit:
                    raise OSError(
                        errno.EFBIG,
                        f"The item is larger than the cache's size_limit ({self._size_limit} "
                        "bytes).",
                    )
                with _redis_errors("registering an item"):
                    self._client.set(f"{base}{n_chunks}", block, px=chunk_ttl_ms)
                n_chunks += 1
            meta = {
                "info": info,
                "size": size,
                "chunk": chunk_bytes,
                "n": n_chunks,
                "v": version,
                "path": None,
            }
            self._publish(key, meta)
        except BaseException:
            self._discard_chunks(base, n_chunks)
            raise

    def _publish(self, key: str, meta: Dict[str, Any]) -> None:
        """Publish an item whose chunks are stored (see ``_LUA_PUBLISH``).

        Raises:
            CacheUnavailableError: Redis cannot be reached, or a chunk is missing.
            OSError: Redis is out of memory (``ENOSPC``).
        """
        args = self._publish_args(key, meta)
        with _redis_errors("registering an item"):
            result = self._publish_script(keys=self._script_keys(key), args=args)
        self._check_published(int(result))

    def _publish_args(self, key: str, meta: Dict[str, Any]) -> List[Any]:
        """The ``ARGV`` of the publishing script for ``meta`` (see ``_LUA_PUBLISH``).

        ``meta`` is what ``load`` reads: ``info``, ``size`` (the bytes
        accounted), ``chunk``, ``n`` (chunks), ``v`` (their version), ``path``.
        """
        return [
            self._prefix,
            self._grace * 1000,
            key,
            json.dumps(meta, separators=(",", ":")),
            meta["size"],
            meta["n"],
            meta["v"],
            self._ttl * 1000,
            (self._ttl + self._grace) * 1000,
            -1 if self._size_limit is None else self._size_limit,
            int(meta["info"]["created"] * 1000),
        ]

    @staticmethod
    def _check_published(result: int) -> None:
        """Raise if publishing found a chunk missing; log evictions.

        Raises:
            CacheUnavailableError: a chunk was missing (nothing published).
        """
        if result < 0:
            raise CacheUnavailableError(
                "Redis lost part of an item while it was being registered (was Redis "
                "restarted, or did it evict keys under memory pressure?)."
            )
        if result > 0:
            _log.debug("dash-file-cache: evicted %d item(s) to respect size_limit.", result)

    def _discard_chunks(self, base: str, n_chunks: int) -> None:
        """Best effort: delete the chunks of a write that failed (they expire anyway)."""
        if n_chunks == 0:
            return
        with suppress(redis.exceptions.RedisError):
            self._client.delete(*(f"{base}{i}" for i in range(n_chunks)))

    def load(self, key: str) -> Tuple[CachedFileInfo, Callable[[], CachedData]]:
        """Return the item's info and a loader.

        The loader gives the path (a path item not copied), or a
        :class:`RedisContentStream` over the content; it raises
        ``FileNotFoundError`` if the content vanished since ``load``.

        Raises:
            FileNotFoundError: ``key`` is not cached.
            CacheUnavailableError: Redis cannot be reached.
        """
        with _redis_errors("loading an item"):
            raw = self._client.get(self._item_key(key))
        if raw is None:
            raise FileNotFoundError(f"No cached item for key {key!r}.")
        meta = json.loads(raw)
        info: CachedFileInfo = meta["info"]
        path: Optional[str] = meta.get("path")
        if path is not None:
            return info, lambda: path
        base = self._chunk_base(key, meta["v"])
        size, chunk_bytes, n_chunks = int(meta["size"]), int(meta["chunk"]), int(meta["n"])

        def loader() -> CachedData:
            if n_chunks:
                with _redis_errors("loading an item"):
                    present = self._client.exists(f"{base}0")
                if not present:
                    raise FileNotFoundError(f"The content of item {key!r} is gone.")
            # A RawIOBase is a binary file object; typeshed's IO[bytes] does not say so.
            stream = RedisContentStream(self._client, base, size, max(chunk_bytes, 1))
            return cast(IO[bytes], stream)

        return info, loader

    def remove(self, key: str) -> bool:
        """Remove an item atomically; ``True`` for exactly one of racing callers.

        Its content stays ``grace`` seconds for responses already streaming.

        Raises:
            CacheUnavailableError: Redis cannot be reached.
        """
        with _redis_errors("removing an item"):
            result = self._remove_script(
                keys=self._script_keys(key), args=[self._prefix, self._grace * 1000, key]
            )
        return bool(int(result))

    # -- extras ---------------------------------------------------------------
    def stored_bytes(self) -> int:
        """Bytes of content accounted to live items (what ``size_limit`` bounds).

        Raises:
            CacheUnavailableError: Redis cannot be reached.
        """
        with _redis_errors("reading the cache size"):
            value = self._client.get(f"{self._prefix}bytes")
        return int(value or 0)

    def clear(self) -> int:
        """Remove every item of this prefix at once (no grace); return how many.

        Uses ``SCAN``, so it is not atomic with concurrent registrations.

        Raises:
            CacheUnavailableError: Redis cannot be reached.
        """
        count = 0
        with _redis_errors("clearing the cache"):
            batch: List[bytes] = []
            for name in self._client.scan_iter(match=f"{_glob_escape(self._prefix)}*", count=500):
                if name.startswith(f"{self._prefix}item:".encode()):
                    count += 1
                batch.append(name)
                if len(batch) >= 500:
                    self._client.delete(*batch)
                    batch = []
            if batch:
                self._client.delete(*batch)
        return count

    def __repr__(self) -> str:
        where = self._url if self._url is not None else repr(self._client)
        return f"CacheRedis({where!r}, prefix={self._prefix!r}, ttl={self._ttl})"

    # -- pickling (Dash background callbacks pickle the service) ---------------
    def __getstate__(self) -> Dict[str, Any]:
        if self._url is None:
            raise TypeError(
                "A CacheRedis built from a client cannot be pickled; build it from a URL "
                "to use it where the service is pickled (e.g. DiskcacheManager)."
            )
        state = self.__dict__.copy()
        for name in ("_client", "_publish_script", "_remove_script"):
            state.pop(name, None)
        state["_uploads"] = None
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        assert self._url is not None
        self._client = self._client_from_url(self._url)
        self._register_scripts()

    # -- unfinished uploads -----------------------------------------------------
    def uploads(self) -> UploadStore:
        """Unfinished uploads, shared by every process and host using this Redis.

        See :class:`~dash_file_cache.caches._redis_uploads.RedisUploadStore`:
        bytes in chunk keys appended in place, the record in a hash, a lock
        that is a ``SET NX PX`` lease checked by every write (fenced), and a
        finish that renames the chunks into the item's and publishes it in one
        script (no byte goes through Python).
        """
        if self._uploads is None:
            from ._redis_uploads import RedisUploadStore

            self._uploads = RedisUploadStore(self)
        return self._uploads

    # -- streaming writes -------------------------------------------------------
    @contextmanager
    def open_item(self, key: str, info: CachedFileInfo) -> Iterator[IO[bytes]]:
        """Write an item's content chunk by chunk as it comes, then publish it.

        See :meth:`CacheAbstract.open_item`. Written bytes are buffered up to
        one chunk (``chunk_size`` MB) and each full chunk is stored under a
        fresh version, as :meth:`dump` stores them; the metadata is published
        atomically on a clean exit. On an exception the staged chunks are
        deleted (they would expire anyway) and nothing is published.

        Raises:
            CacheUnavailableError: Redis cannot be reached.
            OSError: the content exceeds ``size_limit`` (``EFBIG``, raised by
                the ``write`` that passes it), or Redis is out of memory.
        """
        sink = _ChunkSink(self, key)
        try:
            yield cast(IO[bytes], sink)
            sink.finish()
            meta = {
                "info": info,
                "size": sink.size,
                "chunk": sink.chunk_bytes,
                "n": sink.n_chunks,
                "v": sink.version,
                "path": None,
            }
            self._publish(key, meta)
        except BaseException:
            self._discard_chunks(sink.base, sink.n_chunks)
            raise


def _glob_escape(text: str) -> str:
    """Escape Redis glob characters in ``text``."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class _ChunkSink(BlockSink):
    """Write-only stream that stores what it receives as the chunks of a new version.

    Used by :meth:`CacheRedis.open_item`; holds at most one chunk in memory.
    """

    def __init__(self, cache: CacheRedis, key: str) -> None:
        super().__init__(cache.chunk_size * MB)
        self._cache = cache
        self.version = uuid.uuid4().hex
        self.base = cache._chunk_base(key, self.version)
        self.chunk_bytes = cache.chunk_size * MB
        self._chunk_ttl_ms = (cache.ttl + cache.grace) * 1000
        self.n_chunks = 0

    def _check_growth(self, count: int) -> None:
        limit = self._cache.size_limit
        if limit is not None and self.size + count > limit:
            raise OSError(
                errno.EFBIG, f"The item is larger than the cache's size_limit ({limit} bytes)."
            )

    def finish(self) -> None:
        """Store the last, partial chunk, once all content is written."""
        if self._buffer:
            self._store_block()

    def _store_block(self) -> None:
        with memoryview(self._buffer) as block, _redis_errors("registering an item"):
            self._cache.client.set(f"{self.base}{self.n_chunks}", block, px=self._chunk_ttl_ms)
        self.n_chunks += 1
        self._buffer.clear()
