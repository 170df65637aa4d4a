"""What the ASGI adapters (Starlette/FastAPI, Quart) share: the body of an answer.

Imports no framework: each adapter passes its own way of iterating in a
worker thread (Starlette's thread pool, Quart's executor).
"""

from __future__ import annotations

from typing import AsyncIterator, Callable, Iterator

from .content import Answer, FileChunks

__all__ = ["IterateInThread", "body_chunks"]

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
