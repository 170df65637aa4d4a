"""Process faults: SIGKILL mid-register, server crash and restart, full disk, temp dir cleanup.

- A process SIGKILLed while copying an item into a ``CacheFile`` leaves no
  item that serves partial bytes: its uid answers 404 and the cache stays
  usable. Repeated kills at random moments of a registering loop never leave
  an indexed item whose bytes are wrong (every item carries its own SHA-256).
- A gunicorn server killed with SIGKILL, or stopped, and started again on the
  same ``CacheFile`` directory serves every item registered before (one-time
  items still exactly once).
- A full disk (a 2 MiB tmpfs, when this runs as root; an injected ``ENOSPC``
  otherwise) makes ``register`` raise ``OSError`` and corrupts nothing.
- A ``CacheFile()`` temporary directory is removed when the creating process
  exits normally, even after ``multiprocess`` children (what Dash background
  callbacks are) used it, including one killed mid-write.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Tuple, cast

import multiprocess
import psutil
import pytest
import requests

import dash_file_cache as dfc
from tests.apps.app import build_app, make_client
from tests.support.caches import SHARED_KINDS, item_count, read_item
from tests.support.polling import wait_until
from tests.support.processes import ROOT, listener_dirs, remove_dirs
from tests.support.servers import app_env, running_server, start_server

KB = 1 << 10


def self_checking(size: int, rng: random.Random) -> bytes:
    """``size`` random bytes followed by their SHA-256: any partial or mixed content fails."""
    body = rng.randbytes(size)
    return body + hashlib.sha256(body).digest()


def verifies(content: bytes) -> bool:
    """Whether ``content`` is a complete :func:`self_checking` payload."""
    return len(content) >= 32 and hashlib.sha256(content[:-32]).digest() == content[-32:]


def content_files(directory: Path) -> List[Path]:
    """The content files of a ``CacheFile`` directory."""
    return sorted(directory.rglob("*.val"))


def all_keys(cache: dfc.CacheFile) -> List[str]:
    """Every key of a ``CacheFile`` (through diskcache, which iterates its index)."""
    return [str(key) for key in cache._cache.iterkeys()]


# -- SIGKILL in the middle of a register --------------------------------------------

_SLOW_REGISTER = r"""
import io, sys, time
import dash_file_cache as dfc
from dash_file_cache.services import data as data_module

new_uid = data_module.new_uid
def announced_uid():
    uid = new_uid()
    print("UID", uid, flush=True)
    return uid
data_module.new_uid = announced_uid

class Slow(io.RawIOBase):
    # 64 KiB per read; after 8 reads (512 KiB copied) says so, then stalls.
    def __init__(self):
        self.reads = 0
    def readable(self):
        return True
    def readinto(self, buffer):
        self.reads += 1
        if self.reads == 9:
            print("MID", flush=True)
            time.sleep(120)
        n = min(len(buffer), 64 * 1024)
        buffer[:n] = b"p" * n
        return n

service = dfc.ServiceData(dfc.CacheFile(sys.argv[1]))
service.register(Slow(), file_name="partial.bin")
print("DONE", flush=True)
"""


def test_sigkill_mid_register_leaves_no_partial_item(tmp_path: Path) -> None:
    """The uid being registered when the process died is not servable; the cache still works."""
    directory = tmp_path / "cache"
    service = dfc.ServiceData(dfc.CacheFile(directory))
    kept = service.register(io.BytesIO(b"registered before"), file_name="kept.txt")
    files_before = content_files(directory)
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_REGISTER, str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)  # a silent child cannot hang the test
    watchdog.start()
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "UID", first
        uid = first[1]
        assert proc.stdout.readline().strip() == "MID"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    client = make_client(build_app(service))
    assert not service.cache.is_in(uid)
    assert client.get(f"/cached-data?uid={uid}").status_code == 404
    assert client.get(kept).data == b"registered before"
    # At most the unindexed partial file stays on disk (diskcache ignores it).
    orphans = [p for p in content_files(directory) if p not in files_before]
    assert len(orphans) <= 1
    fresh = service.register(io.BytesIO(b"after the crash"))
    assert client.get(fresh).data == b"after the crash"
    assert item_count(service.cache) == 2


_REGISTER_LOOP = r"""
import io, hashlib, random, sys
import dash_file_cache as dfc
rng = random.Random(int(sys.argv[2]))
service = dfc.ServiceData(dfc.CacheFile(sys.argv[1], size_limit=4 * 1024 * 1024))
print("READY", flush=True)
for i in range(100000):
    body = rng.randbytes(rng.randrange(1, 300 * 1024))
    service.register(io.BytesIO(body + hashlib.sha256(body).digest()))
