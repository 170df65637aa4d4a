"""Issue 13 §3 in headless Chromium: served content cannot act as the app.

An SVG and an HTML item whose script tries to read the app's cookie and
storage and to call a same-origin API with the user's credentials, opened
directly and framed. The app records every call to ``/secret``: with the
default policy the scripts run (their calls arrive) but carry nothing of the
user's; without a policy (the control) the same items do leak, so the test
can fail. And what must keep working: an SVG in ``CachedImage``, a Plotly
export (its own script draws the plot) and a PDF (Chromium's viewer) in an
``html.Iframe``.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any, Callable, Dict, List, Optional, cast

import dash
import pytest
from dash import html

import dash_file_cache as dfc

from .conftest import wait_for

pytestmark = pytest.mark.browser

COOKIE = "c00k1e-v4lue-of-the-user"
STORED = "l0cal-st0rage-t0ken"

#: What the items' script does: read what it can of the app, report it to /secret.
PROBE = """
var out = {who: WHO};
try { out.cookie = document.cookie; } catch (e) { out.cookie = "blocked " + e.name; }
try { out.stored = window.localStorage.getItem("token"); }
catch (e) { out.stored = "blocked " + e.name; }
fetch("/secret?report=" + encodeURIComponent(JSON.stringify(out)), {credentials: "include"})
  .catch(function () {});
"""


def svg_probe(who: str) -> bytes:
    script = PROBE.replace("WHO", json.dumps(who))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">'
        '<rect width="40" height="30" fill="teal"/>'
        f"<script><![CDATA[{script}]]></script></svg>"
    ).encode()


def html_probe(who: str) -> bytes:
    script = PROBE.replace("WHO", json.dumps(who))
    return f"<!doctype html><title>probe</title><p>probe</p><script>{script}</script>".encode()


class Recorder:
    """The app's ``/secret`` API: who called it, with which cookie and report."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, cookie: Optional[str], report: Optional[str], origin: Optional[str]) -> None:
        with self._lock:
            self.calls.append({"cookie": cookie, "report": report, "origin": origin})

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def reports(self) -> Dict[str, Dict[str, Any]]:
        """``who -> {"cookie_header", "origin", **report}`` of the calls carrying a report."""
        with self._lock:
            found = {}
            for call in self.calls:
                if call["report"]:
                    report = json.loads(call["report"])
                    report["cookie_header"] = call["cookie"] or ""
                    report["origin"] = call["origin"]
                    found[report["who"]] = report
            return found


def attack_app(policy: Optional[str]) -> Any:
    """``(app, recorder, addresses)``: a Dash app with the probes, framed and as links."""
    import flask

    kwargs: Dict[str, Any] = {} if policy == "default" else {"active_content_policy": policy}
    service = dfc.ServiceData(dfc.CachePlain(16), **kwargs)
    svg, page = "image/svg+xml", "Text/HTML; charset=utf-8"
    addresses = {
        "svg-direct": service.register(svg_probe("svg-direct"), mime_type=svg),
        "svg-framed": service.register(svg_probe("svg-framed"), mime_type=svg),
        "html-framed": service.register(html_probe("html-framed"), mime_type=page),
        # download=True does not protect by itself: anyone can drop it from the address.
        "html-direct": service.register(
            html_probe("html-direct"), mime_type=page, download=True
        ).replace("&download=true", ""),
    }
    recorder = Recorder()
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            html.Iframe(id="svg-frame", src=addresses["svg-framed"]),
            html.Iframe(id="html-frame", src=addresses["html-framed"]),
        ]
    )

    @app.server.route("/login")
    def login() -> Any:
        response = flask.make_response("logged in")
        response.set_cookie("session_id", COOKIE)  # no SameSite: Chromium's default (Lax)
        return response

    @app.server.route("/secret")
    def secret() -> Any:
        recorder.add(
            flask.request.headers.get("Cookie"),
            flask.request.args.get("report"),
            flask.request.headers.get("Origin"),
        )
        return {"secret": "of the user"}

    return app, recorder, addresses


def open_probes(browser: Any, app: Any, recorder: Recorder, addresses: Dict[str, str]) -> Dict:
    """Log in, store a token, open both probes directly and framed; the four reports."""
    browser.start_server(app)
    driver = browser.driver
    driver.get(browser.server_url + "/login")
    driver.execute_script(f"localStorage.setItem('token', {json.dumps(STORED)})")
    recorder.clear()  # dash_duo's first load of the page framed the probes before the login
    for who in ("svg-direct", "html-direct"):
        driver.get(browser.server_url + addresses[who])
        wait_for(
            cast(Callable[[], bool], lambda w=who: w in recorder.reports()),
            15,
            f"the report of {who}",
        )
    driver.get(browser.server_url + "/")
    wait_for(lambda: {"svg-framed", "html-framed"} <= set(recorder.reports()), 15, "framed")
    return recorder.reports()


