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
from werkzeug.wsgi import get_input_stream

from .._grammar import MB
from .._runtime import mark_serving
from . import http
from .adapter import Adapter, add_view, view_is_free
from .content import Answer, FileChunks

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = ["ADAPTER", "FlaskAdapter", "current_environ"]

WSGIEnvironment = Dict[str, Any]


def current_environ() -> Optional[WSGIEnvironment]:
    """The WSGI environ of the current Flask request, or None outside any request."""
    return flask.request.environ if flask.has_request_context() else None


def _on_request_started(sender: Any, **extra: Any) -> None:
    mark_serving()


def _body(answer: Answer, environ: WSGIEnvironment, chunk: int) -> Iterable[bytes]:
    decision, content = answer.decision, answer.content
    if content is None:
        return [decision.body]
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None and answer.whole_file():
        content.stream.seek(decision.start)
        return wrapper(content.stream, chunk)  # type: ignore[no-any-return]
    return FileChunks(content.stream, decision.start, decision.length, chunk)


class FlaskAdapter:
    """The service on a ``flask.Flask`` app (see :class:`.adapter.Adapter`)."""

    def is_free(self, server: flask.Flask, rule: str, endpoint: str) -> bool:
        return view_is_free(server, endpoint)

    def bind(self, service: ServiceData, server: flask.Flask, rule: str, endpoint: str) -> None:
        def view() -> flask.Response:
            environ = flask.request.environ
            answer = service.answer(self.to_request(environ))
            return self.respond(answer, environ, service.chunk_size * MB)

        add_view(server, rule, endpoint, view)
        # Flask sends it in the process that dispatches a request, for every
        # request of every Flask app (a Dash callback's too); connecting twice is one.
        flask.request_started.connect(_on_request_started, weak=False)

    def bind_uploads(
        self, service: ServiceData, server: flask.Flask, rule: str, endpoint: str
    ) -> None:
        def view(segment: Optional[str] = None) -> flask.Response:
            environ = flask.request.environ
            # Bounded by Content-Length (or the server's end of a chunked body; else empty),
            # read by the store in blocks; never Flask's whole-body parsing.
            body = get_input_stream(environ)
            answer = service.answer_upload(self.to_request(environ), segment, body)
            return self.respond(answer, environ, service.chunk_size * MB)

        add_view(server, rule, endpoint, view)
        add_view(server, rule + "/<path:segment>", endpoint, view)

    def to_request(self, native: WSGIEnvironment) -> http.Request:
        return http.Request(
            str(native.get("REQUEST_METHOD", "GET")).upper(),
            Headers(EnvironHeaders(native)),
            str(native.get("QUERY_STRING", "")).encode("latin-1"),
        )

    def respond(self, answer: Answer, native: WSGIEnvironment, chunk: int) -> flask.Response:
        """The ``flask.Response`` sending ``answer`` (its content closes with the body)."""
        decision = answer.decision
        response = flask.Response(
            _body(answer, native, chunk),
            status=decision.status,
            headers=decision.headers,
            direct_passthrough=True,
        )
        if not any(name == "Content-Type" for name, _ in decision.headers):
            del response.headers["Content-Type"]  # werkzeug adds a default type
        return response


ADAPTER: Adapter[flask.Flask, WSGIEnvironment, flask.Response] = FlaskAdapter()
