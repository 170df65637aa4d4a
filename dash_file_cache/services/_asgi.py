"""What the ASGI adapters (Starlette/FastAPI, Quart) share: answer bodies, the upload endpoint.

Imports no framework: each adapter passes its own way of iterating in a
worker thread (Starlette's thread pool, Quart's executor).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, Optional

from .._runtime import mark_serving
from .content import Answer, FileChunks
from .http import Decision, Request

if TYPE_CHECKING:  # pragma: no cover
    from .data import ServiceData

__all__ = [
    "IterateInThread",
    "ReceivedBody",
    "UploadApp",
    "UploadsFirst",
    "body_chunks",
    "send_decision",
]

# Typed ASGI callables without importing a framework.
Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]

#: Runs a blocking iterator in a worker thread, as an async iterator.
IterateInThread = Callable[[Iterator[bytes]], AsyncIterator[bytes]]


async def body_chunks(answer: Answer, chunk: int, iterate: IterateInThread) -> AsyncIterator[bytes]:
    """The content span of ``answer`` in ``chunk``-byte pieces, read off the event loop.

    Seeks first (a range costs the same at any offset); closes the answer when
    done, also when the client went away.
    """
    assert answer.content is not None
    decision = answer.decision
    pieces = FileChunks(answer.content.stream, decision.start, decision.length, chunk)
    try:
        async for data in iterate(iter(pieces)):
            yield data
    finally:
        answer.close()


# -- the upload endpoint (a plain ASGI app, for Starlette routes and Quart alike) --
#: Seconds a worker thread waits for the next block of an upload's body.
BODY_TIMEOUT = 60.0


class ReceivedBody:
    """A request body as an iterator of blocks, for a worker thread.

    Each ``next`` asks the event loop for one ``receive`` message and waits
    for it: one block at a time is in flight, so a slow store slows the
    client down (back-pressure) and memory stays bounded. A client gone
    raises ``ConnectionError``, one silent for :data:`BODY_TIMEOUT` seconds
    ``TimeoutError`` (the store keeps what arrived, the thread is freed).
    """

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._done = False

    async def _next(self) -> Optional[bytes]:
        if self._done:
            return None
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._done = True
            raise ConnectionError("The client went away mid-body.")
        if not message.get("more_body", False):
            self._done = True
        return bytes(message.get("body", b""))

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        future = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
        try:
            block = future.result(BODY_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self._done = True
            raise TimeoutError(f"No body bytes for {BODY_TIMEOUT} s.") from None
        if block is None:
            raise StopIteration
        return block


async def send_decision(decision: Decision, send: Send) -> None:
    """Send a body-less or small-bodied decision (its headers exactly as decided)."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers]
    await send({"type": "http.response.start", "status": decision.status, "headers": headers})
    await send({"type": "http.response.body", "body": decision.body})


class UploadsFirst:
    """ASGI middleware: HTTP requests under the upload endpoint's path go to it, the rest on.

    For Quart, whose views get the body buffered by the framework (no
    back-pressure, a ``MAX_CONTENT_LENGTH``): the endpoint reads ``receive`` itself.
    """

    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], uploads: UploadApp
    ) -> None:
        self.app = app
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.uploads.matches(scope["path"]):
            await self.uploads(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class UploadApp:
    """The upload endpoint of a service as an ASGI app, under the path ``rule``.

    ``rule`` answers as the creation URL, ``rule/<segment>`` as an upload;
    :meth:`ServiceData.answer_upload` runs in the loop's default executor.
    """

    def __init__(self, service: ServiceData, rule: str) -> None:
        self.service = service
        self.rule = rule

    def matches(self, path: str) -> bool:
        return path == self.rule or path.startswith(self.rule + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mark_serving()
        params = scope.get("path_params")  # a Starlette route's, else match the path here
        if params is not None:
            segment = params.get("segment")
        else:
            path = scope["path"]
            segment = path[len(self.rule) + 1 :] if path != self.rule else None
        request = Request.from_pairs(
            scope["method"],
            ((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            scope.get("query_string", b""),
        )
        loop = asyncio.get_running_loop()
        body = ReceivedBody(receive, loop)
        answer = await loop.run_in_executor(
            None, functools.partial(self.service.answer_upload, request, segment, body)
        )
        await send_decision(answer.decision, send)
