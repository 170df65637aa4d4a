"""Each cache backend on its own: interface, LRU, thread safety, persistence."""

from __future__ import annotations

import io
import queue
import threading
from pathlib import Path
from typing import IO, cast

import pytest

import dash_file_cache as dfc
from tests.support.caches import item_info as info
from tests.support.caches import make_cache
from tests.support.caches import read_loaded as read
from tests.support.processes import run_python


def test_dump_load_remove(cache: dfc.CacheAbstract, tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"by path")
    cache.dump("k1", info("a"), io.BytesIO(b"in memory"))
    cache.dump("k2", info("b"), str(path))
    assert cache.is_in("k1") and "k2" in cache and "k3" not in cache and 42 not in cache
    got_info, loader = cache.load("k1")
    assert got_info["file_name"] == "a"
    assert read(loader) == b"in memory"
    assert read(cache.load("k2")[1]) == b"by path"
    assert cache.remove("k1") is True
    assert cache.remove("k1") is False
    assert not cache.is_in("k1")
    with pytest.raises(FileNotFoundError):
        cache.load("k1")
    assert path.exists()  # a path item never deletes the user's file
    assert cache.remove("k2") is True and path.exists()


def test_dump_replaces(cache: dfc.CacheAbstract) -> None:
    cache.dump("k", info(), io.BytesIO(b"one"))
    cache.dump("k", info(), io.BytesIO(b"two"))
    assert read(cache.load("k")[1]) == b"two"


@pytest.mark.parametrize("kind", ["plain", "queue"])
def test_lru_eviction(kind: str) -> None:
    cache = make_cache(kind, items=8)
    for i in range(8):
        cache.dump(f"k{i}", info(), io.BytesIO(b"x"))
    cache.load("k0")  # k0 becomes the most recently used
    cache.dump("k8", info(), io.BytesIO(b"x"))
    assert cache.is_in("k0") and not cache.is_in("k1") and cache.is_in("k8")
    assert isinstance(cache, (dfc.CachePlain, dfc.CacheQueue))  # the kinds above
    assert len(cache) == 8


def test_cache_file_size_limit_evicts_lru(tmp_path: Path) -> None:
    cache = dfc.CacheFile(tmp_path / "c", size_limit=380_000)  # content + index
    for i in range(3):
        cache.dump(f"k{i}", info(), io.BytesIO(bytes(100_000)))
    cache.load("k0")  # k0 recently used: k1 is now the oldest
    cache.dump("k3", info(), io.BytesIO(bytes(100_000)))
    assert cache.is_in("k0") and cache.is_in("k3")
    assert not cache.is_in("k1")
    assert cache.volume() <= 380_000 + 100_000


