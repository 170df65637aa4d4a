"""Binding a service to an app (:mod:`dash_file_cache.services.binding`) and the
adapter contract (:mod:`dash_file_cache.services.adapter`)."""

from __future__ import annotations

import inspect

import dash
import flask
import pytest

import dash_file_cache as dfc
from dash_file_cache.services import adapter, binding


def test_servers_are_found_from_the_table() -> None:
    from quart import Quart
    from starlette.applications import Starlette

    plain = flask.Flask("plain")
    assert binding.server_of(plain) == ("._flask", plain)
    app = dash.Dash("on-flask")
    assert binding.server_of(app) == ("._flask", app.server)
    starlette = Starlette()
    assert binding.server_of(starlette) == ("._starlette", starlette)
    quart = Quart("q")
    assert binding.server_of(quart) == ("._quart", quart)
    for wrong in (object(), None, "app", flask.Blueprint("bp", "bp")):
        with pytest.raises(TypeError, match=r"app must be a dash\.Dash"):
            binding.server_of(wrong)


def test_dash_prefixes() -> None:
    assert binding.dash_prefixes(flask.Flask("plain")) == ("", "")
    assert binding.dash_prefixes(dash.Dash("root")) == ("", "")
    app = dash.Dash("proxied", requests_pathname_prefix="/proxy/", routes_pathname_prefix="/")
    assert binding.dash_prefixes(app) == ("", "/proxy")
    assert binding.dash_prefixes(dash.Dash("base", url_base_pathname="/a/b/")) == ("/a/b", "/a/b")


@pytest.mark.parametrize("module", [entry[2] for entry in binding.SERVERS])
def test_every_adapter_has_the_contract(module: str) -> None:
    loaded = adapter.load_adapter(module)
    for name in ("is_free", "bind", "to_request", "respond"):
        expected = inspect.signature(getattr(adapter.Adapter, name))
        got = inspect.signature(getattr(type(loaded), name))
        assert list(got.parameters) == list(expected.parameters), (module, name)


def test_bind_returns_the_prefix_and_keeps_one_service_per_path() -> None:
    app = dash.Dash("prefixed", url_base_pathname="/r/")
    service = dfc.ServiceData(dfc.CachePlain(2))
    assert binding.bind(service, app, None, "") == "/r"
    assert binding.bind(service, app, None, "/r") == "/r"  # again: nothing to do
    with pytest.raises(ValueError, match="already serves under '/r'"):
        binding.bind(service, dash.Dash("other", url_base_pathname="/o/"), None, "/r")
    with pytest.raises(ValueError, match="already used"):
        binding.bind(dfc.ServiceData(dfc.CachePlain(2)), app, None, "")
    assert "dash_file_cache_r_cached_data" in app.server.view_functions


def test_starlette_marks_every_request_once_before_start() -> None:
    from starlette.applications import Starlette

    from dash_file_cache.services._starlette import MarkServing

    app = Starlette()
    dfc.ServiceData(dfc.CachePlain(2)).serve(app)
    dfc.ServiceData(dfc.CachePlain(2), service_name="/second").serve(app)
    assert sum(m.cls is MarkServing for m in app.user_middleware) == 1
    app.middleware_stack = app.build_middleware_stack()  # started
    dfc.ServiceData(dfc.CachePlain(2), service_name="/late").serve(app)  # no error
    assert sum(m.cls is MarkServing for m in app.user_middleware) == 1
