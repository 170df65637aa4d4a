"""The private parts of diskcache that ``CacheFile`` relies on, checked one by one.

``dash_file_cache/caches/file.py`` uses diskcache beyond its documented API:
``Cache._sql``, the ``Cache`` table's ``access_time`` column,
``diskcache.core.MODE_BINARY`` and ``UNKNOWN``, the row tuple returned by
``Disk.store``, ``Disk.filename``, ``reset("disk_...")`` reaching the ``Disk``,
and ``get(read=True)`` returning the content file opened by name. pyproject
bounds diskcache to the tested series; when that bound is raised, these tests
say which part changed.
"""

from __future__ import annotations

import io
import os
from importlib.metadata import requires
from pathlib import Path
from typing import Callable, Dict

import diskcache
import diskcache.core
import pytest
from packaging.requirements import Requirement

import dash_file_cache as dfc


def _mode_binary(tmp_path: Path) -> None:
    assert isinstance(getattr(diskcache.core, "MODE_BINARY", None), int)
    assert hasattr(diskcache.core, "UNKNOWN")


def _store_row(tmp_path: Path) -> None:
    disk = diskcache.Disk(str(tmp_path))
    disk.min_file_size = 0
    row = disk.store(io.BytesIO(b"12345"), True, key="k")
    assert isinstance(row, tuple) and len(row) == 4, row
    size, mode, filename, db_value = row
    assert (size, mode, db_value) == (5, diskcache.core.MODE_BINARY, None), row
    assert (tmp_path / filename).read_bytes() == b"12345"


def _filename(tmp_path: Path) -> None:
    filename, full_path = diskcache.Disk(str(tmp_path)).filename("k", b"v")
    assert isinstance(filename, str) and full_path == os.path.join(str(tmp_path), filename)


def _sql_lru_query(tmp_path: Path) -> None:
    cache = diskcache.Cache(str(tmp_path), eviction_policy="least-recently-used")
    cache.set("old", b"a")
    cache.set("new", b"b")
    cache.get("old")  # now the most recently used
    query = "SELECT key FROM Cache WHERE key != ? ORDER BY access_time LIMIT 1"
    assert cache._sql(query, ("none",)).fetchone()[0] == "new"
    cache.close()


def _reset_disk_setting(tmp_path: Path) -> None:
    cache = dfc.CacheFile(tmp_path / "c", chunk_size=1)
    cache.chunk_size = 3
    assert cache._cache.disk.chunk_bytes == 3 << 20


def _get_read_handle(tmp_path: Path) -> None:
    cache = diskcache.Cache(str(tmp_path))
    cache.set("k", io.BytesIO(b"x" * 100_000), read=True, tag="t")
    handle, tag = cache.get("k", read=True, tag=True)
    with handle:
        assert tag == "t" and handle.read() == b"x" * 100_000
        assert Path(handle.name).parent.parent.parent == tmp_path
    cache.close()


PARTS: Dict[str, Callable[[Path], None]] = {
    "diskcache.core.MODE_BINARY and UNKNOWN": _mode_binary,
    "Disk.store(value, read, key) row tuple (size, mode, filename, value)": _store_row,
    "Disk.filename(key, value) -> (filename, full_path)": _filename,
    "Cache._sql and the Cache table's access_time column": _sql_lru_query,
    "Cache.reset('disk_chunk_bytes') sets Disk.chunk_bytes": _reset_disk_setting,
    "Cache.get(read=True) gives the content file opened by name": _get_read_handle,
}


@pytest.mark.parametrize("part", list(PARTS))
def test_diskcache_private_part(part: str, tmp_path: Path) -> None:
    try:
        PARTS[part](tmp_path)
    except Exception as exc:  # any change, named
        pytest.fail(
            f"diskcache {diskcache.__version__} changed a private part CacheFile uses: {part} "
            f"({type(exc).__name__}: {exc}). Update dash_file_cache/caches/file.py.",
            pytrace=False,
        )


def test_installed_diskcache_is_within_the_declared_bound() -> None:
    """The bound in pyproject is the tested series: an upper bound, and what runs here."""
    declared = [Requirement(r) for r in requires("dash-file-cache") or []]
    (diskcache_req,) = [r for r in declared if r.name == "diskcache"]
    assert any(s.operator in ("<", "<=", "~=") for s in diskcache_req.specifier), diskcache_req
    assert diskcache_req.specifier.contains(diskcache.__version__), diskcache.__version__
