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
