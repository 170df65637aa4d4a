"""``serve()`` on Flask and Dash apps: idempotence, conflicts, path prefixes, the Dash page."""

from __future__ import annotations

import dash
import flask
import pytest
from dash import html

import dash_file_cache as dfc


def test_serve_on_dash_before_and_after_layout() -> None:
    before = dash.Dash("before")
    service = dfc.ServiceData(dfc.CachePlain(2))
    service.serve(before)
    before.layout = html.Div("x")
    after = dash.Dash("after")
    after.layout = html.Div("y")
    service.serve(after)
    address = service.register(b"dash bytes")
    for app in (before, after):
        client = app.server.test_client()
        assert client.get(address).data == b"dash bytes"
        assert client.get("/").status_code == 200  # the Dash page still works


def test_serve_twice_and_conflicts() -> None:
    app = flask.Flask("conflicts")
    service = dfc.ServiceData(dfc.CachePlain(2))
    service.serve(app)
    service.serve(app)  # idempotent
    other = dfc.ServiceData(dfc.CachePlain(2))
    with pytest.raises(ValueError, match="already"):
        other.serve(app)
    second = dfc.ServiceData(dfc.CachePlain(2), service_name="/other")
    second.serve(app, endpoint="my_endpoint")
    assert "my_endpoint" in app.view_functions
    with pytest.raises(TypeError, match="app"):
        service.serve(object())


def test_serve_under_dash_path_prefix() -> None:
    app = dash.Dash("prefixed", url_base_pathname="/reports/")
    app.layout = html.Div("x")
    service = dfc.ServiceData(dfc.CachePlain(2))
    service.serve(app)
    address = service.register(b"behind a prefix")
    assert address.startswith("/reports/cached-data?uid=")
    assert app.server.test_client().get(address).data == b"behind a prefix"
    other = dash.Dash("other", url_base_pathname="/other/")
    with pytest.raises(ValueError, match="prefix"):
        service.serve(other)


def test_serve_with_requests_prefix_behind_proxy() -> None:
    """A proxy strips /proxy/: rules at /, addresses with /proxy/."""
    app = dash.Dash("proxied", requests_pathname_prefix="/proxy/", routes_pathname_prefix="/")
    app.layout = html.Div("x")
    service = dfc.ServiceData(dfc.CachePlain(2))
    service.serve(app)
    address = service.register(b"proxied")
    assert address.startswith("/proxy/cached-data?uid=")
    assert app.server.test_client().get(address.replace("/proxy", "", 1)).data == b"proxied"