def test_cache_file_streams_in_chunks(tmp_path: Path) -> None:
    cache = dfc.CacheFile(tmp_path / "c", chunk_size=1)
    reads: list[int] = []

    class Source(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 5 * (1 << 20)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            n = min(len(buffer), self.left)
            reads.append(len(buffer))
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    cache.dump("k", info(), io.BufferedReader(Source(), buffer_size=1 << 16))
    assert len(read(cache.load("k")[1])) == 5 * (1 << 20)
    assert max(reads) <= 1 << 20
    cache.chunk_size = 2
    assert cache.chunk_size == 2


def test_cache_file_failed_write_leaves_nothing(tmp_path: Path) -> None:
    cache = dfc.CacheFile(tmp_path / "c")
    cache.dump("good", info(), io.BytesIO(b"keep me"))

    class Failing(io.RawIOBase):
        calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            Failing.calls += 1
            if Failing.calls > 3:
                raise OSError(28, "No space left on device")
            buffer[:10] = b"x" * 10
            return 10

    files_before = sorted(p for p in (tmp_path / "c").rglob("*.val"))
    with pytest.raises(OSError, match="No space"):
        # a raw binary file; typeshed's RawIOBase is not an IO[bytes]
        cache.dump("bad", info(), cast(IO[bytes], Failing()))
    assert not cache.is_in("bad")
    assert sorted(p for p in (tmp_path / "c").rglob("*.val")) == files_before
    assert read(cache.load("good")[1]) == b"keep me"


def test_cache_file_persists_across_processes(tmp_path: Path) -> None:
    directory = tmp_path / "persist"
    code = (
        "import io, sys, dash_file_cache as dfc\n"
        "s = dfc.ServiceData(dfc.CacheFile(sys.argv[1]))\n"
        "print(s.register(io.BytesIO(b'survives restarts'), file_name='p.txt'))\n"
    )
    out = run_python(code, str(directory))
    uid = out.stdout.strip().split("uid=")[1]
    reopened = dfc.CacheFile(directory)
    got_info, loader = reopened.load(uid)
    assert got_info["file_name"] == "p.txt"
    assert read(loader) == b"survives restarts"


def test_cache_file_temporary_directory_removed_at_exit(tmp_path: Path) -> None:
    code = (
        "import io, os, multiprocess, dash_file_cache as dfc\n"
        "c = dfc.CacheFile()\n"
        "print(c.cache_dir, flush=True)\n"
        "def child():\n"
        "    c.dump('k', {'file_name': 'x', 'content_type': 'x', 'one_time_service': False,"
        " 'created': 0.0}, io.BytesIO(b'from child'))\n"
        "p = multiprocess.Process(target=child); p.start(); p.join()\n"
        "assert p.exitcode == 0 and c.is_in('k') and os.path.isdir(c.cache_dir)\n"
    )
    out = run_python(code)
    directory = Path(out.stdout.strip())
    assert directory.name.startswith("dash-file-cache-")
    assert not directory.exists()


def test_cache_plain_is_thread_safe() -> None:
    cache = dfc.CachePlain(50)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                key = f"{n}-{i}"
                cache.dump(key, info(), io.BytesIO(key.encode()))
                try:
                    assert read(cache.load(key)[1]) == key.encode()
                except FileNotFoundError:
                    pass  # evicted by another thread: allowed
                cache.remove(f"{n}-{i - 5}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) <= 50


def test_remove_is_atomic_under_threads(cache: dfc.CacheAbstract) -> None:
    for round_ in range(20):
        key = f"k{round_}"
        cache.dump(key, info(one_time=True), io.BytesIO(b"x"))
        results: list[bool] = []
        barrier = threading.Barrier(6)

        def claim(barrier=barrier, key=key, results=results) -> None:
            barrier.wait()
            results.append(cache.remove(key))

        threads = [threading.Thread(target=claim) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1


def test_cache_queue_set_later_and_factory() -> None:
    cache = dfc.CacheQueue(4)
    assert cache.qobj is None
    q: queue.Queue = queue.Queue()
    cache.qobj = q
    assert cache.qobj is q
    made: list[queue.Queue] = []

    def factory() -> queue.Queue:
        made.append(queue.Queue())
        return made[-1]

    lazy = dfc.CacheQueue(4, factory)
    assert made == []
    lazy.prepare()
    assert lazy.qobj is made[0] and len(made) == 1


def test_cache_queue_drains_items_put_by_others() -> None:
    q: queue.Queue = queue.Queue()
    cache = dfc.CacheQueue(4, q)
    q.put(("from-child", info("c"), b"queued bytes"))
    assert cache.is_in("from-child")
    assert read(cache.load("from-child")[1]) == b"queued bytes"


def test_cache_queue_child_without_queue_raises(tmp_path: Path) -> None:
    code = (
        "import io, multiprocess, dash_file_cache as dfc\n"
        "c = dfc.CacheQueue(4)\n"
        "def child(conn):\n"
        "    try:\n"
        "        c.dump('k', {}, io.BytesIO(b'x'))\n"
        "        conn.send('no error')\n"
        "    except RuntimeError as exc:\n"
        "        conn.send(str(exc))\n"
        "a, b = multiprocess.Pipe()\n"
        "p = multiprocess.Process(target=child, args=(b,)); p.start(); print(a.recv()); p.join()\n"
    )
    out = run_python(code)
    assert "Manager().Queue()" in out.stdout


def test_cache_plain_refuses_child_processes() -> None:
    """The classic trap: a process-local cache used from a background process."""
    code = (
        "import multiprocess, dash_file_cache as dfc\n"
        "service = dfc.ServiceData(dfc.CachePlain(4))\n"
        "def child(conn):\n"
        "    try:\n"
        "        conn.send(service.register(b'lost'))\n"
        "    except RuntimeError as exc:\n"
        "        conn.send(str(exc))\n"
        "a, b = multiprocess.Pipe()\n"
        "p = multiprocess.Process(target=child, args=(b,)); p.start(); print(a.recv()); p.join()\n"
    )
    out = run_python(code)
    assert "CacheQueue" in out.stdout and "CacheFile" in out.stdout


def test_cache_plain_refuses_dash_background_job() -> None:
    """Inside a Dash callback context with no Flask request: a background job."""
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    service = dfc.ServiceData(dfc.CachePlain(4))
    queued = dfc.ServiceData(dfc.CacheQueue(4))  # no queue: must refuse too
    errors: list[str] = []

    def job() -> None:
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": "go.n_clicks"}]))
        for svc in (service, queued):
            try:
                svc.register(b"lost")
            except RuntimeError as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert len(errors) == 2
    assert "CacheQueue" in errors[0] and "CacheFile" in errors[0]
    assert "Manager().Queue()" in errors[1]
    assert service.register(b"fine outside a job")  # the main thread is not a job
