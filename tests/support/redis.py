"""A real ``redis-server`` on 127.0.0.1: one per test process, or one per test."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import tempfile
from typing import Iterator, List, Optional

from tests.support.polling import wait_until
from tests.support.processes import free_port, stop_processes

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A ``redis-server`` on 127.0.0.1, without persistence, in a temporary directory.

    It can be stopped and started again on the same port, empty (as after a
    crash of an unpersisted Redis).
    """

    def __init__(self) -> None:
        if REDIS_SERVER is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="dfc-redis-")
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers ``PING``."""
        assert REDIS_SERVER is not None
        cmd = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.dir,
            "--protected-mode", "no", "--loglevel", "warning",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            return self.ping()

        if not wait_until(up, timeout):
            raise TimeoutError(f"redis-server on port {self.port} did not answer")

    def ping(self) -> bool:
        """Whether the server answers, with a throw-away connection."""
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.exceptions.RedisError:
            return False

    def flush(self) -> None:
        """Remove every key (a fresh database for the next test)."""
        import redis

        with redis.Redis(port=self.port) as client:
            client.flushall()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.proc is not None:
            stop_processes([self.proc])
            self.proc = None

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


_shared_redis: List[RedisServer] = []


def shared_redis() -> RedisServer:
    """The Redis of this test process: started on first use, stopped at exit.

    Raises:
        RuntimeError: ``redis-server`` is not installed.
    """
    if not _shared_redis:
        server = RedisServer()
        server.start()
        _shared_redis.append(server)
    return _shared_redis[0]


@atexit.register
def close_shared_redis() -> None:
    """Stop the shared Redis, if one was started, and remove its folder (also run at exit)."""
    while _shared_redis:
        _shared_redis.pop().close()


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, closed on exit."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
