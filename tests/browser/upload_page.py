"""Driving the upload page (:mod:`tests.apps.upload_page_app`) in Chromium.

:func:`upload_app` is a Dash app with that page; the other helpers choose
files in its file input, slow down or cut the page's network (CDP) and read
or click its file rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import dash

from tests.apps.upload_page_app import upload_callbacks, upload_layout
from tests.support import wait_for

from .conftest import read


def upload_app(
    endpoint: str, app: Optional[dash.Dash] = None, calls: Optional[List[Any]] = None, **props: Any
) -> dash.Dash:
    """``app`` (default: a new Dash app) with the upload page as its layout."""
    if app is None:
        app = dash.Dash(__name__)
    app.layout = upload_layout(endpoint, **props)
    upload_callbacks(app, calls)
    return app


def read_json(dash_duo, selector: str):
    text = read(dash_duo, selector)
    return json.loads(text) if text else None


def status_is(dash_duo, state: str, timeout: float = 60):
    """Wait until ``status.state`` is ``state``; the status."""
    return wait_for(
        lambda: (s := read_json(dash_duo, "#status")) and s["state"] == state and s,
        timeout,
        f"status.state == {state!r}",
    )


def choose(dash_duo, paths: List[Path]) -> None:
    """Choose files (or a folder) in the component's visually hidden file input."""
    field = wait_for(
        lambda: dash_duo.driver.find_elements("css selector", "#up input[type=file]"),
        10,
        "the CachedUpload chunk to load",
    )[0]
    if paths:
        field.send_keys("\n".join(str(p) for p in paths))


def throttle_uploads(dash_duo, bytes_per_second: int) -> None:
    """Slow the page's uploads down (CDP network conditions), so buttons can be used mid-way."""
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def go_offline(dash_duo) -> None:
    """Cut the page's network (CDP): requests in flight fail, new ones cannot start."""
    dash_duo.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def row_state(dash_duo, index: int) -> str:
    return dash_duo.driver.execute_script(
        "const r = document.querySelectorAll('#up .dfc-upload-file')[arguments[0]];"
        "return r ? r.dataset.state : null;",
        index,
    )


def click_in_row(dash_duo, index: int, button: str) -> None:
    rows = dash_duo.driver.find_elements("css selector", "#up .dfc-upload-file")
    rows[index].find_element("css selector", f".dfc-upload-{button}").click()


def file_loaded(dash_duo, index: int) -> int:
    """``status.files[index].loaded`` (0 before the first report)."""
    status = read_json(dash_duo, "#status")
    return status["files"][index]["loaded"] if status and status["files"] else 0


def pause_and_cancel(dash_duo, pause: int, cancel: int, screenshot: Optional[Path] = None) -> None:
    """Once both rows have sent bytes, pause row ``pause`` and cancel row ``cancel``."""
    wait_for(
        lambda: file_loaded(dash_duo, pause) > 0 and file_loaded(dash_duo, cancel) > 0,
        20,
        "both uploads under way",
    )
    click_in_row(dash_duo, pause, "pause")
    wait_for(lambda: row_state(dash_duo, pause) == "paused", 5, f"row {pause} paused")
    if screenshot is not None:
        dash_duo.driver.save_screenshot(str(screenshot))
    click_in_row(dash_duo, cancel, "cancel")
    wait_for(lambda: row_state(dash_duo, cancel) == "cancelled", 5, f"row {cancel} cancelled")
