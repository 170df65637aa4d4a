"""What the ASGI adapters (Starlette/FastAPI, Quart) share: answer bodies, the upload endpoint.

Imports no framework: each adapter passes its own way of iterating in a
worker thread (Starlette's thread pool, Quart's executor).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import time
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
    Union,
)

from .._runtime import mark_serving
from ..caches._lifecycle import run_cleanups, sigterm_seen, watch_sigterm
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
    "cleanup_after_lifespan",
    "lifespan_ended",
    "lifespan_starts",
    "send_decision",
]

# Typed ASGI callables without importing a framework.
Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]

#: Runs a blocking iterator in a worker thread, as an async iterator.
IterateInThread = Callable[[Iterator[bytes]], AsyncIterator[bytes]]
#: A gathered block: its bytes, whether more may follow, the error that ended the body.
_Gathered = Tuple[memoryview, bool, Optional[BaseException]]


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
#: Seconds a worker thread waits for the body to make progress (any bytes arriving).
BODY_TIMEOUT = 60.0
#: Seconds after which a block is handed over, however little arrived, when the next message comes.
GATHER_SECONDS = 0.2
#: Bytes gathered per block at least (reads of less are served from it, without a copy).
GATHER_BYTES = 4 << 20


#: Gathering buffers kept for the next request (per process): reused memory is already
#: mapped, while a fresh block of a MB or more costs page faults, each time, on every byte.
_POOL_SIZE = 2
_pool: List[bytearray] = []
_pool_lock = threading.Lock()


def _take_buffer(size: int) -> bytearray:
    with _pool_lock:
        for index, buffer in enumerate(_pool):
            if len(buffer) >= size:
                return _pool.pop(index)
    return bytearray(size)


def _give_buffer(buffer: bytearray) -> None:
    with _pool_lock:
        if len(_pool) < _POOL_SIZE:
            _pool.append(buffer)


class ReceivedBody:
    """A request body as a file to ``read(size)`` from a worker thread.

    The event loop gathers ``receive`` messages (servers hand over 64 KiB or
    less each) into blocks of the size asked, and reads one block ahead while
    the thread stores the last: one hop between the loop and the thread per
    block, not per message, and reading overlaps writing. At most two blocks
    are held, so a slow store slows the client down (back-pressure) and
    memory stays bounded. A block is handed over early, with what arrived,
    when the body ends or when a message comes :data:`GATHER_SECONDS` or
    more after the block began (a slow client's bytes are stored as they
    come). A client that stalls mid-block has what arrived stored when it
    sends more or goes away; until then ``HEAD`` counts without it.

    Blocks are gathered into two buffers in turn, reused from request to
    request (a small per-process pool): what ``read`` returns is a
    ``memoryview``, valid until the next ``read`` (or ``close``); a caller that
    keeps bytes across reads copies them.

    A client gone: the bytes that arrived are read first, then ``read``
    raises ``ConnectionError``. No bytes for :data:`BODY_TIMEOUT` seconds:
    ``TimeoutError`` (the store keeps what arrived, the thread is freed).
    Not for several threads at once.
    """

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._loop = loop
        self._ended = False  # the loop's view: no more messages to ask for
        self._carry = b""  # the loop's view: bytes received past the last block
        self._last = time.monotonic()  # when a message last arrived
        self._ahead: Optional[concurrent.futures.Future[_Gathered]] = None
        self._error: Optional[BaseException] = None
        self._rest = memoryview(b"")  # the thread's view: a block's bytes past the size asked
        self._finished = False
        self._buffers: List[bytearray] = []  # the two gathering buffers, taken at the first read
        self._turn = 0  # which buffer the next block is gathered into

    async def _gather(self, size: int, buffer: bytearray) -> _Gathered:
        """Up to ``size`` bytes into ``buffer`` (on the loop): ``(view, more, error)``."""
        into = memoryview(buffer)
        got = len(self._carry)
        into[:got] = self._carry
        self._carry = b""
        started = time.monotonic()
        while got < size and not self._ended:
            message = await self._receive()
            self._last = time.monotonic()
            if message["type"] == "http.disconnect":
                self._ended = True
                return into[:got], False, ConnectionError("The client went away mid-body.")
            body = memoryview(message.get("body", b""))
            if body:
                take = min(len(body), size - got)
                into[got : got + take] = body[:take]
                if take < len(body):
                    self._carry = body[take:].tobytes()
                got += take
            if not message.get("more_body", False):
                self._ended = True
            elif got and self._last - started >= GATHER_SECONDS:
                break
        return into[:got], not self._ended or bool(self._carry), None

    def _next(self, size: int) -> concurrent.futures.Future[_Gathered]:
        """Start gathering the next block, into the buffer not handed over last."""
        size = max(size, GATHER_BYTES)
        if not self._buffers:
            self._buffers = [_take_buffer(size), _take_buffer(size)]
        buffer = self._buffers[self._turn]
        if len(buffer) < size:  # a larger read than the first: a larger buffer
            buffer = self._buffers[self._turn] = bytearray(size)
        self._turn ^= 1
        return asyncio.run_coroutine_threadsafe(self._gather(size, buffer), self._loop)

    def _wait(self, future: concurrent.futures.Future[_Gathered]) -> _Gathered:
        """``future``'s result, waiting while the body makes progress."""
        begun = time.monotonic()
        while True:
            try:
                return future.result(min(1.0, BODY_TIMEOUT))
            except concurrent.futures.TimeoutError:
                if time.monotonic() - max(begun, self._last) >= BODY_TIMEOUT:
                    future.cancel()
                    self._buffers = []  # the gathering may still write into one: none reused
                    self._finished, self._error = True, None
                    raise TimeoutError(f"No body bytes for {BODY_TIMEOUT} s.") from None

    def read(self, size: int = -1) -> Union[bytes, memoryview]:
        """Up to ``size`` bytes (``b""`` at the end); fewer when the body is slow.

        A ``memoryview`` into a reused buffer: valid until the next call.

        Raises:
            ConnectionError: the client went away (after its bytes were read).
            TimeoutError: no bytes for :data:`BODY_TIMEOUT` seconds.
        """
        size = size if size > 0 else 1 << 20
        if self._rest:
            data, self._rest = self._rest[:size], self._rest[size:]
            return data
        failure = self._error
        if failure is not None:
            self._error = None
            raise failure
        if self._finished:
            return b""
        future = self._ahead or self._next(size)
        self._ahead = None
        data, more, error = self._wait(future)
        if error is not None:
            self._finished = True
            if not data:
                raise error
            self._error = error
        elif more:  # read the next block while this one is stored
            self._ahead = self._next(size)
        else:
            self._finished = True
        data, self._rest = data[:size], data[size:]  # a block read ahead may be larger
        return data

    def __iter__(self) -> Iterator[bytes]:
        """Blocks as ``bytes`` (copies: an iterator's items may be kept)."""
        return (bytes(block) for block in iter(self.read, b""))

    def close(self) -> None:
        """Stop reading ahead (the endpoint is done with the body); give the buffers back.

        Not while a gathering is cancelled mid-way: it may still write into one.
        """
        ahead, self._ahead = self._ahead, None
        buffers, self._buffers = self._buffers, []
        self._rest = memoryview(b"")
        if ahead is not None and not ahead.done():
            ahead.cancel()
            return
        for buffer in buffers:
            _give_buffer(buffer)


