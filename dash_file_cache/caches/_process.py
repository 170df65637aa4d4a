"""Where are we running? Process-local caches need to know."""

from __future__ import annotations

import multiprocessing

import flask
import multiprocess

__all__ = ["has_mp_parent", "in_dash_background_job"]


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
    if flask.has_request_context():
        return False
    try:
        from dash._callback_context import context_value  # Dash has no public accessor

        return bool(context_value.get())
    except (ImportError, LookupError):
        return False
