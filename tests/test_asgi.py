"""``services/_asgi.py``: the upload body as the endpoint's worker thread reads it.

An event loop runs in a thread of its own, as under a real ASGI server, and the
test thread plays the endpoint's worker thread. ``receive`` is scripted: body
messages (with delays), a disconnect, or silence. The live ASGI tests
(``test_uploads_tuspy``, ``test_uploads_resume``) run the same code behind uvicorn.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from dash_file_cache.services import _asgi
from dash_file_cache.services._asgi import ReceivedBody

#: A scripted message: ``(seconds to wait first, message)``; ``None``: never answer.
Step = Tuple[float, Optional[Dict[str, Any]]]


def body(data: bytes, more: bool = True, wait: float = 0.0) -> Step:
    return wait, {"type": "http.request", "body": data, "more_body": more}


DISCONNECT: Step = (0.0, {"type": "http.disconnect"})
SILENCE: Step = (0.0, None)


class Script:
    """``receive`` answering the steps in order, counting the calls (on the loop)."""

    def __init__(self, steps: List[Step]) -> None:
        self.steps = list(steps)
        self.calls = 0
        self.cancelled = 0

    async def receive(self) -> Dict[str, Any]:
        self.calls += 1
        wait, message = self.steps.pop(0)
        try:
            if message is None:
                await asyncio.Event().wait()  # silent until cancelled
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        assert message is not None
        return message


@pytest.fixture(autouse=True)
def blocks_of_the_size_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of the size each read asks (``GATHER_BYTES`` is tested on its own below)."""
    monkeypatch.setattr(_asgi, "GATHER_BYTES", 1)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def reader(script: Script, loop: asyncio.AbstractEventLoop) -> ReceivedBody:
    return ReceivedBody(script.receive, loop)


def read_all(source: ReceivedBody, size: int) -> List[bytes]:
    blocks: List[bytes] = []
    while True:
        block = source.read(size)
        if not block:
            return blocks
        blocks.append(bytes(block))  # a view into a reused buffer: valid until the next read


def test_messages_are_gathered_into_blocks_of_the_size_read(loop: Any) -> None:
    script = Script([body(bytes([i]) * 1000) for i in range(9)] + [body(b"", more=False)])
    blocks = read_all(reader(script, loop), 4000)
    assert [len(b) for b in blocks] == [4000, 4000, 1000]
    assert b"".join(blocks) == b"".join(bytes([i]) * 1000 for i in range(9))


def test_no_block_is_larger_than_asked_even_when_read_sizes_change(loop: Any) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes in 10 messages
    steps = [body(data[i : i + 1024]) for i in range(0, len(data), 1024)]
    source = reader(Script([*steps, body(b"", more=False)]), loop)
    asked = [3000, 1, 500, 3000]
    got = [bytes(source.read(size)) for size in asked]
    assert [len(b) for b in got[:3]] == asked[:3]
    assert 0 < len(got[3]) <= 3000  # what the block read ahead had left: a short read
    got += read_all(source, 7)
    assert all(len(b) <= 7 for b in got[4:])
    assert b"".join(got) == data


