"""Which process is this? The one rule that per-process caches share.

:class:`~dash_file_cache.CachePlain` and :class:`~dash_file_cache.CacheQueue`
keep items in the memory of the *serving process*. They need to know, when
``register`` runs, whether the item would stay where the server can serve it,
and, when a request comes, whether this process is the one that holds the item.

Two facts answer that:

- :func:`is_serving_process`: a Dash background job (``DiskcacheManager`` with
  any start method, ``CeleryManager``) never serves; a process that created or
  prepared the cache, or that handles requests itself (every server adapter
  marks it, :func:`dash_file_cache._runtime.mark_serving`), serves; a plain
  fork (a gunicorn worker) serves; any other child of
  ``multiprocess``/``multiprocessing`` does not.
- :func:`process_token`: a random token of this process, drawn again in every
  forked child. Per-process caches append it to the keys they hand out
  (:func:`tag_key`), so that another process (another gunicorn worker, or a
  worker forked after the item was registered) can tell that the item is held
  elsewhere (:class:`~dash_file_cache.caches.abstract.ItemElsewhereError`)
  instead of merely missing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import secrets
import sys
from typing import Optional

import multiprocess

from .._runtime import KEY_TAG_PATTERN, TOKEN_HEX, serves_requests
from ..errors import ItemElsewhereError

__all__ = [
    "KEY_TAG_PATTERN",
    "has_mp_parent",
    "in_dash_background_job",
    "is_serving_process",
    "item_elsewhere",
    "key_tag",
    "parent_token",
    "process_token",
    "tag_key",
]

_log = logging.getLogger("dash_file_cache")

_TAG_RE = re.compile(f"{KEY_TAG_PATTERN}$")


class _ProcessState:
    """Facts about the current process, reset in every forked child."""

    def __init__(self, parent: Optional[str] = None) -> None:
        self.token = secrets.token_hex(TOKEN_HEX // 2)
        self.parent_token = parent
        self.warned_elsewhere = False


_state = _ProcessState()


def _after_fork_in_child() -> None:
    global _state
    _state = _ProcessState(parent=_state.token)


os.register_at_fork(after_in_child=_after_fork_in_child)


def process_token() -> str:
    """The random token of this process (new in every forked or spawned child)."""
    return _state.token


def parent_token() -> Optional[str]:
    """The token of the process this one was forked from, if it was forked."""
    return _state.parent_token


def tag_key(key: str, token: str) -> str:
    """``key`` tagged with the token of the process that will hold the item."""
    return f"{key}-{token}"


def key_tag(key: str) -> Optional[str]:
    """The process token a key was tagged with by :func:`tag_key`, or ``None``."""
    match = _TAG_RE.search(key)
    return match.group(0)[1:] if match else None


def has_mp_parent() -> bool:
    """Whether this process was started by ``multiprocess``/``multiprocessing``.

    A plain ``os.fork`` (a gunicorn worker) inherits its parent's answer.
    """
    return multiprocess.parent_process() is not None or (
        multiprocessing.parent_process() is not None
    )


def in_dash_background_job() -> bool:
    """Whether a Dash background callback runs here (``DiskcacheManager``, ``CeleryManager``).

    Dash sets its callback context for every callback. In the server, that
    context carries the callback's HTTP response (public
    ``dash.callback_context.response``); a background job runs the callback
    in another process, where there is no response to set, so Dash drops it
    from the context it hands to the job (Dash 2.x to 4.x). This holds also
    when ``DiskcacheManager`` forks the job inside the request and the child
    inherits Flask's request context, which is why a request context is not
    a sign of the serving process.
    """
    dash = sys.modules.get("dash")
    if dash is None:  # Dash never imported: no Dash callback can run here.
        return False
    try:
        _ = dash.callback_context.response
    except AttributeError:
        return True
    except Exception:  # MissingCallbackContextException: not inside a callback
        return False
    return False


def is_serving_process(owner_token: str) -> bool:
    """Whether this process serves the items of a per-process cache.

    Arguments:
        owner_token: the :func:`process_token` recorded by the cache when it
            was created or prepared (:meth:`ServiceData.serve` calls
            ``prepare`` in the serving process).

    The rule, in order:

    1. a Dash background job never serves (it ends with its callback);
    2. the process that created or prepared the cache serves, and so does a
       process that handles requests itself, on any backend (a server run
       inside a ``multiprocess`` child, as Dash's test runners do);
    3. otherwise a child of ``multiprocess``/``multiprocessing`` does not serve
       (its items would vanish with it), and any other process, such as a
       gunicorn worker forked with ``--preload``, does.
    """
    if in_dash_background_job():
        return False
    if owner_token == _state.token or serves_requests():
        return True
    return not has_mp_parent()


def item_elsewhere(cache_name: str, key: str) -> ItemElsewhereError:
    """The error for an item held by another process; logs one warning per process."""
    if not _state.warned_elsewhere:
        _state.warned_elsewhere = True
        _log.warning(
            "dash-file-cache: an address of %s was requested from a server process "
            "(pid %d) that does not hold it. %s keeps items in the memory of one "
            "process, so with several server processes (e.g. gunicorn -w N or "
            "--preload) most requests fail. Use CacheFile or CacheRedis. "
            "(Logged once per process.)",
            cache_name,
            os.getpid(),
            cache_name,
        )
    return ItemElsewhereError(
        f"This file was registered by another server process (another worker, or "
        f"a server process that has since exited), and {cache_name} keeps files in "
        f"the memory of the process that registered them. To serve files from "
        f"several server processes, use CacheFile or CacheRedis."
    )
