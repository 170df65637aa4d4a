"""Binding a service to an app: which framework, which path prefixes, which route.

:meth:`ServiceData.serve` accepts a Dash app on any backend or a bare Flask,
Starlette/FastAPI or Quart app. This module finds the server under it and its
kind (from a table, without importing a framework the app does not use), the
Dash path prefixes, and keeps the per-server registry that makes serving the
same service twice a no-op and two services on one path an error.
"""

from __future__ import annotations

import re
import sys
import weakref
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from .adapter import load_adapter

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["bind", "dash_prefixes", "server_of"]

#: ``(module, class name, adapter module)``: the servers a service can be bound to,
#: in the order they are tried, and the module whose ``ADAPTER`` serves on them. A
#: class is looked up only if its module was imported already: an object of a
#: framework never imported cannot exist.
SERVERS: Tuple[Tuple[str, str, str], ...] = (
    ("flask.app", "Flask", "._flask"),
    ("quart.app", "Quart", "._quart"),
    ("starlette.applications", "Starlette", "._starlette"),
)
_SUPPORTED = (
    "app must be a dash.Dash (Flask, FastAPI or Quart backend), flask.Flask, "
    "fastapi.FastAPI, starlette.applications.Starlette or quart.Quart"
)

#: The path of the upload endpoint, under the service's.
UPLOADS = "/uploads"

#: Services bound per server object: rule -> service.
_REGISTRY: weakref.WeakKeyDictionary[Any, Dict[str, Any]] = weakref.WeakKeyDictionary()


def _adapter_module(obj: Any) -> Optional[str]:
    """The adapter module for a server object, or ``None`` if it is not a server."""
    for module, name, adapter in SERVERS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(obj, cls):
            return adapter
    return None


def server_of(app: Any) -> Tuple[str, Any]:
    """``(adapter module, server)`` of an app or of a Dash app's server.

    Raises:
        TypeError: neither ``app`` nor its ``server`` is a supported app.
    """
    for candidate in (app, getattr(app, "server", None)):
        adapter_module = _adapter_module(candidate)
        if adapter_module is not None:
            return adapter_module, candidate
    raise TypeError(f"{_SUPPORTED}; got {type(app).__name__}.")


def dash_prefixes(app: Any) -> Tuple[str, str]:
    """``(routes, requests)`` path prefixes of a Dash app, without trailing slash."""
    if _adapter_module(app) is not None:
        return "", ""
    config = getattr(app, "config", None)
    routes = str(getattr(config, "routes_pathname_prefix", None) or "/")
    requests = str(getattr(config, "requests_pathname_prefix", None) or "/")
    return routes.rstrip("/"), requests.rstrip("/")


def bind(service: ServiceData, app: Any, endpoint: Optional[str], prefix: str) -> str:
    """Route ``service`` on ``app``; return the prefix its addresses now carry.

    ``prefix`` is the one the service's addresses carry so far (``""`` when
    never served under a prefix). See :meth:`ServiceData.serve`.

    Raises:
        TypeError: ``app`` is none of the supported applications.
        ValueError: another service already uses this path or endpoint, or the
            service already serves under another prefix.
    """
    adapter_module, server = server_of(app)
    routes_prefix, requests_prefix = dash_prefixes(app)
    if prefix and requests_prefix != prefix:
        raise ValueError(
            f"This service already serves under {prefix!r}; addresses can carry "
            f"one prefix only, not also {requests_prefix!r}. Use one service per app."
        )
    rule = routes_prefix + service.service_name
    endpoint = endpoint or "dash_file_cache" + re.sub(r"\W", "_", rule)
    registry = _REGISTRY.setdefault(server, {})
    existing = registry.get(rule)
    if existing is service:
        return prefix
    adapter = load_adapter(adapter_module)
    uploads = service.uploads is not None
    if (
        existing is not None
        or not adapter.is_free(server, rule, endpoint)
        or (uploads and not adapter.is_free(server, rule + UPLOADS, endpoint + "_uploads"))
    ):
        raise ValueError(
            f"The path {rule!r} or endpoint {endpoint!r} is already used on this "
            "app; give this service another service_name or endpoint."
        )
    service.cache.prepare()
    adapter.bind(service, server, rule, endpoint)
    if uploads:
        adapter.bind_uploads(service, server, rule + UPLOADS, endpoint + "_uploads")
    registry[rule] = service
    return requests_prefix