def test_smaller_reads_are_served_from_a_block_of_gather_bytes(
    loop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of ``GATHER_BYTES`` at least: fewer hand-overs; each read is a view of one."""
    monkeypatch.setattr(_asgi, "GATHER_BYTES", 4000)
    script = Script([body(bytes([i]) * 1000) for i in range(9)] + [body(b"", more=False)])
    source = reader(script, loop)
    first = source.read(1000)
    assert isinstance(first, memoryview) and first == b"\x00" * 1000
    deadline = time.monotonic() + 5
    while script.calls < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert script.calls == 8  # the first block of 4,000 and the next, read ahead
    got = [b"\x00" * 1000, *read_all(source, 1000)]
    assert [len(b) for b in got] == [1000] * 9
    assert b"".join(got) == b"".join(bytes([i]) * 1000 for i in range(9))


def test_buffers_are_reused_unless_a_gathering_is_cancelled(loop: Any) -> None:
    """``close`` gives the two buffers back to the pool and the next body takes them again;
    not while a gathering is cancelled mid-way (it may still write into one)."""
    _asgi._pool.clear()
    source = reader(Script([body(b"a" * 10), body(b"b" * 10, more=False)]), loop)
    assert read_all(source, 10) == [b"a" * 10, b"b" * 10]
    used = [id(b) for b in source._buffers]
    source.close()
    assert sorted(id(b) for b in _asgi._pool) == sorted(used)
    stalled = reader(Script([body(b"c" * 10), SILENCE]), loop)
    assert stalled.read(10) == b"c" * 10  # the next block is being gathered: it stalls
    assert sorted(id(b) for b in stalled._buffers) == sorted(used)
    stalled.close()
    assert _asgi._pool == []  # the stalled gathering's buffers are dropped
    _asgi._pool.clear()


def test_the_next_block_is_read_while_the_thread_stores_this_one(loop: Any) -> None:
    script = Script([body(b"a" * 100), body(b"b" * 100), body(b"c" * 100, more=False)])
    source = reader(script, loop)
    assert source.read(100) == b"a" * 100
    deadline = time.monotonic() + 5
    while script.calls < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert script.calls == 2  # one block ahead, not more
    time.sleep(0.1)
    assert script.calls == 2
    assert read_all(source, 100) == [b"b" * 100, b"c" * 100]
    assert script.calls == 3 and not script.steps


def test_a_slow_body_is_handed_over_as_it_comes(loop: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(_asgi, "GATHER_SECONDS", 0.05)
    steps = [body(b"x" * 10, wait=0.03) for _ in range(6)] + [body(b"", more=False)]
    source = reader(Script(steps), loop)
    first = bytes(source.read(1 << 20))
    assert 0 < len(first) < 60  # not held until a whole block (or the end) arrived
    assert first + b"".join(read_all(source, 1 << 20)) == b"x" * 60


def test_bytes_before_a_disconnect_are_read_then_it_raises(loop: Any) -> None:
    source = reader(Script([body(b"k" * 700), body(b"e" * 300), DISCONNECT]), loop)
    assert source.read(4096) == b"k" * 700 + b"e" * 300
    with pytest.raises(ConnectionError):
        source.read(4096)
    assert source.read(4096) == b""


def test_a_disconnect_first_raises_at_once(loop: Any) -> None:
    source = reader(Script([DISCONNECT]), loop)
    with pytest.raises(ConnectionError):
        source.read(10)


def test_a_silent_client_times_out_and_frees_the_thread(loop: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(_asgi, "BODY_TIMEOUT", 0.3)
    script = Script([body(b"1234"), SILENCE])
    source = reader(script, loop)
    assert source.read(4) == b"1234"
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        source.read(4)
    assert time.monotonic() - started < 3
    deadline = time.monotonic() + 5
    while not script.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert script.cancelled == 1  # the pending receive was given up
    assert source.read(4) == b""
    _asgi._pool.clear()
    source.close()
    assert _asgi._pool == []  # the timed-out gathering's buffers are not reused


def test_a_slow_but_moving_body_does_not_time_out(loop: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(_asgi, "BODY_TIMEOUT", 0.25)
    monkeypatch.setattr(_asgi, "GATHER_SECONDS", 10.0)  # one read waits for all of them
    steps = [body(b"s", wait=0.1) for _ in range(8)] + [body(b"", more=False)]
    assert b"".join(read_all(reader(Script(steps), loop), 1 << 20)) == b"s" * 8


def test_close_gives_up_the_block_read_ahead(loop: Any) -> None:
    script = Script([body(b"first"), SILENCE])
    source = reader(script, loop)
    assert source.read(5) == b"first"
    source.close()
    deadline = time.monotonic() + 5
    while not script.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert script.cancelled == 1


def test_iterating_reads_blocks_to_the_end(loop: Any) -> None:
    steps = [body(b"ab"), body(b"cd"), body(b"e", more=False)]
    assert b"".join(reader(Script(steps), loop)) == b"abcde"


def test_an_empty_body_reads_empty(loop: Any) -> None:
    script = Script([body(b"", more=False)])
    source = reader(script, loop)
    assert source.read(10) == b""
    assert source.read(10) == b""
    assert script.calls == 1