async def send_decision(decision: Decision, send: Send) -> None:
    """Send a body-less or small-bodied decision (its headers exactly as decided)."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers]
    await send({"type": "http.response.start", "status": decision.status, "headers": headers})
    await send({"type": "http.response.body", "body": decision.body})


def lifespan_starts() -> None:
    """From a lifespan's start, note SIGTERM even under the server's own handler."""
    watch_sigterm()


def lifespan_ended() -> None:
    """After a lifespan's end: if SIGTERM ended it, run this process's cleanups now.

    uvicorn's command line holds SIGTERM while it loads the app; on SIGTERM it
    stops gracefully, then restores the default disposition and raises the
    signal again, so the process dies without ``atexit``: the caches'
    temporary folders and Manager processes would outlive it. A lifespan
    that ends for another reason (a test harness, a notebook) leaves a
    process that goes on with its caches: nothing is done then.
    """
    if sigterm_seen():
        run_cleanups()


def cleanup_after_lifespan(send: Send) -> Send:
    """``send`` for a lifespan scope: :func:`lifespan_starts` now, :func:`lifespan_ended`
    once shutdown is complete."""
    lifespan_starts()

    async def send_then_clean(message: Dict[str, Any]) -> None:
        await send(message)
        if message.get("type") == "lifespan.shutdown.complete":
            lifespan_ended()

    return send_then_clean


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
        try:
            answer = await loop.run_in_executor(
                None, functools.partial(self.service.answer_upload, request, segment, body)
            )
        finally:
            body.close()
        await send_decision(answer.decision, send)
