"""``services/content.py``: opening a cache's content, answers ready to send, file chunks."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dash_file_cache.services.content import Answer, Content, FileChunks, open_content
from dash_file_cache.services.http import Decision


def test_path_item_is_file_backed(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdef")
    os.utime(path, (2_000_000, 2_000_000))
    content = open_content(str(path), created=5.0)
    with content.stream:
        assert (content.is_file, content.size, content.mtime) == (True, 6, 2_000_000)
        assert content.path == str(path)
        assert content.stream.read() == b"abcdef"


@pytest.mark.parametrize("make", ["missing", "directory", "below_a_file"])
def test_unreadable_path_is_a_gone_item(tmp_path: Path, make: str) -> None:
    paths = {
        "missing": tmp_path / "nope.bin",
        "directory": tmp_path,
        "below_a_file": tmp_path / "f.bin" / "x",
    }
    (tmp_path / "f.bin").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="gone"):
        open_content(str(paths[make]), created=0.0)


def test_path_to_a_non_regular_file_is_refused_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    real_open = open

    def tracking_open(*args: object, **kwargs: object) -> object:
        opened.append(real_open(*args, **kwargs))  # type: ignore[call-overload]
        return opened[-1]

    monkeypatch.setattr("builtins.open", tracking_open)
    with pytest.raises(FileNotFoundError, match="not a regular file"):
        open_content(os.devnull, created=0.0)
    assert len(opened) == 1 and opened[0].closed


def test_real_file_object_is_file_backed(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    os.utime(path, (1_000_000, 1_000_000))
    with open(path, "rb") as handle:
        content = open_content(handle, created=5.0)
        assert (content.is_file, content.size, content.mtime) == (True, 3, 1_000_000)
        assert content.path is None
    memory = open_content(io.BytesIO(b"abcd"), created=5.0)
    assert (memory.is_file, memory.size, memory.mtime) == (False, 4, 5.0)


def test_in_memory_stream_is_rewound_after_its_size_is_taken() -> None:
    stream = io.BytesIO(b"0123456789")
    stream.seek(7)
    content = open_content(stream, created=1.0)
    assert content.size == 10 and content.stream.read() == b"0123456789"


def test_open_content_closes_the_stream_when_it_fails() -> None:
    class Broken(io.BytesIO):
        def seek(self, offset: int, whence: int = 0) -> int:
            raise OSError(5, "I/O error")

    stream = Broken(b"abc")
    with pytest.raises(OSError):
        open_content(stream, created=0.0)
    assert stream.closed


def _answer(stream: io.BytesIO, size: int, is_file: bool, **decision: object) -> Answer:
    return Answer(
        Decision(200, [], **decision),  # type: ignore[arg-type]
        Content(stream, size, 0.0, is_file),
    )


def test_whole_file_only_for_a_file_sent_to_its_end() -> None:
    assert _answer(io.BytesIO(), 10, True, length=10, send_content=True).whole_file()
    assert _answer(io.BytesIO(), 10, True, start=4, length=6, send_content=True).whole_file()
    assert not _answer(io.BytesIO(), 10, True, length=9, send_content=True).whole_file()
    assert not _answer(io.BytesIO(), 10, False, length=10, send_content=True).whole_file()
    assert not _answer(io.BytesIO(), 10, True, length=10, send_content=False).whole_file()
    assert not Answer(Decision(404, [])).whole_file()


def test_answer_status_and_close() -> None:
    stream = io.BytesIO(b"x")
    answer = _answer(stream, 1, False, length=1, send_content=True)
    assert answer.status == 200
    answer.close()
    assert stream.closed
    Answer(Decision(304, [])).close()  # nothing open: nothing to close


def test_file_chunks_send_the_span_in_pieces() -> None:
    stream = io.BytesIO(bytes(range(100)))
    chunks = list(FileChunks(stream, 10, 25, 10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert b"".join(chunks) == bytes(range(10, 35))


def test_file_chunks_end_short_when_the_file_shrank() -> None:
    chunks = FileChunks(io.BytesIO(b"abcdef"), 2, 100, 3)
    assert b"".join(chunks) == b"cdef"


def test_file_chunks_close_closes_the_stream() -> None:
    stream = io.BytesIO(b"abc")
    chunks = FileChunks(stream, 0, 3, 1)
    chunks.close()
    assert stream.closed
