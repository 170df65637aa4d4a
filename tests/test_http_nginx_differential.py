"""Differential test against a real nginx serving the same files.

nginx (Debian ``nginx-light``) is started by the test on 127.0.0.1 with its own
configuration (no system config, no daemon, pid/log/temp files in a temporary
directory, ``etag on; if_modified_since before;``). Every request of the RFC 9110
corpus (``tests/http_oracle.py``) goes to nginx and to the library, for the same
files. Where the oracle says nginx follows the RFC, the library must give the same
status, byte span and ``Content-Range``, except for the deliberate differences of
:data:`DELIBERATE` (documented in README, "HTTP conformance"); where nginx breaks
the RFC, only the library is held to it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest
import requests
import requests.adapters

import dash_file_cache as dfc
from tests.conftest import free_port, stop_processes, wait_http
from tests.http_oracle import SIZES, Answer, Case, Validator, corpus, judge, observe, verdict

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
        if_modified_since before;
        location / {{ }}
    }}
}}
"""

#: Where the library answers differently from nginx on purpose, both within RFC 9110.
DELIBERATE = {
    "several-ranges": "several ranges: the library sends 200 (whole), nginx 206 multipart",
    "invalid-range": "a malformed Range: the library ignores it (200), nginx rejects it (416)",
}


def make_content(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Dict[int, Path]:
    root = tmp_path_factory.mktemp("www")
    paths = {}
    for size in SIZES:
        path = root / f"item-{size}.bin"
        path.write_bytes(make_content(size))
        paths[size] = path
    return paths


@pytest.fixture(scope="module")
def nginx(files: Dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx on 127.0.0.1 serving ``files``; yields its base URL."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    root = next(iter(files.values())).parent
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, root=root))
    proc = subprocess.Popen([binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)])
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/", proc=proc)
        yield url
    finally:
        stop_processes([proc])


@pytest.fixture(scope="module")
def nginx_answers() -> Dict[Tuple[int, str], Answer]:
    """nginx's answers, asked once for all caches."""
    return {}


def _answer(response: requests.Response) -> Answer:
    return Answer(response.status_code, response.headers, response.content)


def _key(outcome: Optional[tuple], answer: Answer) -> tuple:
    """What must agree: status, byte span, Content-Range."""
    return (outcome, answer.headers.get("Content-Range"))


def _difference(case: Case, ours: tuple, theirs: tuple) -> Optional[str]:
    """The DELIBERATE entry explaining a difference, if any."""
    ours_outcome, theirs_outcome = ours[0], theirs[0]
    if (
        theirs_outcome is not None
        and theirs_outcome[0] == 206
        and isinstance(theirs_outcome[1], tuple)
        and theirs_outcome[1][0] == "multipart"
        and ours_outcome is not None
        and ours_outcome[0] == 200
    ):
        return "several-ranges"
    if (
        case.range is not None
        and case.range.kind == "invalid"
        and theirs_outcome == (416, None)
        and ours_outcome is not None
        and ours_outcome[0] == 200
    ):
        return "invalid-range"
    return None


def test_nginx_differential(
    client, service: dfc.ServiceData, nginx: str, files: Dict[int, Path], nginx_answers
) -> None:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=3))  # GET/HEAD only
    cases = corpus()
    compared = 0
    failures: list[str] = []
    nginx_violations: Counter[str] = Counter()
    deliberate: Counter[str] = Counter()
    for size, path in files.items():
        content = path.read_bytes()
        address = service.register(path, mime_type="application/octet-stream")
        url = f"{nginx}/{path.name}"
        probe = session.get(url, timeout=30)
        theirs_validator = Validator(
            probe.headers["ETag"],
            int(parsedate_to_datetime(probe.headers["Last-Modified"]).timestamp()),
        )
        mine = client.get(address)
        ours_validator = Validator(
            mine.headers["ETag"],
            int(parsedate_to_datetime(mine.headers["Last-Modified"]).timestamp()),
        )
        # Each side is asked with its own validators (CacheRedis copies a path item, so its
        # Last-Modified is the registration time, not the file's): cases are symbolic.
        for case in cases:
            key = (size, case.label)
            if key not in nginx_answers:
                nginx_answers[key] = _answer(
                    session.request(
                        case.method, url, headers=case.headers(theirs_validator), timeout=30
                    )
                )
            theirs = nginx_answers[key]
            if verdict(case, theirs, content, probe.headers):
                nginx_violations[f"{judge(case, size).rule}; nginx: {theirs.status}"] += 1
                continue
            response = client.open(
                address, method=case.method, headers=case.headers(ours_validator)
            )
            ours = Answer(response.status_code, response.headers, response.get_data())
            problems = verdict(case, ours, content, mine.headers)
            if problems:
                failures.append(f"size {size}: {case.label}: {problems}")
                continue
            compared += 1
            ours_key = _key(observe(ours, case.method, content)[0], ours)
            theirs_key = _key(observe(theirs, case.method, content)[0], theirs)
            if ours_key == theirs_key:
                continue
            reason = _difference(case, ours_key, theirs_key)
            if reason is None:
                failures.append(f"size {size}: {case.label}: ours {ours_key}, nginx {theirs_key}")
            else:
                deliberate[reason] += 1
    total = len(cases) * len(files)
    print(
        f"\nnginx differential ({type(service.cache).__name__}): {total} cases, "
        f"nginx breaks RFC 9110 "
        f"in {sum(nginx_violations.values())}, compared {compared}, deliberate differences "
        f"{dict(deliberate)}, other differences {len(failures)}"
    )
    for rule, count in nginx_violations.most_common():
        print(f"  nginx violation x{count}: {rule}")
    assert compared > 0
    assert failures == [], "\n".join(failures[:40])
