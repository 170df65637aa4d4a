"""CachedUpload in headless Chromium uploading into CacheS3 (the real radosgw).

The page of ``test_cached_upload_service.py`` on a ``CacheS3``: several files
at once (one of them larger than a part, sent in 1 MiB chunks, so small
segments are merged into parts) and parallel parts joined by tus
concatenation; each file byte-identical through its address and
``service.read``, and nothing left under the bucket's ``upload/`` prefix.

These tests are in the ``browser`` xdist group (one Chromium at a time), so
under xdist their worker starts a Ceph cluster of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import dash_file_cache as dfc
from tests.test_cache_s3 import bucket, credentials, keys_of, make_cache, s3

from .conftest import console_errors, wait_for
from .test_cached_upload_service import ServicePage, check_stored, write_random
from .upload_page import choose, read_json, status_is

if TYPE_CHECKING:
    from tests.support.radosgw import RadosGateway

pytest_plugins = ("tests.support.radosgw",)
pytestmark = pytest.mark.browser

__all__ = ["bucket", "credentials", "s3"]

MiB = 1 << 20


@pytest.fixture
def s3_cache(radosgw: RadosGateway, bucket: str, credentials: None) -> dfc.CacheS3:
    return make_cache(radosgw, bucket)


def test_several_files_into_s3(
    dash_duo: Any, s3_cache: dfc.CacheS3, s3: Any, bucket: str, tmp_path: Path
) -> None:
    sources = [
        write_random(tmp_path / "big.bin", 11 * MiB + 17),
        write_random(tmp_path / "small.bin", 300 * 1024),
    ]
    page = ServicePage(s3_cache, multiple=True, chunk_size=MiB, progress_interval=100)
    page.start(dash_duo)
    choose(dash_duo, sources)
    status = status_is(dash_duo, "done", 120)
    assert (status["n_files"], status["n_done"], status["n_errors"]) == (2, 2, 0)
    files = wait_for(lambda: read_json(dash_duo, "#files"), 10, "files")
    assert [(f["name"], f["size"]) for f in files] == [(p.name, p.stat().st_size) for p in sources]
    check_stored(page, dash_duo.server_url, files, sources)
    assert len(page.requests("PATCH")) >= 12
    assert page.items() == 2 and page.pending_uploads() == []
    assert [k for k in keys_of(s3, bucket) if "/upload/" in k] == []
    assert console_errors(dash_duo) == []


def test_parallel_parts_into_s3(dash_duo: Any, s3_cache: dfc.CacheS3, tmp_path: Path) -> None:
    data = write_random(tmp_path / "parts.bin", 6 * MiB + 3)
    page = ServicePage(s3_cache, parallel_uploads=2, chunk_size=MiB)
    page.start(dash_duo)
    choose(dash_duo, [data])
    files = wait_for(lambda: read_json(dash_duo, "#files"), 120, "files")
    assert [(f["name"], f["size"]) for f in files] == [("parts.bin", data.stat().st_size)]
    assert len(page.requests("POST")) == 3  # two partial uploads, then the final one
    check_stored(page, dash_duo.server_url, files, [data])
    assert page.items() == 1 and page.pending_uploads() == []
