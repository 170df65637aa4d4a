"""examples/*.py in headless Chromium: each one started and its main path exercised."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import multiprocess
import pytest
import requests

from tests.support.processes import ROOT
from tests.support.servers import serve_in_thread

from .conftest import console_errors, finished_downloads, load_script, read, wait_for

pytestmark = pytest.mark.browser

EXAMPLES = ROOT / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module."""
    return load_script(EXAMPLES / f"{name}.py", f"dfc_example_{name}")


def wait_downloads(dash_duo, count: int, timeout: float = 15.0) -> list:
    saved = wait_for(
        lambda: len(files := finished_downloads(dash_duo.download_path)) == count and files,
        timeout,
        f"{count} finished download(s)",
    )
    assert isinstance(saved, list)  # wait_for returns only a truthy value: the list
    return saved


# -- flask_services.py ---------------------------------------------------------


def test_flask_services_with_the_test_client():
    client = load_example("flask_services").create_app().test_client()
    address = client.post("/create-file").get_data(as_text=True)
    assert address.startswith("/cached-data?uid=")
    shown = client.get(address)
    assert shown.status_code == 200
    assert shown.get_data(as_text=True) == "a simple test"
    assert shown.headers["Content-Type"].startswith("text/plain")
    saved = client.get(address + "&download=true")
    assert saved.headers["Content-Disposition"].startswith("attachment")
    assert "filename=test.txt" in saved.headers["Content-Disposition"]


@pytest.fixture
def flask_server():
    """Run ``examples/flask_services.py`` on a free port; yield its URL."""
    with serve_in_thread(load_example("flask_services").create_app()) as url:
        yield url


def test_flask_services_in_the_browser(browser, flask_server):
    driver = browser.driver
    driver.get(flask_server + "/")
    driver.find_element("id", "text").clear()
    driver.find_element("id", "text").send_keys("made in the browser")
    driver.find_element("id", "create").click()
    wait_for(lambda: read(browser, "#address").startswith("/cached-data?uid="), 10, "address")

    driver.find_element("id", "download").click()
    (saved,) = wait_downloads(browser, 1)
    assert saved.name == "test.txt"
    assert saved.read_text() == "made in the browser"

    driver.get(read(browser, "#view", "href"))
    assert driver.find_element("tag name", "body").text == "made in the browser"
    # Showing the text file itself, the browser asks for a /favicon.ico this app lacks.
    assert console_errors(browser, allowed=["/favicon.ico"]) == []


# -- change_image.py -------------------------------------------------------------


def test_change_image(browser):
    browser.start_server(load_example("change_image").create_app())
    loaded = "loaded: 240 x 160 px"
    wait_for(lambda: read(browser, "#status") == loaded, 10, "the first image")
    seen = {read(browser, "#image", "src")}

    browser.find_element("#next").click()
    wait_for(lambda: read(browser, "#image", "src") not in seen, 10, "a second image")
    wait_for(lambda: read(browser, "#status") == loaded, 10, "the second image loaded")
    seen.add(read(browser, "#image", "src"))

    browser.driver.find_element("xpath", "//label[normalize-space()='checks']").click()
    wait_for(lambda: read(browser, "#image", "src") not in seen, 10, "a third image")
    wait_for(lambda: read(browser, "#status") == loaded, 10, "the third image loaded")

    answer = requests.get(read(browser, "#image", "src"), timeout=10)
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert console_errors(browser) == []


# -- download_file.py ------------------------------------------------------------


def test_download_file_native_fetch_stream(browser):
    browser.start_server(load_example("download_file").create_app())
    rows = browser.find_element("#rows")

    def status() -> dict:
        text = read(browser, "#status")
        return json.loads(text) if text else {}

    modes = [("native", 20), ("fetch", 30), ("stream", 40)]
    for count, (mode, n_rows) in enumerate(modes, start=1):
        browser.driver.find_element("xpath", f"//label[normalize-space()='{mode}']").click()
        browser.clear_input(rows)
        rows.send_keys(str(n_rows))
        browser.find_element("#download").click()
        done = wait_for(
            lambda mode=mode: (
                (s := status()).get("state") == "done" and s.get("mode") == mode and s
            ),
            15,
            f"the {mode} download",
        )
        assert done["file_name"] == f"measurements-{n_rows}.csv"
        saved = wait_downloads(browser, count)
        lines = (Path(browser.download_path) / done["file_name"]).read_text().splitlines()
        assert len(saved) == count
        assert lines[0] == "sample,temperature,pressure" and len(lines) == n_rows + 1
    assert done["loaded"] == done["total"] > 0  # stream mode reports its progress
    assert console_errors(browser) == []


