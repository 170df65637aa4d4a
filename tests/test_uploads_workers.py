"""Uploads under real gunicorn (``-w 4 --keep-alive 0``) with ``CacheFile``.

Each request is a new connection, so the ``PATCH``es of one upload land on
several workers; the upload's state and bytes live in the cache directory,
so the result is byte-identical, and concurrent ``PATCH``es never interleave.

Which worker accepts a connection is the kernel's choice (on a loaded machine
one worker may take them all), so the first test makes every worker exit after
one request (``--max-requests 1``): each ``PATCH`` then meets a process that has
never seen the upload.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import requests

from tests.support import app_env, running_server

TARGET = "tests.apps.uploads_app:create_app()"
TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}
CHUNK = 10_000
ONE_REQUEST_EACH = {"GUNICORN_CMD_ARGS": "--max-requests 1 --max-requests-jitter 0"}


def test_patches_over_workers_give_the_whole_file(tmp_path: Path) -> None:
    data = (hashlib.sha256(b"workers").digest() * 10_000)[: 6 * CHUNK + 17]
    env = {**app_env("file", "flask", tmp_path / "cache"), **ONE_REQUEST_EACH}
    # Sync workers (gunicorn picks gthread when threads > 1): a gthread worker may take a
    # second connection before it exits.
    with running_server(
        TARGET, workers=4, threads=1, worker_class="sync", keep_alive=0, env=env, log_dir=tmp_path
    ) as server:
        url = server.url + "/cached-data/uploads"
        created = requests.post(url, headers={**TUS, "Upload-Length": str(len(data))}, timeout=10)
        assert created.status_code == 201
        location = requests.compat.urljoin(url, created.headers["Location"])
        pids = []
        offset = 0
        answer = None
        while offset < len(data):
            answer = requests.patch(
                location,
                data=data[offset : offset + CHUNK],
                headers={**PATCH, "Upload-Offset": str(offset)},
                timeout=10,
            )
            assert answer.status_code == 204, answer.text
            pids.append(answer.headers["X-Worker-Pid"])
            offset = int(answer.headers["Upload-Offset"])
        assert len(set(pids)) == len(pids) == 7  # each PATCH met a fresh worker
        assert answer is not None
        item = requests.get(server.url + answer.headers["Cached-Address"], timeout=10)
        assert item.content == data


def test_concurrent_patches_never_interleave(tmp_path: Path) -> None:
    size = 4 * 1024 * 1024
    env = app_env("file", "flask", tmp_path / "cache")
    with running_server(TARGET, workers=4, keep_alive=0, env=env, log_dir=tmp_path) as server:
        url = server.url + "/cached-data/uploads"
        created = requests.post(url, headers={**TUS, "Upload-Length": str(size)}, timeout=10)
        location = requests.compat.urljoin(url, created.headers["Location"])
        bodies = [bytes([65 + n]) * size for n in range(4)]

        def send(body: bytes) -> int:
            headers = {**PATCH, "Upload-Offset": "0"}
            return requests.patch(location, data=body, headers=headers, timeout=30).status_code

        with ThreadPoolExecutor(4) as pool:
            statuses: List[int] = list(pool.map(send, bodies))
        assert statuses.count(204) >= 1
        assert set(statuses) <= {204, 409, 423}
        head = requests.head(location, headers=TUS, timeout=10)
        assert head.headers["Upload-Offset"] == str(size)
        content = requests.get(server.url + head.headers["Cached-Address"], timeout=10).content
        assert content in bodies  # one body whole, never a mix
