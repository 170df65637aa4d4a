"""examples/s3_app.py in headless Chromium, its files in the real radosgw's bucket.

The page shows the image registered for it (``CachedImage`` loads it from the bucket through the
app, or from the store when it redirects), and the button saves the report the callback wrote
into the bucket: the saved file is the CSV, line for line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import ROOT
from tests.test_cache_s3 import bucket, credentials, s3  # noqa: F401 - fixtures

from .conftest import console_errors, finished_downloads, load_script, read, wait_for

pytest_plugins = ("tests.support.radosgw",)
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("radosgw")]


def test_s3_example_shows_the_image_and_saves_the_report(
    browser: Any,
    radosgw: Any,
    bucket: str,  # noqa: F811
    credentials: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", radosgw.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    example = load_script(ROOT / "examples" / "s3_app.py", "dfc_example_s3_app")
    browser.start_server(example.create_app(bucket))

    def image_loaded() -> bool:
        width = browser.driver.execute_script(
            "const i = document.querySelector('#image img') || document.querySelector('#image');"
            "return i && i.complete ? i.naturalWidth : 0;"
        )
        return bool(width == 160)

    wait_for(image_loaded, 20, "the image from the bucket")

    browser.find_element("#save").click()
    wait_for(lambda: read(browser, "#status") == "Saved report-1.csv.", 30, "the report saved")
    (saved,) = wait_for(lambda: finished_downloads(browser.download_path), 15, "the download")
    assert saved.name == "report-1.csv"
    lines = Path(saved).read_text().splitlines()
    assert lines[0] == "row,square,cube" and len(lines) == 1001
    assert lines[-1] == f"999,{999**2},{999**3}"
    assert console_errors(browser) == []