# -- background_callback.py ------------------------------------------------------


def test_background_callbacks_queue_and_file(browser, tmp_path):
    example = load_example("background_callback")
    with multiprocess.Manager() as manager:
        app = example.create_app(str(tmp_path), manager.Queue(), rows=20_000, delay=0.1)
        browser.start_server(app)
        browser.find_element("#queue-build").click()
        browser.find_element("#file-build").click()
        for name, route in (("queue", "/cached-queue"), ("file", "/cached-file")):
            href = wait_for(lambda name=name: read(browser, f"#{name}-link", "href"), 60, name)
            assert href.startswith(f"{browser.server_url}{route}?uid=")
            assert read(browser, f"#{name}-progress", "value") == 100
            assert read(browser, f"#{name}-percent") == "100%"

            answer = requests.get(href, timeout=10)
            assert answer.status_code == 200
            assert f"filename={name}.csv" in answer.headers["Content-Disposition"]
            # Written as text through ServiceData.open: type inferred, charset added.
            assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
            lines = answer.text.splitlines()
            assert lines[0] == "step,row,value" and len(lines) == 20_000 + 1
            assert lines[-1].startswith("9,1999,")
        assert console_errors(browser) == []


# -- video.py --------------------------------------------------------------------


def test_video_plays_and_seeks(browser):
    app = load_example("video").create_app()
    answers = []  # (Range header, status) of every request for the video

    @app.server.after_request
    def note(response):
        from flask import request

        if request.path == "/cached-data":
            answers.append((request.headers.get("Range"), response.status_code))
        return response

    browser.start_server(app)
    video = "document.getElementById('video')"
    wait_for(lambda: browser.driver.execute_script(f"return {video}.readyState") >= 2, 15, "data")
    duration = browser.driver.execute_script(f"return {video}.duration")
    assert 7.5 < duration < 8.5

    # Play (muted, so headless Chromium allows it) and see the time advance.
    browser.driver.execute_script(f"{video}.play()")
    wait_for(lambda: browser.driver.execute_script(f"return {video}.currentTime") > 0.5, 15)
    browser.driver.execute_script(f"{video}.pause()")

    # Seek near the end: the player fetches the bytes it needs with a Range request.
    browser.driver.execute_script(
        f"""const v = {video};
        window.__seek = {{seeked: false, error: null}};
        v.addEventListener('seeked', () => {{ window.__seek.seeked = true; }}, {{once: true}});
        v.addEventListener('error', () => {{
            window.__seek.error = String(v.error && v.error.code);
        }});
        v.currentTime = 7.5;"""
    )
    wait_for(lambda: browser.driver.execute_script("return window.__seek.seeked"), 15, "seeked")
    state = browser.driver.execute_script(
        f"return {{time: {video}.currentTime, ready: {video}.readyState, "
        f"error: {video}.error, seek: window.__seek}}"
    )
    assert abs(state["time"] - 7.5) < 0.3, state
    assert state["ready"] >= 2 and state["error"] is None and state["seek"]["error"] is None
    assert any(status == 206 for _, status in answers), answers
    assert all(status in (200, 206) for _, status in answers), answers
    assert console_errors(browser) == []


# -- upload_png.py ---------------------------------------------------------------


def upload_rows(dash_duo) -> list:
    """``[name, state, info text]`` of each row of the example's CachedUpload."""
    return dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#upload .dfc-upload-file')].map(r => ["
        "r.querySelector('.dfc-upload-name').textContent, r.dataset.state,"
        "r.querySelector('.dfc-upload-info').textContent]);"
    )


