"""``CacheRedis`` is imported lazily (``redis`` is optional) yet defined once."""

from __future__ import annotations

import pytest

import dash_file_cache as dfc
from tests.support.processes import run_python


def test_lazy_cache_redis_one_definition() -> None:
    assert dfc.CacheRedis is dfc.caches.CacheRedis
    with pytest.raises(AttributeError, match="'dash_file_cache' has no attribute 'nope'"):
        dfc.nope  # noqa: B018
    with pytest.raises(AttributeError, match=r"'dash_file_cache\.caches' has no attribute 'nope'"):
        dfc.caches.nope  # noqa: B018


def test_importing_the_package_does_not_import_redis() -> None:
    code = "import sys, dash_file_cache; print('redis' in sys.modules)"
    assert run_python(code).stdout.strip() == "False"


def test_importing_the_package_does_not_import_boto3() -> None:
    code = "import sys, dash_file_cache; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    assert run_python(code).stdout.strip() == "False False"


def test_lazy_cache_s3_one_definition() -> None:
    pytest.importorskip("boto3", reason="boto3 is not installed (the test extra)")
    assert dfc.CacheS3 is dfc.caches.CacheS3
    assert dfc.CacheS3.__module__ == "dash_file_cache.caches.s3"
