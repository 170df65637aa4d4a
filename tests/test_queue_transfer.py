"""CacheQueue: large items from child processes travel as spool files, never leaked.

A child writes content of 1 MiB or more to a file in the serving process's
spool directory and queues only its name; the serving process owns the file
and deletes it when the item is evicted, removed or claimed, when a writer
dies before handing it over, and when the serving process exits.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import flask
import multiprocess
import pytest

import dash_file_cache as dfc
from tests.conftest import ROOT

BIG = 64 << 20


@pytest.fixture(scope="module")
def manager() -> Iterator:
    with multiprocess.Manager() as mgr:
        yield mgr


def served(cache_size: int, manager) -> tuple[dfc.ServiceData, flask.testing.FlaskClient]:
    service = dfc.ServiceData(dfc.CacheQueue(cache_size, manager.Queue()))
    app = flask.Flask("transfer")
    service.serve(app)  # prepare(): the spool directory of this process
    return service, app.test_client()


def spool_files(service: dfc.ServiceData) -> list[str]:
    assert isinstance(service.cache, dfc.CacheQueue)  # served() makes every service here
    return sorted(os.listdir(service.cache._spool))


def _register(service: dfc.ServiceData, payload: bytes, one_time: bool = False) -> str:
    return service.register(io.BytesIO(payload), one_time_service=one_time)


def in_child(start_method: str, service: dfc.ServiceData, payload: bytes, **kw) -> str:
    with multiprocess.get_context(start_method).Pool(1) as pool:
        return pool.apply(_register, (service, payload), kw)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_big_child_item_is_byte_identical_and_servable_at_once(manager, start_method) -> None:
    service, client = served(4, manager)
    payload = os.urandom(BIG)
    address = in_child(start_method, service, payload)
    assert len(spool_files(service)) == 1  # handed over as a file, not through the queue
    response = client.get(address)  # no sleep, no retry
    assert response.status_code == 200 and response.data == payload
    assert client.get(address, headers={"Range": "bytes=-5"}).data == payload[-5:]


def test_small_child_items_still_travel_through_the_queue(manager) -> None:
    service, client = served(4, manager)
    address = in_child("fork", service, b"small" * 1000)
    assert spool_files(service) == []
    assert client.get(address).data == b"small" * 1000


def test_spool_file_deleted_on_eviction_removal_and_claim(manager) -> None:
    service, client = served(1, manager)
    first = in_child("fork", service, b"a" * (2 << 20))
    assert client.get(first).status_code == 200
    assert len(spool_files(service)) == 1
    second = in_child("fork", service, b"b" * (2 << 20))
    assert client.get(second).status_code == 200  # drains `second`, evicts `first`
    assert len(spool_files(service)) == 1 and client.get(first).status_code == 404

    assert service.cache.remove(second.split("uid=")[1])
    assert spool_files(service) == []

    once = in_child("fork", service, b"c" * (2 << 20), one_time=True)
    assert client.head(once).status_code == 200 and len(spool_files(service)) == 1
    response = client.get(once)
    assert response.status_code == 200 and response.data == b"c" * (2 << 20)
    assert spool_files(service) == [] and client.get(once).status_code == 404


class _Stalling(io.RawIOBase):
    """2 MiB, then blocks: the writer is killed in the middle of writing."""

    def __init__(self, ready) -> None:
        self.sent = 0
        self.ready = ready

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.sent >= 2 << 20:
            self.ready.set()
            time.sleep(600)
        n = min(len(buffer), 64 << 10)
        buffer[:n] = b"x" * n
        self.sent += n
        return n


def _register_stalling(service: dfc.ServiceData, ready) -> None:
    service.register(io.BufferedReader(_Stalling(ready)))


def test_writer_killed_mid_write_leaves_nothing(manager) -> None:
    service, client = served(4, manager)
    ctx = multiprocess.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_register_stalling, args=(service, ready))
    proc.start()
    assert ready.wait(30)
    assert len(spool_files(service)) == 1  # the partial file
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    # The next miss in the serving process sweeps the dead writer's file.
    unknown = "/cached-data?uid=" + service.cache.new_key("0" * 32)
    assert client.get(unknown).status_code == 404
    assert spool_files(service) == []


def _register_expecting_oserror(service: dfc.ServiceData) -> None:
    try:
        service.register(io.BytesIO(b"z" * (2 << 20)))
    except OSError:  # the manager is gone
        os._exit(3)
    os._exit(0)


def test_queue_unreadable_leaves_no_spool_file() -> None:
    mgr = multiprocess.Manager()
    service = dfc.ServiceData(dfc.CacheQueue(4, mgr.Queue()))
    service.serve(flask.Flask("dead-manager"))
    mgr.shutdown()
    proc = multiprocess.get_context("fork").Process(
        target=_register_expecting_oserror, args=(service,)
    )
    proc.start()
    proc.join(60)
    assert proc.exitcode == 3  # register raised OSError...
    assert spool_files(service) == []  # ...and removed the file it had written
    assert service.cache.is_in(service.cache.new_key("0" * 32)) is False  # drain: no crash


_SERVER = r"""
import io, os, sys, multiprocess, flask
import dash_file_cache as dfc
with multiprocess.Manager() as mgr:
    service = dfc.ServiceData(dfc.CacheQueue(4, mgr.Queue()))
    app = flask.Flask("exit")
    service.serve(app)
    with multiprocess.get_context("fork").Pool(1) as pool:
        address = pool.apply(lambda: service.register(io.BytesIO(b"q" * (2 << 20))))
    assert app.test_client().get(address).status_code == 200
    print(service.cache._spool, mgr._process.pid, flush=True)
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), 9)
    if sys.argv[1] == "term":
        os.kill(os.getpid(), 15)
"""


def run_server(mode: str, tmp_path: Path) -> tuple[int, str]:
    """Run ``_SERVER``; return its exit code and its spool directory.

    Output goes to a file: after a SIGKILL the server's Manager process lives on
    (holding any pipe open), so it is stopped here.
    """
    out = tmp_path / f"{mode}.out"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    with open(out, "wb") as sink:
        proc = subprocess.run(
            [sys.executable, "-c", _SERVER, mode], cwd=ROOT, env=env, stdout=sink, timeout=120
        )
    spool, manager_pid = out.read_text().split()
    if mode in ("kill", "term"):
        os.kill(int(manager_pid), signal.SIGKILL)
    return proc.returncode, spool


def test_spool_removed_at_exit_and_reaped_after_sigkill(tmp_path: Path) -> None:
    code, spool = run_server("exit", tmp_path)
    assert code == 0 and not os.path.exists(spool)

    code, spool = run_server("term", tmp_path)  # SIGTERM skips atexit: the handler cleans
    assert code == -signal.SIGTERM and not os.path.exists(spool)

    code, spool = run_server("kill", tmp_path)
    assert code == -signal.SIGKILL
    left = Path(spool)
    assert left.exists() and any(left.iterdir())  # the dead server's spool, with its item
    live = tmp_path / f"dfc-spool-{os.getpid()}-live"  # a live process's spool: kept
    live.mkdir()
    # The next serving process on the host reaps the dead one's.
    code, spool = run_server("exit", tmp_path)
    assert code == 0 and not left.exists() and live.exists()
