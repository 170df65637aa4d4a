"""Flask (WSGI) adapter: a WSGI environ in, a ``flask.Response`` out.

The decisions are :mod:`.http`'s. What is WSGI-specific is the body: a body
that runs to the end of a real file goes through the server's
``wsgi.file_wrapper`` (zero-copy ``sendfile`` under gunicorn; PEP 3333 has the
wrapper start at the current position, so a seek is enough), and a range
body seeks before reading, so its cost does not depend on the offset
(``flask.send_file`` reads and discards every byte before it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional

import flask
from werkzeug.datastructures import EnvironHeaders, Headers

from . import http
from .content import Answer, FileChunks

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["bind", "is_free", "to_request", "to_response"]

WSGIEnvironment = Dict[str, Any]


def current_environ() -> Optional[WSGIEnvironment]:
    """The WSGI environ of the current Flask request, or None outside any request."""
    return flask.request.environ if flask.has_request_context() else None


def to_request(environ: WSGIEnvironment) -> http.Request:
    """The neutral request of a WSGI environ."""
    return http.Request(
        str(environ.get("REQUEST_METHOD", "GET")).upper(),
        Headers(EnvironHeaders(environ)),
        str(environ.get("QUERY_STRING", "")).encode("latin-1"),
    )


def _body(answer: Answer, environ: Optional[WSGIEnvironment], chunk: int) -> Iterable[bytes]:
    decision, content = answer.decision, answer.content
    if content is None:
        return [decision.body]
    wrapper = (environ or {}).get("wsgi.file_wrapper")
    if wrapper is not None and answer.whole_file():
        content.stream.seek(decision.start)
        return wrapper(content.stream, chunk)  # type: ignore[no-any-return]
    return FileChunks(content.stream, decision.start, decision.length, chunk)


def to_response(answer: Answer, environ: Optional[WSGIEnvironment], chunk: int) -> flask.Response:
    """The ``flask.Response`` sending ``answer`` (its content closes with the body)."""
    decision = answer.decision
    response = flask.Response(
        _body(answer, environ, chunk),
        status=decision.status,
        headers=decision.headers,
        direct_passthrough=True,
    )
    if not any(name == "Content-Type" for name, _ in decision.headers):
        del response.headers["Content-Type"]  # werkzeug adds a default type
    return response


def is_free(server: flask.Flask, rule: str, endpoint: str) -> bool:
    """Whether ``endpoint`` is not yet taken on ``server``."""
    return endpoint not in server.view_functions


def bind(service: ServiceData, server: flask.Flask, rule: str, endpoint: str) -> None:
    """Add the view answering ``rule`` to a Flask app."""

    def view() -> flask.Response:
        environ = flask.request.environ
        answer = service.answer(to_request(environ))
        return to_response(answer, environ, service.chunk_size << 20)

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
