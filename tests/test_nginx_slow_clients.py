"""Slow clients cannot starve the app behind nginx with offload (nor on an ASGI server).

A small version of ``bench/nginx.py``: 8 slow readers (4 KiB/s each) hold a
large item while small GETs are made, on 1 worker with 2 threads. Bare
gunicorn gthread is starved (the small GETs time out: the limit the README
documents, and the proof that the load bites); behind the shipped nginx
config with offload, and on uvicorn, every small GET is answered. Only
reachability is asserted, never a timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.nginx import slow_clients, started
from tests.support.nginx import NGINX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
]

SLOW = 8
LARGE = 64 << 20


def _loaded(kind: str, root: Path, count: int = 8, timeout: float = 8.0) -> dict:
    with started(kind, root, LARGE, workers=1, threads=2) as setup:
        return slow_clients(setup, SLOW, count, timeout)["loaded"]


def test_bare_gthread_is_starved_by_slow_readers(tmp_path: Path) -> None:
    loaded = _loaded("gthread", tmp_path, count=2, timeout=4.0)
    assert loaded["timeouts"] == loaded["sent"] == 2


@pytest.mark.parametrize("kind", ["nginx-offload", "uvicorn"])
def test_small_requests_answered_despite_slow_readers(tmp_path: Path, kind: str) -> None:
    loaded = _loaded(kind, tmp_path)
    assert loaded["timeouts"] == 0 and loaded["sent"] == 8