def choose_uploads(dash_duo, paths) -> None:
    field = wait_for(
        lambda: dash_duo.driver.find_elements("css selector", "#upload input[type=file]"),
        15,
        "the CachedUpload chunk to load",
    )[0]
    field.send_keys("\n".join(str(p) for p in paths))


def settled(dash_duo, count: int) -> list:
    """The rows, once ``count`` are listed and none is uploading any more."""
    listed = wait_for(
        lambda: (
            len(rows := upload_rows(dash_duo)) == count
            and all(state != "uploading" for _, state, _ in rows)
            and rows
        ),
        20,
        f"{count} upload(s) finished or refused",
    )
    assert isinstance(listed, list)  # wait_for returns only a truthy value: the rows
    return listed


def test_upload_png_signed_in_users_and_real_pngs_only(browser, tmp_path):
    from .test_cached_image import make_png

    good = tmp_path / "good.png"
    good.write_bytes(make_png(32, 20))
    fake = tmp_path / "fake.png"  # a PNG by name and by the browser's type, not by content
    fake.write_bytes(b"GIF89a, not a PNG at all" * 10)
    browser.start_server(load_example("upload_png").create_app())
    wait_for(lambda: read(browser, "#who") == "Not signed in: uploads are refused.", 10)

    # Not signed in: the creation request is refused, nothing is shown.
    choose_uploads(browser, [good])
    assert settled(browser, 1) == [
        ["good.png", "error", "This upload request is not authorized. (HTTP 403)"]
    ]
    assert browser.driver.find_elements("css selector", "#images img") == []

    # Signed in: the real PNG is accepted and shown, the fake one refused with the message.
    browser.find_element("#sign-in").click()
    wait_for(lambda: read(browser, "#who") == "Signed in as demo-user.", 10)
    choose_uploads(browser, [good, fake])
    assert settled(browser, 2) == [  # a new selection replaces the finished rows
        ["good.png", "done", "Done"],
        [
            "fake.png",
            "error",
            "fake.png is not a PNG image: only PNG files are accepted. (HTTP 422)",
        ],
    ]
    wait_for(
        lambda: (
            browser.driver.execute_script(
                "const i = document.querySelector('#images img');"
                "return i && i.complete && i.naturalWidth;"
            )
            == 32
        ),
        15,
        "the PNG shown",
    )
    src = read(browser, "#images img", "src")
    assert requests.get(src, timeout=10).content == good.read_bytes()
    assert read(browser, "#images") == "good.png"  # the caption; the fake one is not there
    upload_address = browser.server_url + "/cached-data/uploads"
    assert console_errors(browser, allowed=[upload_address]) == []


def test_upload_png_authorizes_every_request():
    """Not only the creation: a PATCH, a HEAD and a DELETE without the token are refused too."""
    from .test_cached_image import make_png

    example = load_example("upload_png")
    app = example.create_app("a test secret")
    client = app.server.test_client()
    signed = {"Tus-Resumable": "1.0.0", **example.Tokens("a test secret").header("someone")}
    content = make_png(8, 8)
    created = client.post(
        "/cached-data/uploads", headers={**signed, "Upload-Length": str(len(content))}
    )
    assert created.status_code == 201
    upload = created.headers["Location"]
    patch = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}

    for headers in (
        {"Tus-Resumable": "1.0.0"},  # no token
        {"Tus-Resumable": "1.0.0", "Authorization": "Bearer forged"},
        {"Tus-Resumable": "1.0.0", **example.Tokens("another secret").header("someone")},
    ):
        assert client.patch(upload, data=content, headers={**headers, **patch}).status_code == 403
        assert client.head(upload, headers=headers).status_code == 403
        assert client.delete(upload, headers=headers).status_code == 403
    assert client.head(upload, headers=signed).headers["Upload-Offset"] == "0"  # untouched

    done = client.patch(upload, data=content, headers={**signed, **patch})
    assert done.status_code == 204
    assert client.get(done.headers["Cached-Address"]).data == content
