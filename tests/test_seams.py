"""Seams with one source of truth: version, lazy CacheRedis, name sanitising, shared checks."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import dash_file_cache as dfc
from dash_file_cache import _validate
from dash_file_cache.caches.abstract import read_all, read_block
from dash_file_cache.services.source import make_file_name, sanitize_file_name

ROOT = Path(__file__).resolve().parent.parent


def test_package_json_states_the_python_version() -> None:
    """``version.py`` is the source; package.json and its lock must agree with it."""
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert package["version"] == dfc.__version__
    assert lock["version"] == lock["packages"][""]["version"] == dfc.__version__


def test_lazy_cache_redis_one_definition() -> None:
    assert dfc.CacheRedis is dfc.caches.CacheRedis
    with pytest.raises(AttributeError, match="'dash_file_cache' has no attribute 'nope'"):
        dfc.nope  # noqa: B018
    with pytest.raises(AttributeError, match=r"'dash_file_cache\.caches' has no attribute 'nope'"):
        dfc.caches.nope  # noqa: B018


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.csv", "report.csv"),
        ("  a/b\\c\r\nd  ", "a_b_c__d"),
        ("..", ""),
        (".", ""),
        ("", ""),
        ("x" * 300 + ".csv", "x" * 251 + ".csv"),
    ],
)
def test_sanitize_file_name(given: str, expected: str) -> None:
    assert sanitize_file_name(given) == expected


def test_make_file_name_defaults_after_sanitising() -> None:
    uid = "abcdefghijklmnopqrstuvwxyz012345"
    assert make_file_name("", "/tmp/dir/plot.png", uid, "image/png") == "plot.png"
    assert make_file_name("..", "/tmp/dir/plot.png", uid, "image/png") == "file-abcdefghijkl.png"
    assert make_file_name("", None, uid, "text/csv; charset=utf-8") == "file-abcdefghijkl.csv"
    with pytest.raises(TypeError, match="file_name"):
        sanitize_file_name(b"x")  # type: ignore[arg-type]


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most 3 bytes a read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(3, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_read_block_and_read_all_on_short_reads() -> None:
    stream = _Trickle(b"0123456789")
    assert read_block(stream, 4) == b"0123"  # type: ignore[arg-type]
    assert read_block(stream, 100) == b"456789"  # type: ignore[arg-type]
    assert read_block(stream, 4) == b""  # type: ignore[arg-type]
    assert read_all(_Trickle(b"x" * 1000)) == b"x" * 1000  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: _validate.check_int("grace", -1, 0), ValueError, "grace must be at least 0"),
        (lambda: _validate.check_int("chunk_size", 513, 1, 512), ValueError, "at most 512"),
        (lambda: _validate.check_int("ttl", True, 1), TypeError, "ttl must be an int"),
        (lambda: _validate.check_positive_number("timeout", 0), ValueError, "timeout"),
        (lambda: _validate.check_positive_number("timeout", float("inf")), ValueError, "finite"),
        (lambda: _validate.check_positive_number("timeout", "1"), TypeError, "timeout"),
        (lambda: _validate.check_bool("copy_paths", 1), TypeError, "copy_paths must be a bool"),
        (lambda: _validate.check_str("prefix", "", non_empty=True), ValueError, "prefix"),
        (lambda: _validate.check_str("prefix", 3), TypeError, "prefix must be a str"),
    ],
)
def test_shared_argument_checks(call, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_bench_finds_chromium_like_the_browser_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.browser import chromium_paths

    monkeypatch.setenv("DASH_TEST_CHROMEPATH", "/opt/chrome/chrome")
    monkeypatch.setenv("DASH_TEST_CHROMEDRIVER", "/opt/chrome/chromedriver")
    assert chromium_paths() == ("/opt/chrome/chrome", "/opt/chrome/chromedriver")
    monkeypatch.delenv("DASH_TEST_CHROMEPATH")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="DASH_TEST_CHROMEPATH"):
        chromium_paths()


def test_docs_state_the_tested_python_range() -> None:
    """The classifiers are the tested range: the test command runs their oldest and newest.

    The README and Getting started state the supported range, Development the tested one.
    """
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = sorted(
        re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject),
        key=lambda v: int(v.split(".")[1]),
    )
    oldest, newest = declared[0], declared[-1]
    assert f'requires-python = ">={oldest}"' in pyproject
    readme = (ROOT / "README.md").read_text()
    install = (ROOT / "docs" / "index.md").read_text()
    development = (ROOT / "docs" / "development.md").read_text()
    assert f"Python {oldest} to {newest}" in readme
    assert f"Python {oldest} to {newest}." in install
    assert f"**{oldest} and {newest} are tested**" in development
