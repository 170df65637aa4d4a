"""Real Dash background callbacks (``dash.DiskcacheManager``) registering files.

Each test starts ``tests/apps/background_app.py`` as a real Dash server and
triggers its callbacks through ``/_dash-update-component`` with Dash's
background-callback protocol (first request starts the job and returns its
handles; later requests with ``cacheKey``/``job`` poll until the output).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import multiprocess
import pytest
import requests

from tests.apps.background_app import create_app, payload
from tests.conftest import ROOT, free_port, stop_processes, wait_http

APP = ROOT / "tests" / "apps" / "background_app.py"


def run_callback(url: str, output: str, button: str, n: int, timeout: float = 60) -> str:
    """Trigger ``button`` with ``n_clicks=n``; return the callback's ``children`` output."""
    body: Dict[str, Any] = {
        "output": f"{output}.children",
        "outputs": {"id": output, "property": "children"},
        "inputs": [{"id": button, "property": "n_clicks", "value": n}],
        "changedPropIds": [f"{button}.n_clicks"],
        "state": [],
    }
    endpoint = url + "/_dash-update-component"
    answer = requests.post(endpoint, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    deadline = time.monotonic() + timeout
    while "response" not in data:  # a background job: poll with its handles
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.1)
        params = {"cacheKey": data.get("cacheKey"), "job": data.get("job")}
        handles = {k: v for k, v in params.items() if v}
        answer = requests.post(endpoint, params=handles or params, json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        polled = answer.json()
        data = polled if "response" in polled else {**data, **polled}
    return str(data["response"][output]["children"])


@pytest.fixture
def dash_server(tmp_path: Path) -> Iterator:
    """``start(kind, start_method)`` runs the app as a script; returns its URL."""
    procs: list[subprocess.Popen] = []

    def start(kind: str, start_method: str) -> str:
        port = free_port()
        cmd = [sys.executable, str(APP), str(port), kind, start_method, str(tmp_path)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", proc=proc)
        return url

    yield start
    stop_processes(procs)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_cache_plain_refuses_in_a_real_background_job(dash_server, start_method: str) -> None:
    """The job is forked inside the request (or spawned): register raises, naming the fix."""
    url = dash_server("plain", start_method)
    out = run_callback(url, "out", "go", 1)
    assert out.startswith("RuntimeError: "), out
    assert "CacheQueue" in out and "CacheFile" in out
    # The same cache registers in the server's own (non-background) callback.
    sync = run_callback(url, "sync-out", "go-sync", 1)
    assert sync.startswith("OK "), sync
    assert requests.get(url + sync[3:], timeout=30).content == payload(1)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("kind", ["queue", "file"])
def test_background_job_address_is_servable(dash_server, kind: str, start_method: str) -> None:
    """CacheQueue (1.5 MiB: through a spool file) and CacheFile reach the server."""
    url = dash_server(kind, start_method)
    out = run_callback(url, "out", "go", 3)
    assert out.startswith("OK "), out
    response = requests.get(url + out[3:], timeout=30)  # at once: no retry
    assert response.status_code == 200, response.text
    assert response.content == payload(3)


def _run_app(app, port: int) -> None:
    app.run(host="127.0.0.1", port=port)


def test_server_in_a_multiprocess_child_still_works_with_cache_plain(tmp_path: Path) -> None:
    """As Dash's multi-process test runner does: app made here, served in a forked child."""
    app = create_app("plain", str(tmp_path))  # serve() runs here, in the parent
    port = free_port()
    proc = multiprocess.get_context("fork").Process(target=_run_app, args=(app, port))
    proc.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/")
        sync = run_callback(url, "sync-out", "go-sync", 2)
        assert sync.startswith("OK "), sync
        assert requests.get(url + sync[3:], timeout=30).content == payload(2)
        # ...while its background jobs (grandchildren) are still refused.
        out = run_callback(url, "out", "go", 1)
        assert out.startswith("RuntimeError: "), out
    finally:
        proc.terminate()
        proc.join(15)


def test_cache_plain_refuses_in_a_celery_job(tmp_path: Path) -> None:
    """``CeleryManager``: the job runs in a Celery worker (which imported the app itself)."""
    pytest.importorskip("celery")
    pytest.importorskip("redis")
    from tests.support.redis import REDIS_SERVER, redis_server

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    procs: list[subprocess.Popen] = []
    with redis_server() as server:
        try:
            env = dict(os.environ, DFC_REDIS_URL=server.url, DFC_WORK_DIR=str(tmp_path))
            worker = [
                sys.executable, "-m", "celery", "-A", "tests.apps.celery_app:celery_app",
                "worker", "--pool=solo", "--loglevel=warning", "--without-heartbeat",
                "--without-mingle", "--without-gossip",
            ]  # fmt: skip
            procs.append(subprocess.Popen(worker, cwd=ROOT, env=env, stderr=subprocess.DEVNULL))
            port = free_port()
            web = [sys.executable, "-m", "tests.apps.celery_app", str(port)]
            procs.append(subprocess.Popen(web, cwd=ROOT, env=env, stderr=subprocess.DEVNULL))
            url = f"http://127.0.0.1:{port}"
            wait_http(url + "/", proc=procs[-1])
            out = run_callback(url, "out", "go", 1, timeout=120)
            assert out.startswith("RuntimeError: "), out
            assert "CacheQueue" in out and "CacheFile" in out
        finally:
            stop_processes(procs)