def test_active_items_cannot_act_as_the_app(browser) -> None:
    app, recorder, addresses = attack_app("default")
    reports = open_probes(browser, app, recorder, addresses)
    assert set(reports) == {"svg-direct", "html-direct", "svg-framed", "html-framed"}
    for who, report in reports.items():
        # The script ran (its call arrived) in an opaque origin: no cookie, no storage...
        assert report["cookie"].startswith("blocked "), (who, report)
        assert report["stored"].startswith("blocked "), (who, report)
        assert report["origin"] == "null", (who, report)
        # ...and its call to the app's API carried none of the user's credentials.
        assert COOKIE not in report["cookie_header"], (who, report)
    for call in recorder.calls:
        assert COOKIE not in json.dumps(call) and STORED not in json.dumps(call)


def test_without_a_policy_the_same_items_leak(browser) -> None:
    """The control: with ``active_content_policy=None`` the probes act as the app."""
    app, recorder, addresses = attack_app(None)
    reports = open_probes(browser, app, recorder, addresses)
    for who in ("svg-direct", "html-direct", "svg-framed", "html-framed"):
        assert COOKIE in reports[who]["cookie"], (who, reports[who])
        assert reports[who]["stored"] == STORED
        assert COOKIE in reports[who]["cookie_header"]


# -- what must keep working ------------------------------------------------------------


def tiny_pdf() -> bytes:
    """A one-page PDF saying "Hello PDF", with a correct cross-reference table."""
    stream = b"BT /F1 24 Tf 40 100 Td (Hello PDF) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def plotly_export() -> bytes:
    go = pytest.importorskip("plotly.graph_objects")
    figure = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]))
    buffer = io.StringIO()
    figure.write_html(buffer, include_plotlyjs=True, full_html=True)
    return buffer.getvalue().encode()


def test_exports_still_work_under_the_policy(browser) -> None:
    service = dfc.ServiceData(dfc.CachePlain(16))
    svg = service.register(io.BytesIO(svg_probe("img")), mime_type="image/svg+xml")
    plot = service.register(io.BytesIO(plotly_export()), mime_type="text/html")
    pdf = service.register(io.BytesIO(tiny_pdf()), mime_type="application/pdf")
    app = dash.Dash(__name__)
    service.serve(app)
    app.layout = html.Div(
        [
            dfc.CachedImage(id="svg-image", src=svg, alt="svg"),
            html.Img(id="svg-img", src=svg),
            html.Iframe(id="plot", src=plot, style={"width": "700px", "height": "500px"}),
            html.Iframe(id="pdf", src=pdf, style={"width": "400px", "height": "300px"}),
        ]
    )
    browser.start_server(app)
    driver = browser.driver

    # The SVG, sandboxed, still shows as an image (<img> and CachedImage).
    for selector in ("#svg-img", "#svg-image"):
        wait_for(
            cast(
                Callable[[], bool],
                lambda s=selector: (
                    driver.execute_script(
                        "const i = document.querySelector(arguments[0]);"
                        "return i && i.tagName === 'IMG' && i.complete && i.naturalWidth;",
                        s,
                    )
                    == 40
                ),
            ),
            15,
            f"{selector} loaded",
        )

    # The Plotly export runs its own script in its sandbox: the plot is drawn.
    driver.switch_to.frame(browser.find_element("#plot"))
    try:
        wait_for(
            lambda: (
                driver.execute_script(
                    "return document.querySelectorAll('svg.main-svg .bars path').length"
                )
                == 3
            ),
            30,
            "the plotly bars",
        )
    finally:
        driver.switch_to.default_content()

    # The PDF is not sandboxed: Chromium's viewer takes the frame (its full-page
    # plugin document, not a download nor an error page).
    driver.switch_to.frame(browser.find_element("#pdf"))
    try:
        viewer = wait_for(
            lambda: driver.execute_script(
                "return document.contentType === 'application/pdf' && "
                "getComputedStyle(document.body).backgroundColor;"
            ),
            15,
            "the PDF viewer",
        )
        assert viewer == "rgb(40, 40, 40)"
    finally:
        driver.switch_to.default_content()
