"""Quart (ASGI) adapter.

A Quart view: the request becomes a neutral :class:`~.http.Request`,
:meth:`ServiceData.answer` runs in the executor (never on the event loop),
and the decision becomes a ``quart.Response`` whose body is read in
``chunk_size`` pieces in the executor, seeking first. Quart's response
timeout is lifted for these bodies: a large download to a slow client may
take longer than it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import quart
from quart.utils import run_sync, run_sync_iterable
from werkzeug.datastructures import Headers

from .._grammar import MB
from .._runtime import mark_serving
from . import http
from ._asgi import UploadApp, UploadsFirst, body_chunks, lifespan_ended, lifespan_starts
from .adapter import Adapter, add_view, view_is_free
from .content import Answer

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["ADAPTER", "QuartAdapter"]


async def _on_request_started(sender: Any, **extra: Any) -> None:
    # A coroutine, so Quart calls it on the event loop, not in its executor.
    mark_serving()


async def _before_serving() -> None:
    lifespan_starts()


async def _after_serving() -> None:
    lifespan_ended()


class QuartAdapter:
    """The service on a ``quart.Quart`` app (see :class:`.adapter.Adapter`)."""

    def is_free(self, server: quart.Quart, rule: str, endpoint: str) -> bool:
        return view_is_free(server, endpoint)

    def bind(self, service: ServiceData, server: quart.Quart, rule: str, endpoint: str) -> None:
        async def view() -> quart.Response:
            native = quart.request
            answer = await run_sync(service.answer)(self.to_request(native))
            return self.respond(answer, native, service.chunk_size * MB)

        add_view(server, rule, endpoint, view)
        # Sent for every request of every Quart app (a Dash callback's too).
        quart.request_started.connect(_on_request_started, weak=False)
        # Cleanup after a SIGTERM that ends the process without atexit (see there).
        if _after_serving not in server.after_serving_funcs:
            server.before_serving(_before_serving)
            server.after_serving(_after_serving)

    def bind_uploads(
        self, service: ServiceData, server: quart.Quart, rule: str, endpoint: str
    ) -> None:
        """Put the upload endpoint before Quart's routing, as ASGI middleware.

        A Quart view would get a body Quart buffers as fast as it arrives and
        caps at ``MAX_CONTENT_LENGTH``; the endpoint reads ``receive`` itself.
        """
        inner: Any = server.asgi_app
        wrapped: Any = UploadsFirst(inner, UploadApp(service, rule))
        server.asgi_app = wrapped  # type: ignore[method-assign]

    def to_request(self, native: quart.Request) -> http.Request:
        return http.Request(native.method.upper(), native.headers, native.query_string)

    def respond(self, answer: Answer, native: quart.Request, chunk: int) -> quart.Response:
        """The ``quart.Response`` sending ``answer`` (its content closes with the body)."""
        decision = answer.decision
        if answer.content is None or not decision.send_content:
            answer.close()
            response = quart.Response(decision.body, decision.status)
        else:
            response = quart.Response(
                body_chunks(answer, chunk, run_sync_iterable), decision.status
            )
            response.timeout = None
        # Exactly the decided headers: Quart would add a default type to a 304
        # and recount the length of a HEAD's empty body.
        response.headers = Headers(decision.headers)
        return response


ADAPTER: Adapter[quart.Quart, quart.Request, quart.Response] = QuartAdapter()
