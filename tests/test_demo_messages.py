"""What the demo and the download example say: row checks, error texts, progress lines."""

from __future__ import annotations

from typing import Any, Sequence

import pytest

from .browser.conftest import load_script
from .conftest import ROOT


@pytest.fixture(scope="module")
def usage():
    return load_script(ROOT / "usage.py", "usage")


@pytest.mark.parametrize("value", [0, -5, 2.5, 200000, None, "x", True, 1e300])
def test_bad_row_counts_are_refused(usage, value):
    assert usage.parse_rows(value) is None


@pytest.mark.parametrize("value, rows", [(1, 1), (50, 50), (100_000, 100_000), (7.0, 7)])
def test_good_row_counts(usage, value, rows):
    assert usage.parse_rows(value) == rows


def fire(app, input_id: str, inputs: list, state: Sequence[Any] = ()) -> dict:
    """Fire the callback triggered by ``input_id`` through ``/_dash-update-component``."""
    client = app.server.test_client()
    (dep,) = [
        d for d in client.get("/_dash-dependencies").get_json() if d["inputs"][0]["id"] == input_id
    ]
    spec = dep["output"]
    outputs = [
        dict(zip(("id", "property"), part.rsplit(".", 1)))
        for part in (spec[2:-2].split("...") if spec.startswith("..") else [spec])
    ]
    body = {
        "output": spec,
        "outputs": outputs if spec.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": list(state),
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
    }
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["response"]


def test_csv_refusal_and_error_texts(usage):
    with usage.DemoResources() as resources:
        app = usage.create_app(resources)
        refused = fire(
            app,
            "csv-button",
            [{"id": "csv-button", "property": "n_clicks", "value": 1}],
            [{"id": "csv-rows", "property": "value", "value": 2.5}],
        )
        assert "csv-download" not in refused  # nothing to download
        (status_text,) = [v["children"] for k, v in refused.items() if k == "csv-status"]
        assert status_text.startswith("Not made: the number of rows must be a whole number")
        assert status_text.endswith("(not 2.5).")

        status = {"state": "error", "http_code": 404, "message": "No cached item."}
        shown = fire(
            app, "csv-download", [{"id": "csv-download", "property": "status", "value": status}]
        )
        assert shown["csv-status"]["children"] == "Download failed: No cached item."


def test_download_example_lines():
    example = load_script(ROOT / "examples" / "download_file.py", "dfc_example_download_file")
    started = {"state": "started", "loaded": 50, "total": 200, "file_name": "m.csv"}
    assert example.describe(started) == "Downloading m.csv: 25% of 200 bytes."
    assert example.describe({"state": "done", "file_name": "m.csv"}) == "Saved m.csv."
    error = {"state": "error", "http_code": 404, "message": "Expired."}
    assert example.describe(error) == "Failed: Expired."
    assert example.describe({"state": "error", "http_code": 404}) == "Failed: HTTP 404."


def test_csv_summary_streams_and_reports(usage):
    import io

    data = b'\xef\xbb\xbfname,x\n"a, b",1\n"two\nlines",x\n,3.5\nlast,inf\n'
    reports: list = []
    rows, columns = usage.summarise_csv(io.BytesIO(data), len(data), 4, 0, reports.append)
    assert rows == 4  # a quoted line break is one row; the BOM is not part of the name
    assert [c.row() for c in columns] == [
        ["name", 3, 0, "", "", ""],
        ["x", 4, 2, "1", "3.5", "2.25"],  # "x" and "inf" are values, not numbers
    ]
    assert reports == [25, 50, 75, 100]


def test_large_file_sizes_and_cost(usage):
    size = 8 * usage.MB + 5
    blocks = list(usage.large_blocks(size))
    assert [len(b) for b in blocks] == [usage.MB] * 8 + [5]
    assert blocks[1].startswith(b"block 00000001 at byte 000001048576 ")
    assert usage.parse_large_size(1024) == 1024
    assert usage.parse_large_size("1024") == usage.parse_large_size(None) == 8
    assert [usage.format_size(n) for n in (5, 1536, 8 * usage.MB, usage.GIB)] == [
        "5 bytes",
        "1.5 KiB",
        "8.0 MiB",
        "1.0 GiB",
    ]
    # The measured figures of docs/performance.md, section 6 (256 MiB), scaled.
    cost = usage.send_file_cost(256 * usage.MB)
    assert "as one 368.0 MiB JSON answer" in cost  # 385,841,256 bytes
    assert "about 1.7 GiB" in cost and "about 7.8 s" in cost
