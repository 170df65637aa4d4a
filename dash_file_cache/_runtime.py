"""Facts about this process that the caches and the services share.

Neutral ground between the layers (it imports neither):

- the form of the process tag that per-process caches append to keys
  (:data:`KEY_TAG_PATTERN`), which the services' uid check accepts;
- whether this process handles requests (:func:`mark_serving`): every server
  adapter calls it for every request its server handles, and the
  serving-process rule of :mod:`.caches._process` reads it
  (:func:`serves_requests`), on Flask, Starlette/FastAPI and Quart alike.
"""

from __future__ import annotations

import os

__all__ = ["KEY_TAG_PATTERN", "TOKEN_HEX", "mark_serving", "serves_requests"]

#: Hex digits of a process token (48 random bits: distinct processes never collide
#: in practice; the token is not a secret, the key's random part is).
TOKEN_HEX = 12
#: Regular expression of the ``-<token>`` suffix of a tagged key.
KEY_TAG_PATTERN = f"-[0-9a-f]{{{TOKEN_HEX}}}"

_serving = False


def mark_serving() -> None:
    """Record that this process handles requests (it is a serving process).

    Called by the adapters on every request; cheap. A child forked inside a
    request (a Dash background job) inherits the request, not this mark.
    """
    global _serving
    _serving = True


def serves_requests() -> bool:
    """Whether this process has handled a request since it started (or forked)."""
    return _serving


def _after_fork_in_child() -> None:
    global _serving
    _serving = False


os.register_at_fork(after_in_child=_after_fork_in_child)