"""


def test_random_sigkills_never_leave_a_wrong_item(tmp_path: Path) -> None:
    """Kill a registering process at 10 random moments; every indexed item stays whole."""
    directory = tmp_path / "cache"
    rng = random.Random(1234)
    for round_ in range(10):
        proc = subprocess.Popen(
            [sys.executable, "-c", _REGISTER_LOOP, str(directory), str(round_)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "READY"
            time.sleep(rng.uniform(0.05, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
    cache = dfc.CacheFile(directory, size_limit=4 * 1024 * 1024)
    keys = all_keys(cache)
    assert keys, "the loop registered nothing before the kills"
    bad = [key for key in keys if not verifies(read_item(cache, key))]
    assert bad == []
    # Still usable, and still bounded.
    cache.dump(
        "after",
        {"file_name": "a", "content_type": "x/y", "one_time_service": False, "created": 0.0},
        io.BytesIO(b"fine"),
    )
    assert read_item(cache, "after") == b"fine"
    assert cache.volume() <= 4 * 1024 * 1024


# -- server crash and restart on the same CacheFile directory --------------------------


def test_server_restart_serves_items_registered_before(tmp_path: Path) -> None:
    """SIGKILL of the whole gunicorn group, then a graceful stop: items survive both."""
    env = app_env("file", directory=tmp_path / "cache")
    rng = random.Random(7)
    payloads = [self_checking(rng.randrange(1, 200 * KB), rng) for _ in range(12)]
    server = start_server(workers=2, threads=2, env=env, log_dir=tmp_path)
    try:
        urls = [server.register(p) for p in payloads]
        one_time = server.register(b"just once", one_time=True)
    finally:
        server.kill()  # no graceful shutdown: the crash case
    paths = [u.split("/cached-data")[1] for u in urls]
    one_time_path = one_time.split("/cached-data")[1]

    for attempt in range(2):
        with running_server(workers=2, threads=2, env=env, log_dir=tmp_path) as restarted:
            base = restarted.url + "/cached-data"
            for path, payload in zip(paths, payloads):
                response = requests.get(base + path, timeout=30)
                assert response.status_code == 200 and response.content == payload
            if attempt == 0:
                assert requests.get(base + one_time_path, timeout=10).content == b"just once"
            assert requests.get(base + one_time_path, timeout=10).status_code == 404
        # leaving the with-block stops it gracefully; the second pass checks that case


@pytest.mark.parametrize("kind", ["plain", "file", "redis"])
def test_worker_killed_mid_download(kind: str, start_app_server) -> None:
    """A worker SIGKILLed mid-stream: the client sees a short body, never a wrong one.

    The body stops before its ``Content-Length`` (``requests`` does not always
    raise for that; check the length when it matters). A ``CacheFile`` item is
    then served whole by the worker gunicorn starts in its place, as is a
    ``CacheRedis`` one (a ``CachePlain`` item died with the worker's memory).
    """
    payload = random.Random(11).randbytes(16 * (1 << 20))
    server = start_app_server(kind, workers=1, threads=2)
    url = server.register(payload)
    victim = server.stats()["pid"]
    received = bytearray()
    with requests.get(url, stream=True, timeout=30) as response:
        assert response.status_code == 200
        assert int(response.headers["Content-Length"]) == len(payload)
        chunks = response.iter_content(64 * KB)
        received += next(chunks)
        os.kill(victim, signal.SIGKILL)
        # requests may end the iteration quietly or raise: either way the body
        # is shorter than its Content-Length, which a client can check.
        with contextlib.suppress(requests.exceptions.RequestException):
            for chunk in chunks:
                received += chunk
    assert len(received) < len(payload)
    assert bytes(received) == payload[: len(received)]  # short, never wrong

    def replaced() -> bool:
        try:
            return bool(server.stats()["pid"] != victim)
        except requests.RequestException:
            return False

    assert wait_until(replaced, timeout=30, step=0.2)
    again = requests.get(url, timeout=30)
    if kind in SHARED_KINDS:
        assert again.status_code == 200 and again.content == payload
    else:
        assert again.status_code == 404


def _register_and_report(service: dfc.ServiceData, payload: bytes, conn: Any) -> None:
    """In a child process: register ``payload``, send back ``("ok", address)`` or the error."""
    try:
        conn.send(("ok", service.register(io.BytesIO(payload))))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}", isinstance(exc, OSError)))


def _in_child(service: dfc.ServiceData, payload: bytes) -> Tuple[Any, ...]:
    """Run :func:`_register_and_report` in a forked child; return what it sent."""
    ours, theirs = multiprocess.Pipe()
    proc = multiprocess.get_context("fork").Process(
        target=_register_and_report, args=(service, payload, theirs)
    )
    proc.start()
    try:
        assert ours.poll(30), "the child sent nothing"
        result: Tuple[Any, ...] = ours.recv()
    finally:
        proc.join(30)
        if proc.exitcode is None:
            proc.kill()
            proc.join(10)
    return result


def test_cache_queue_survives_its_manager_being_killed() -> None:
    """SIGKILL of the ``Manager`` process behind a ``CacheQueue``: no 5xx, clear errors.

    Items already in the serving process are still served; an item queued by a
    child but not yet drained is lost (404); a child's ``register`` raises an
    ``OSError`` instead of returning an address that cannot work.
    """
    manager = multiprocess.Manager()
    leftovers: List[Path] = []
    try:
        service = dfc.ServiceData(dfc.CacheQueue(8, manager.Queue()))
        client = make_client(build_app(service))
        local = service.register(io.BytesIO(b"in the serving process"))
        drained = _in_child(service, b"drained before")
        assert drained[0] == "ok"
        assert client.get(drained[1]).data == b"drained before"
        queued = _in_child(service, b"still queued")
        assert queued[0] == "ok"
        # Killed, the Manager cannot remove its folder: this test does (if not this process's).
        leftovers = listener_dirs([psutil.Process(manager._process.pid)])  # type: ignore[attr-defined]
        os.kill(manager._process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        manager._process.join(10)  # type: ignore[attr-defined]
        assert client.get(local).data == b"in the serving process"
        assert client.get(drained[1]).data == b"drained before"
        assert client.get(queued[1]).status_code == 404
        assert client.get("/cached-data?uid=" + "0" * 32).status_code == 404
        after = _in_child(service, b"after")
        assert after[0] == "error" and after[2] is True, after
    finally:
        with contextlib.suppress(Exception):
            manager.shutdown()
        remove_dirs(leftovers)


# -- full disk ------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill_cache(service: dfc.ServiceData, rng: random.Random) -> Tuple[Dict[str, bytes], OSError]:
    """Register 200 KiB items until the disk is full; return the items and the error."""
    items: Dict[str, bytes] = {}
    for _ in range(40):
        payload = self_checking(200 * KB, rng)
        try:
            address = service.register(io.BytesIO(payload))
        except OSError as exc:
            return items, exc
        items[address] = payload
    raise AssertionError("the 2 MiB disk never filled up")


def test_full_disk_while_writing_content(small_disk: Path) -> None:
    """ENOSPC during the copy: ``OSError``, no partial file, nothing cached damaged."""
    directory = small_disk / "cache"
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * 256 * KB)  # what the operator deletes to make room
    service = dfc.ServiceData(dfc.CacheFile(directory))
    client = make_client(build_app(service))
    items, error = _fill_cache(service, random.Random(3))
    assert error.errno == errno.ENOSPC, error
    assert "No space left" in str(error)
    assert len(items) >= 3
    assert len(content_files(directory)) == len(items)  # the failed copy left no file
    for address, payload in items.items():
        assert client.get(address).data == payload
    ballast.unlink()  # room again: the cache works again
    again = service.register(io.BytesIO(b"room again"))
    assert client.get(again).data == b"room again"
    for address, payload in items.items():
        assert client.get(address).data == payload


def test_full_disk_one_time_get_is_not_a_500(small_disk: Path) -> None:
    """On a full disk, claiming a one-time item (an index write) answers 503, never 500.

    The item is not claimed then, so it is served once room is made.
    """
    service = dfc.ServiceData(dfc.CacheFile(small_disk / "cache"))
    client = make_client(build_app(service))
    once = service.register(io.BytesIO(b"once" * 100), one_time_service=True)
    filler = small_disk / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * (os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize))
    response = client.get(once)
    assert response.status_code in (200, 503), response.status_code
    filler.unlink()
    if response.status_code == 503:
        assert response.json is not None and response.json["error"]
        assert client.get(once).data == b"once" * 100
    assert client.get(once).status_code == 404


def test_full_disk_while_writing_the_index(small_disk: Path) -> None:
    """The content fits but the SQLite index cannot grow: still an ``OSError``, no orphan file.

    diskcache raises ``sqlite3.OperationalError: database or disk is full``
    there, and keeps the content file it had already written.
    """
    directory = small_disk / "cache"
    service = dfc.ServiceData(dfc.CacheFile(directory))
    rng = random.Random(5)
    items = {service.register(io.BytesIO(p)): p for p in (self_checking(50 * KB, rng),) * 3}
    stat = os.statvfs(small_disk)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave one 4 KiB block: room for a tiny content file only
        f.write(b"\0" * max(stat.f_bavail * stat.f_frsize - 4 * KB, 0))
    error: BaseException | None = None
    for _ in range(64):
        try:
            items[service.register(io.BytesIO(b"tiny"))] = b"tiny"
        except BaseException as exc:
            error = exc
            break
    assert error is not None, "the index never ran out of space"
    problems = []
    if not isinstance(error, OSError):
        problems.append(f"raised {type(error).__module__}.{type(error).__name__}: {error}")
    orphans = len(content_files(directory)) - item_count(service.cache)
    if orphans:
        problems.append(f"left {orphans} content file(s) no item refers to")
    filler.unlink()
    client = make_client(build_app(service))
    for address, payload in items.items():  # nothing cached was damaged
        assert client.get(address).data == payload
    assert client.get(service.register(io.BytesIO(b"ok"))).data == b"ok"
    assert problems == []


class _NoSpace(io.RawIOBase):
    """A stream that gives 3 x 64 KiB and then fails as a full disk would."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        self.reads += 1
        if self.reads > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(buffer), 64 * KB)
        buffer[:n] = b"z" * n
        return n


