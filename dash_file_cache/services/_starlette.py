"""Starlette / FastAPI (ASGI) adapter.

The route is a plain ASGI endpoint: the request becomes a neutral
:class:`~.http.Request`, :meth:`ServiceData.answer` runs in Starlette's
thread pool (cache look-ups, claims and opening never block the event loop),
and the decision is sent with Starlette's responses. A body that is a whole
real file goes out with the ``http.response.pathsend`` extension when the
server offers it (zero-copy, e.g. granian); any other body is read in
``chunk_size`` pieces in the thread pool, seeking first, so a range costs
the same at any offset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, NamedTuple, cast

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .._grammar import MB
from .._runtime import mark_serving
from . import http
from ._asgi import UploadApp, body_chunks, cleanup_after_lifespan
from .adapter import Adapter
from .content import Answer

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["ADAPTER", "AsgiCall", "MarkServing", "ServiceEndpoint", "StarletteAdapter"]

_PATHSEND = "http.response.pathsend"


class AsgiCall(NamedTuple):
    """One ASGI HTTP call: what a request is to Starlette."""

    scope: Scope
    receive: Receive
    send: Send


def _can_pathsend(answer: Answer, scope: Scope) -> bool:
    """A whole path item from byte 0, and not a one-time item.

    The server opens the path itself, so only a path item qualifies (cache
    content is open as a stream), and not one whose file the claim may have
    removed (one-time): those stream from the descriptor already open.
    """
    decision = answer.decision
    return (
        _PATHSEND in scope.get("extensions", {})
        and answer.whole_file()
        and answer.content is not None
        and answer.content.path is not None
        and decision.start == 0
        and not decision.claim
    )


async def _send(answer: Answer, call: AsgiCall, chunk: int) -> None:
    """Send ``answer`` on an ASGI connection, then close its content."""
    decision = answer.decision
    scope, receive, send = call
    try:
        if answer.content is None or not decision.send_content:
            response = Response(decision.body, decision.status, dict(decision.headers))
            await response(scope, receive, send)
        elif _can_pathsend(answer, scope):
            path = answer.content.path
            answer.close()
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers]
            await send({"type": "http.response.start", "status": decision.status, "headers": raw})
            await send({"type": _PATHSEND, "path": path})
        else:
            body = body_chunks(answer, chunk, iterate_in_threadpool)
            await StreamingResponse(body, decision.status, dict(decision.headers))(
                scope, receive, send
            )
    finally:
        answer.close()


class MarkServing:
    """ASGI middleware: every HTTP request the app handles marks this process serving;
    the lifespan's end cleans up after the caches (``_asgi.cleanup_after_lifespan``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            mark_serving()
        elif scope["type"] == "lifespan":
            send = cast(Send, cleanup_after_lifespan(cast(Any, send)))
        await self.app(scope, receive, send)


class ServiceEndpoint:
    """The ASGI endpoint of one service (a Starlette route endpoint)."""

    def __init__(self, service: ServiceData) -> None:
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mark_serving()  # also when the middleware came too late (served after start-up)
        call = AsgiCall(scope, receive, send)
        answer = await run_in_threadpool(self._service.answer, ADAPTER.to_request(call))
        await ADAPTER.respond(answer, call, self._service.chunk_size * MB)


class StarletteAdapter:
    """The service on a Starlette or FastAPI app (see :class:`.adapter.Adapter`)."""

    def is_free(self, server: Starlette, rule: str, endpoint: str) -> bool:
        """Whether no route of ``server`` has this name."""
        return all(getattr(route, "name", None) != endpoint for route in server.router.routes)

    def bind(self, service: ServiceData, server: Starlette, rule: str, endpoint: str) -> None:
        """Put the service's route first, so that a catch-all route (Dash adds one
        when the app starts) cannot shadow it even if ``serve`` runs after start-up."""
        route = Route(rule, ServiceEndpoint(service), name=endpoint, methods=None)
        server.router.routes.insert(0, route)
        # Every request marks the process serving (a Dash callback's too), not only
        # the service's; middleware can only be added before the app starts.
        started = server.middleware_stack is not None
        if not started and all(m.cls is not MarkServing for m in server.user_middleware):
            server.add_middleware(MarkServing)

    def bind_uploads(
        self, service: ServiceData, server: Starlette, rule: str, endpoint: str
    ) -> None:
        """Route the upload endpoint first (see :meth:`bind`); it reads ``receive`` itself."""
        app = UploadApp(service, rule)
        routes = server.router.routes
        routes.insert(0, Route(rule + "/{segment:path}", app, name=endpoint + "_upload"))
        routes.insert(0, Route(rule, app, name=endpoint, methods=None))

    def to_request(self, native: AsgiCall) -> http.Request:
        scope = native.scope
        return http.Request.from_pairs(
            scope["method"],
            ((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            scope.get("query_string", b""),
        )

    def respond(self, answer: Answer, native: AsgiCall, chunk: int) -> Awaitable[None]:
        return _send(answer, native, chunk)


ADAPTER: Adapter[Starlette, AsgiCall, Awaitable[None]] = StarletteAdapter()
