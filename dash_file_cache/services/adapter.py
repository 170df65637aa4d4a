"""The contract every server adapter (Flask, Starlette/FastAPI, Quart) implements.

An adapter is the thin edge between a framework and the service: it routes
the service's path on a server, turns the framework's request into a neutral
:class:`~.http.Request`, and sends the :class:`~.content.Answer` that
:meth:`ServiceData.answer` gives back, the framework's way. Everything else
(the decisions, the body of a ``HEAD``, CORS) is decided before it, the same
for every framework. :mod:`.binding` picks the adapter of a server from a table.
A service taking uploads also gets its tus endpoint routed
(:meth:`Adapter.bind_uploads`), whose body the adapter streams, never buffers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from . import http

if TYPE_CHECKING:  # pragma: no cover
    from .content import Answer
    from .data import ServiceData

__all__ = ["Adapter", "add_view", "load_adapter", "view_is_free"]

ServerT = TypeVar("ServerT", contravariant=True)
NativeT = TypeVar("NativeT", contravariant=True)
ResponseT = TypeVar("ResponseT", covariant=True)


class Adapter(Protocol[ServerT, NativeT, ResponseT]):
    """What the service needs of a framework.

    ``ServerT`` is the framework's app, ``NativeT`` what a request is to it (a
    WSGI environ, an ASGI call, a Quart request) and ``ResponseT`` what its
    views give back (a response object, or an awaitable that sends one).
    """

    def is_free(self, server: ServerT, rule: str, endpoint: str) -> bool:
        """Whether ``rule`` and ``endpoint`` can be routed on ``server``."""

    def bind(self, service: ServiceData, server: ServerT, rule: str, endpoint: str) -> None:
        """Route ``rule`` (every method) to ``service.answer`` on ``server``.

        Every request the server handles from then on must call
        :func:`dash_file_cache._runtime.mark_serving` (the serving-process rule).
        """

    def bind_uploads(self, service: ServiceData, server: ServerT, rule: str, endpoint: str) -> None:
        """Route ``rule`` and ``rule/<segment>`` (every method) to ``service.answer_upload``.

        The request body is streamed: passed as a source read in bounded
        blocks (WSGI input; on ASGI, blocks pulled from ``receive`` into the
        worker thread that runs ``answer_upload``), never read whole first.
        """

    def to_request(self, native: NativeT) -> http.Request:
        """The neutral request of a native one."""

    def respond(self, answer: Answer, native: NativeT, chunk: int) -> ResponseT:
        """Send ``answer`` (body in ``chunk``-byte pieces) and close it when done."""


def load_adapter(module: str) -> Adapter[Any, Any, Any]:
    """The ``ADAPTER`` of an adapter module of this package (``"._flask"``...).

    Imported on first use, so a framework is imported only for an app of it.
    """
    adapter: Adapter[Any, Any, Any] = importlib.import_module(module, __package__).ADAPTER
    return adapter


# -- frameworks routed by werkzeug rules (Flask, Quart) -----------------------
def view_is_free(server: Any, endpoint: str) -> bool:
    """Whether ``endpoint`` is not yet taken on a Flask or Quart app."""
    return endpoint not in server.view_functions


def add_view(server: Any, rule: str, endpoint: str, view: Callable[..., Any]) -> None:
    """Route every method of ``rule`` to ``view`` on a Flask or Quart app."""
    server.add_url_rule(
        rule,
        endpoint=endpoint,
        view_func=view,
        methods=http.ROUTED_METHODS,
        provide_automatic_options=False,  # the core answers OPTIONS, alike everywhere
    )
    # Every method token reaches the core (its JSON 405, with the security headers),
    # not the framework's HTML 405: a werkzeug rule without methods matches any.
    for url_rule in server.url_map.iter_rules(endpoint):
        url_rule.methods = None