def test_register_error_mid_stream_changes_nothing(
    service: dfc.ServiceData, client: Any, cache_kind: str, tmp_path: Path
) -> None:
    """Any cache: a source failing mid-copy makes ``register`` raise and caches nothing."""
    kept = service.register(io.BytesIO(b"kept"))
    count = item_count(service.cache)
    with pytest.raises(OSError) as info:
        service.register(cast(IO[bytes], _NoSpace()))  # typeshed's RawIOBase is not an IO[bytes]
    assert info.value.errno == errno.ENOSPC
    assert item_count(service.cache) == count
    assert client.get(kept).data == b"kept"
    if cache_kind == "file":
        assert len(content_files(tmp_path / "cache")) == 1


# -- temporary directory of CacheFile() after background-callback children -------------

_BACKGROUND_SCRIPT = r"""
import io, os, signal, sys, time
import flask, multiprocess
import dash_file_cache as dfc

service = dfc.ServiceData(dfc.CacheFile())
app = flask.Flask("bg")
service.serve(app)
print(service.cache.cache_dir, flush=True)

def job(svc, tag):
    # what a background callback does with the (pickled) service: register, return the address
    import io
    return svc.register(io.BytesIO(tag.encode() * 1000), file_name=tag + ".txt")

def stuck(ready):
    class Slow(io.RawIOBase):
        def readable(self):
            return True
        def readinto(self, buffer):
            ready.set()
            time.sleep(0.05)
            buffer[:10] = b"s" * 10
            return 10
    service.register(Slow())

client = app.test_client()
for method in ("fork", "spawn"):
    ctx = multiprocess.get_context(method)
    with ctx.Pool(2) as pool:
        for address, tag in zip(pool.starmap(job, [(service, t) for t in "abc"]), "abc"):
            assert client.get(address).data == tag.encode() * 1000
    proc = ctx.Process(target=job, args=(service, "d"))
    proc.start(); proc.join(60)
    assert proc.exitcode == 0
ready = multiprocess.get_context("fork").Event()
victim = multiprocess.get_context("fork").Process(target=stuck, args=(ready,))
victim.start()
assert ready.wait(30)
os.kill(victim.pid, signal.SIGKILL)
victim.join(30)
assert os.path.isdir(service.cache.cache_dir)
print("OK", flush=True)
"""


def test_temporary_directory_removed_after_background_children(tmp_path: Path) -> None:
    """``CacheFile()`` used by fork and spawn children (one SIGKILLed) is removed at exit."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", _BACKGROUND_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.split()
    directory = Path(lines[0])
    assert lines[-1] == "OK"
    assert directory.parent == tmp_path and directory.name.startswith("dash-file-cache-")
    assert not directory.exists(), sorted(p.name for p in directory.rglob("*"))
    assert [p for p in tmp_path.iterdir() if p.name.startswith("dash-file-cache-")] == []
