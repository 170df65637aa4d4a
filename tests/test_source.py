"""``services/source.py``: what ``register`` accepts, made into cache content, a name, a type."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dash_file_cache.services.source import (
    make_content_type,
    make_file_name,
    sanitize_file_name,
    to_cached_data,
)

UID = "abcdefghijklmnopqrstuvwxyz012345"


# -- to_cached_data ------------------------------------------------------------------


def test_path_becomes_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.bin").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    assert to_cached_data("f.bin") == str(tmp_path / "f.bin")
    assert to_cached_data(Path("f.bin")) == str(tmp_path / "f.bin")


@pytest.mark.parametrize("name", ["missing.bin", "."])
def test_path_that_is_no_regular_file_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(FileNotFoundError, match="no such regular file"):
        to_cached_data(tmp_path / name)


def test_bytes_io_is_copied_whole_whatever_its_position() -> None:
    source = io.BytesIO(b"0123456789")
    source.seek(6)
    data = to_cached_data(source)
    source.write(b"XX")  # later writes to the caller's buffer do not change the item
    assert isinstance(data, io.BytesIO) and data.read() == b"0123456789"


@pytest.mark.parametrize("value", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_bytes_like_become_a_stream(value: object) -> None:
    data = to_cached_data(value)
    assert isinstance(data, io.BytesIO) and data.read() == b"abc"


def test_text_is_encoded_as_utf8() -> None:
    text = io.StringIO("héllo")
    text.seek(3)
    data = to_cached_data(text)
    assert isinstance(data, io.BytesIO) and data.read() == "héllo".encode()


def test_text_file_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("ünï", encoding="utf-8")
    with open(path, encoding="utf-8") as handle:
        handle.read(1)
        data = to_cached_data(handle)
    assert isinstance(data, io.BytesIO) and data.read() == "ünï".encode()


def test_binary_file_object_is_kept_and_rewound(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdef")
    with open(path, "rb") as handle:
        handle.read(4)
        data = to_cached_data(handle)
        assert data is handle and handle.read() == b"abcdef"


def test_unseekable_reader_is_kept_as_it_is() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
        writer.write(b"abc")
        writer.close()
        assert to_cached_data(reader) is reader
        assert reader.read() == b"abc"


@pytest.mark.parametrize("value", [None, 3, ["a"], object()])
def test_unsupported_source_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="fobj must be a path"):
        to_cached_data(value)


# -- file names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.csv", "report.csv"),
        ("  a/b\\c\r\nd  ", "a_b_c__d"),
        ("..", ""),
        (".", ""),
        ("", ""),
        ("x" * 300 + ".csv", "x" * 251 + ".csv"),
        ("x" * 300 + "." + "e" * 20, "x" * 255),  # an extension too long to keep
        ("bad\udcffname.txt", "bad_name.txt"),  # a lone surrogate (os.fsdecode)
        ("tab\there\x85.txt", "tab_here_.txt"),  # C0 and C1 controls
    ],
)
def test_sanitize_file_name(given: str, expected: str) -> None:
    assert sanitize_file_name(given) == expected


def test_sanitize_file_name_refuses_bytes() -> None:
    with pytest.raises(TypeError, match="file_name"):
        sanitize_file_name(b"x")  # type: ignore[arg-type]


def test_make_file_name_defaults_after_sanitising() -> None:
    assert make_file_name("", "/tmp/dir/plot.png", UID, "image/png") == "plot.png"
    assert make_file_name("..", "/tmp/dir/plot.png", UID, "image/png") == "file-abcdefghijkl.png"
    assert make_file_name("", None, UID, "text/csv; charset=utf-8") == "file-abcdefghijkl.csv"
    assert make_file_name("", None, UID, "application/x-unknown") == "file-abcdefghijkl"
    assert make_file_name("my file.txt", "/tmp/other.bin", UID, "text/plain") == "my file.txt"
    assert make_file_name("", Path("/tmp/dir/data.csv"), UID, "text/csv") == "data.csv"
    with pytest.raises(TypeError, match="file_name"):
        make_file_name(None, None, UID, "text/plain")  # type: ignore[arg-type]


# -- content types -----------------------------------------------------------------------


def test_content_type_wins_over_mime_type() -> None:
    assert make_content_type(" image/png ", "application/octet-stream", False) == "image/png"
    assert make_content_type("", " text/csv ", False) == "text/csv"


def test_text_we_encoded_gets_a_charset() -> None:
    assert make_content_type("", "text/plain", True) == "text/plain; charset=utf-8"
    assert make_content_type("text/csv; Charset=latin-1", "", True) == "text/csv; Charset=latin-1"
    assert make_content_type("", "application/json", True) == "application/json"
    assert make_content_type("", "text/plain", False) == "text/plain"


@pytest.mark.parametrize(
    ("content_type", "mime_type", "exc", "match"),
    [
        ("", "", ValueError, "must not be empty"),
        ("  ", " ", ValueError, "must not be empty"),
        ("text/plain\r\nX-Evil: 1", "", ValueError, "content_type must not contain control"),
        ("", "text/plain\x00", ValueError, "mime_type must not contain control"),
        ("text/plain; name=\u20ac", "", ValueError, "latin-1"),
        (b"text/plain", "", TypeError, "content_type must be a str"),
        ("", None, TypeError, "mime_type must be a str"),
    ],
)
def test_bad_content_type_is_refused(
    content_type: object, mime_type: object, exc: type, match: str
) -> None:
    with pytest.raises(exc, match=match):
        make_content_type(content_type, mime_type, False)  # type: ignore[arg-type]
