"""Per-process caches under real gunicorn with several workers (``--keep-alive 0``).

An address of a ``CachePlain``/``CacheQueue`` item is served only by the worker
that registered it; every other worker answers 404 JSON naming the cause and
the fix, and logs one warning per process. With ``--preload``, items
registered in the master before the fork are served by no worker.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.conftest import ROOT, free_port, stop_processes, wait_http

ELSEWHERE = "registered by another server process"


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator:
    """``start(kind, *options)``: ``tests.apps.workers_app`` under gunicorn; (url, log path)."""
    procs: list[subprocess.Popen] = []

    def start(kind: str, *options: str) -> tuple[str, Path]:
        port = free_port()
        log = tmp_path / f"gunicorn-{len(procs)}.log"
        cmd = [
            sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "--keep-alive", "0",
            *options, "tests.apps.workers_app:app",
        ]  # fmt: skip
        env = dict(os.environ, DFC_WORKERS_CACHE=kind)
        with open(log, "wb") as out:
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=out, stdout=out))
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/preloaded", proc=procs[-1])
        return url, log

    yield start
    stop_processes(procs)


def fresh_get(url: str) -> requests.Response:
    """A GET on a new connection, as a load balancer without keep-alive sends it."""
    return requests.get(url, headers={"Connection": "close"}, timeout=30)


@pytest.mark.parametrize("kind", ["plain", "queue"])
def test_other_workers_answer_404_naming_cause_and_fix(gunicorn, kind: str) -> None:
    url, log = gunicorn(kind, "-w", "4")
    registered = fresh_get(url + "/register").json()
    owner = str(registered["pid"])
    served: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for _ in range(200):
        response = fresh_get(url + registered["address"])
        pid = response.headers["X-Worker-Pid"]
        if response.status_code == 200:
            assert pid == owner and response.content == b"worker item"
            served[pid] += 1
        else:
            assert response.status_code == 404 and pid != owner
            assert response.headers["Content-Type"].startswith("application/json")
            message = response.json()["error"]
            assert ELSEWHERE in message and "CacheFile" in message and "CacheRedis" in message
            refused[pid] += 1
        if served and sum(refused.values()) >= 12 and max(refused.values()) >= 2:
            break
    assert served, "the owning worker never served its item"
    assert refused and max(refused.values()) >= 2, "no other worker was asked twice"
    # Unknown uids (even tagged like this worker's) keep the ordinary message.
    unknown = fresh_get(url + "/cached-data?uid=" + "0" * 32)
    assert unknown.status_code == 404 and ELSEWHERE not in unknown.json()["error"]

    warnings = re.findall(r"pid (\d+)\) that does not hold it", log.read_text())
    per_pid = Counter(warnings)
    assert set(per_pid) == set(refused), (per_pid, refused)
    assert all(count == 1 for count in per_pid.values()), per_pid


@pytest.mark.parametrize("kind", ["plain", "queue"])
def test_preload_items_are_never_served_by_workers(gunicorn, kind: str) -> None:
    url, _ = gunicorn(kind, "--preload", "-w", "2")
    preloaded = fresh_get(url + "/preloaded").json()
    pids = set()
    for _ in range(30):
        for name in ("one_time", "plain"):
            response = fresh_get(url + preloaded[name])
            pids.add(response.headers["X-Worker-Pid"])
            assert response.status_code == 404, (name, response.content)
            assert ELSEWHERE in response.json()["error"]
    assert str(preloaded["pid"]) not in pids  # served by forked workers, not the master
    # Each worker still serves what it registers itself.
    registered = fresh_get(url + "/register?one_time=1").json()
    for _ in range(100):
        first = fresh_get(url + registered["address"])
        if first.headers["X-Worker-Pid"] == str(registered["pid"]):
            break
    assert first.status_code == 200 and first.content == b"worker item"
