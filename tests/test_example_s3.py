"""examples/s3_app.py as users run it, against the real radosgw (``tests.support.radosgw``).

Two processes of the example (``python examples/s3_app.py``), configured only by the
environment (the AWS variables, ``AWS_ENDPOINT_URL``, ``DFC_S3_BUCKET``, ``PORT``), share
nothing but the bucket: the image one registers while building its page is served by the other,
byte for byte, and the report the callback writes is a CSV download from either; both are
passive types, so the app answers a 307 and the bytes come from radosgw (``redirect=True``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from tests.browser.conftest import load_script
from tests.support.polling import wait_http
from tests.support.processes import ROOT, free_port, stop_processes
from tests.test_cache_s3 import bucket, s3  # noqa: F401 - fixtures

#: The fixtures ``radosgw_session`` (the cluster, for the session) and ``radosgw``.
pytest_plugins = ("tests.support.radosgw",)
#: One xdist worker runs every module of the cluster.
pytestmark = pytest.mark.xdist_group("radosgw")

EXAMPLE = ROOT / "examples" / "s3_app.py"


def example_env(radosgw: Any, name: str) -> Dict[str, str]:
    """The example's whole configuration: the standard AWS variables and its bucket."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=radosgw.access_key,
        AWS_SECRET_ACCESS_KEY=radosgw.secret_key,
        AWS_ENDPOINT_URL=radosgw.endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        DFC_S3_BUCKET=name,
    )
    return env


@pytest.fixture
def hosts(radosgw: Any, bucket: str, tmp_path: Path) -> Iterator[List[str]]:  # noqa: F811
    """Two processes of the example on the same bucket; their URLs."""
    procs: List[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for n in range(2):
            port = free_port()
            env = dict(example_env(radosgw, bucket), PORT=str(port))
            with open(tmp_path / f"example-{n}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(EXAMPLE)],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            urls.append(f"http://127.0.0.1:{port}")
            wait_http(urls[-1] + "/", timeout=60, proc=procs[-1], status=200)
        yield urls
    finally:
        stop_processes(procs)
        for path in sorted(tmp_path.glob("example-*.log")):
            if "Traceback" in path.read_text(errors="replace"):
                print(f"--- {path.name} ---\n{path.read_text(errors='replace')}")


def image_address(layout: Dict[str, Any]) -> str:
    """The ``src`` of the ``CachedImage`` in the page's layout (Dash's JSON)."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "CachedImage":
                found.append(node["props"]["src"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(layout)
    (src,) = found
    return str(src)


def test_two_processes_serve_each_others_image_and_report(
    hosts: List[str],
    radosgw: Any,
    s3: Any,  # noqa: F811
    bucket: str,  # noqa: F811
) -> None:
    example = load_script(EXAMPLE, "dfc_example_s3_app")
    first, second = hosts
    layout = requests.get(first + "/_dash-layout", timeout=30)
    assert layout.status_code == 200
    address = image_address(layout.json())
    assert address.startswith("/cached-data?uid=")

    image = requests.get(second + address, timeout=30)
    assert image.status_code == 200
    # redirect=True: the bytes came from the store (radosgw), not through the app.
    assert [r.status_code for r in image.history] == [307]
    assert image.url.startswith(radosgw.endpoint_url + "/")
    assert image.headers["Content-Type"] == "image/png"
    assert image.content == example.gradient_png(160, 0)
    assert image.content == requests.get(first + address, timeout=30).content
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(key.startswith("dash-file-cache/item/") for key in stored), stored

    # The button's callback, as the page calls it: the report is written into the bucket.
    update: Dict[str, Any] = {
        "output": "saver.url",
        "outputs": {"id": "saver", "property": "url"},
        "inputs": [{"id": "save", "property": "n_clicks", "value": 2}],
        "changedPropIds": ["save.n_clicks"],
        "state": [],
    }
    answer = requests.post(first + "/_dash-update-component", json=update, timeout=60)
    assert answer.status_code == 200, answer.text
    report = json.loads(answer.text)["response"]["saver"]["url"]
    saved = requests.get(second + report, timeout=30)
    assert saved.status_code == 200 and saved.url.startswith(radosgw.endpoint_url + "/")
    disposition = saved.headers["Content-Disposition"]  # ours, or the store's when redirected
    assert disposition.startswith("attachment;") and "report-2.csv" in disposition
    lines = saved.text.splitlines()
    assert lines[0] == "row,square,cube" and len(lines) == 2001
    assert lines[-1] == f"1999,{1999**2},{1999**3}"


def test_missing_bucket_stops_the_example_at_start_naming_it(radosgw: Any) -> None:
    """``service.serve`` checks the bucket: the process exits with a message naming it."""
    env = dict(example_env(radosgw, "no-such-bucket-dfc"), PORT=str(free_port()))
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "The S3 bucket 'no-such-bucket-dfc' does not exist" in done.stderr
