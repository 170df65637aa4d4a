"""Where are we running? Process-local caches need to know."""

from __future__ import annotations

import multiprocessing
import sys

import flask
import multiprocess

__all__ = ["has_mp_parent", "has_request_context", "in_dash_background_job"]


def has_request_context() -> bool:
    """Whether an HTTP request is being handled here, on any Dash backend.

    Flask's request context, Quart's, or the request Dash's FastAPI backend
    keeps in a context variable. Quart and the FastAPI backend are looked at
    only if already imported (an app on them cannot exist otherwise).
    """
    if flask.has_request_context():
        return True
    quart = sys.modules.get("quart")
    if quart is not None and quart.has_request_context():
        return True
    dash_fastapi = sys.modules.get("dash.backends._fastapi")
    if dash_fastapi is not None:
        try:
            dash_fastapi.get_current_request()
        except RuntimeError:
            return False
        return True
    return False


def has_mp_parent() -> bool:
    """Whether this process was started by ``multiprocess``/``multiprocessing``."""
    return multiprocess.parent_process() is not None or (
        multiprocessing.parent_process() is not None
    )


def in_dash_background_job() -> bool:
    """Whether a Dash background callback is running here.

    Dash sets its callback context for every callback; a background job
    (``DiskcacheManager``, ``CeleryManager``) runs outside any Flask request,
    in another process than the server.
    """
    if has_request_context():
        return False
    try:
        from dash._callback_context import context_value  # Dash has no public accessor

        return bool(context_value.get())
    except (ImportError, LookupError):
        return False
