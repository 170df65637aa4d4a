"""Quart (ASGI) adapter.

A Quart view: the request becomes a neutral :class:`~.http.Request`,
:meth:`ServiceData.answer` runs in the executor (never on the event loop),
and the decision becomes a ``quart.Response`` whose body is read in
``chunk_size`` pieces in the executor, seeking first. Quart's response
timeout is lifted for these bodies: a large download to a slow client may
take longer than it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator

import quart
from quart.utils import run_sync, run_sync_iterable
from werkzeug.datastructures import Headers

from . import http
from .content import Answer, FileChunks

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["bind", "is_free", "to_response"]


def to_request(request: quart.Request) -> http.Request:
    """The neutral request of a Quart request."""
    return http.Request(request.method.upper(), request.headers, request.query_string)


async def _chunks(answer: Answer, chunk: int) -> AsyncIterator[bytes]:
    assert answer.content is not None
    decision = answer.decision
    pieces = FileChunks(answer.content.stream, decision.start, decision.length, chunk)
    try:
        async for data in run_sync_iterable(iter(pieces)):
            yield data
    finally:
        answer.close()


def to_response(answer: Answer, is_head: bool, chunk: int) -> quart.Response:
    """The ``quart.Response`` sending ``answer`` (its content closes with the body)."""
    decision = answer.decision
    if answer.content is None or not decision.send_content:
        answer.close()
        body = b"" if is_head else decision.body
        response = quart.Response(body, decision.status)
    else:
        response = quart.Response(_chunks(answer, chunk), decision.status)
        response.timeout = None
    # Exactly the decided headers: Quart would add a default type to a 304
    # and recount the length of a HEAD's empty body.
    response.headers = Headers(decision.headers)
    return response


def is_free(server: quart.Quart, rule: str, endpoint: str) -> bool:
    """Whether ``endpoint`` is not yet taken on ``server``."""
    return endpoint not in server.view_functions


def bind(service: ServiceData, server: quart.Quart, rule: str, endpoint: str) -> None:
    """Add the view answering ``rule`` to a Quart app."""

    async def view() -> quart.Response:
        request = to_request(quart.request)
        answer = await run_sync(service.answer)(request)
        return to_response(answer, request.is_head, service.chunk_size << 20)

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
